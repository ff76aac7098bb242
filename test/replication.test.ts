import test from 'ava';
import { Redis } from 'ioredis';
import { Mutex, NotReplicatedError, type RedisClient } from '../src/index.js';
import { keysOf } from './helpers/keys.js';
import { connect, connectLibrary, type RedisServer, startRedisServer, uniqueKey } from './helpers/redis.js';
import { replicaLinked } from './helpers/replication.js';

/** A master and one replica of it, in sync: `r` for the test's own commands, `libM` and `libR` for the library. */
async function pair(): Promise<{
  master: RedisServer;
  replica: RedisServer;
  r: Redis;
  libM: RedisClient;
  libR: RedisClient;
}> {
  const master = await startRedisServer();
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const r = await connect(replica.url);
  await replicaLinked(r);
  return { master, replica, r, libM: await connectLibrary(master.url), libR: await connectLibrary(replica.url) };
}

/** WAIT on the library's own connection: it counts the replicas that have that connection's writes. */
async function waitOn(client: RedisClient, replicas: number, timeoutMs: number): Promise<number> {
  if (client instanceof Redis) return client.wait(replicas, timeoutMs);
  const nodeRedis = client as { sendCommand(args: string[]): Promise<unknown> };
  return Number(await nodeRedis.sendCommand(['WAIT', String(replicas), String(timeoutMs)]));
}

test('with replicas: 1, a grant survives the master failing over to its replica', async (t) => {
  const { master, r, libM, libR } = await pair();
  const key = uniqueKey('failover');
  const lease = await new Mutex(libM, key, { ttl: 30_000, replicas: 1 }).acquire();
  await master.stop();
  await r.replicaof('NO', 'ONE');
  const status = await new Mutex(libR, key).status();
  t.deepEqual(
    status.holders.map((h) => [h.token, h.fencingToken]),
    [[lease.token, lease.fencingToken]],
  );
  t.is(await new Mutex(libR, key).tryAcquire(), null, 'the promoted replica still refuses a second holder');
});

test('with replicas: 1 and a stalled replica, acquire fails clearly and gives the permit back', async (t) => {
  const { libM, replica } = await pair();
  const key = uniqueKey('stalled');
  replica.pause();
  const mutex = new Mutex(libM, key, { ttl: 30_000, replicas: 1, replicaTimeout: 200 });
  const error = await t.throwsAsync(mutex.acquire(), { instanceOf: NotReplicatedError });
  replica.resume();
  t.is(error?.code, 'ERR_SEMAPHORE_NOT_REPLICATED');
  t.is(error?.acknowledged, 0);
  t.is((await mutex.status()).held, 0);
});

test('without replicas, a grant is acknowledged before any replica has it', async (t) => {
  const { libM, replica, r } = await pair();
  const key = uniqueKey('async');
  replica.pause();
  // Granted while the replica cannot have applied it: a failover now would lose it.
  const lease = await new Mutex(libM, key, { ttl: 30_000 }).acquire();
  t.true(lease.held);
  t.is(await waitOn(libM, 1, 50), 0, 'no replica has the grant yet');
  replica.resume();
  t.is(await waitOn(libM, 1, 5_000), 1);
  t.is(await r.exists(keysOf(key).tickets), 1);
  await lease.release();
});

test('replicas with a Cluster client, or a bad value, is refused up front', (t) => {
  // An ioredis-shaped fake, never connected (node-redis.test.ts has a real node-redis cluster refuse `replicas`).
  const fakeCluster = { isCluster: true, defineCommand() {}, duplicate() {}, evalsha() {} };
  t.throws(() => new Mutex(fakeCluster as never, 'k', { replicas: 1 }), { instanceOf: TypeError, message: /Cluster/ });
  t.throws(() => new Mutex(fakeCluster as never, 'k', { replicas: -1 }), {
    instanceOf: RangeError,
    message: /`replicas`.*-1/,
  });
  t.throws(() => new Mutex(fakeCluster as never, 'k', { replicaTimeout: 0 }), {
    instanceOf: RangeError,
    message: /`replicaTimeout`.*0/,
  });
});

test('a replica promoted while the old master still grants: lost without replicas, refused with it', async (t) => {
  const { r, libM, libR } = await pair();
  // The failover happens first: the replica leaves and takes over, the old master lives on.
  await r.replicaof('NO', 'ONE');
  const plain = uniqueKey('split-plain');
  const lease = await new Mutex(libM, plain, { ttl: 30_000 }).acquire();
  const second = await new Mutex(libR, plain, { ttl: 30_000 }).tryAcquire();
  t.truthy(second, 'the new master never saw the grant: a second holder gets in');
  t.true(lease.held);
  const guarded = new Mutex(libM, uniqueKey('split-guarded'), { ttl: 30_000, replicas: 1, replicaTimeout: 200 });
  await t.throwsAsync(guarded.acquire(), { instanceOf: NotReplicatedError });
  await Promise.all([lease.release(), second?.release()]);
});
