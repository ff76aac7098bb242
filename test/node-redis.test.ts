import test, { type ExecutionContext } from 'ava';
import type { Redis } from 'ioredis';
import * as v6 from 'redis';
import * as v4 from 'redis4';
import * as v5 from 'redis5';
import {
  AcquireTimeoutError,
  ClientClosedError,
  LeaseLostError,
  Mutex,
  NotReplicatedError,
  type RedisClient,
  Semaphore,
} from '../src/index.js';
import { sharedCluster, startCluster } from './helpers/cluster.js';
import { aborted, heldAndWaiting, queued, subscriberEvent } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { type NodeRedis, nodeRedis } from './helpers/node-redis.js';
import { Contender } from './helpers/processes.js';
import { connect, redisUrl, startRedisServer, uniqueKey } from './helpers/redis.js';
import { replicaLinked } from './helpers/replication.js';

// A ttl far beyond any test: no heartbeat can be what finds a grant, only its message.
const long = 600_000;

/** Starts `count` acquires on `sem` in this order, each queued before the next goes. */
async function inLine(sem: Semaphore, key: string, count: number, granted: string[]) {
  const waiting = [];
  for (let i = 0; i < count; i++) {
    const isQueued = queued(key);
    waiting.push(
      sem.acquire({ label: `w${i}` }).then((lease) => {
        granted.push(`w${i}`);
        return lease;
      }),
    );
    await isQueued;
  }
  return waiting;
}

const fifo = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const redis = await v.connect(await redisUrl());
  const key = uniqueKey('nr-fifo');
  const sem = new Semaphore(redis, key, { permits: 1, ttl: long });
  const holder = await sem.acquire();
  const granted: string[] = [];
  const waiting = await inLine(sem, key, 3, granted);
  for (const w of waiting) {
    if (w === waiting[0]) await holder.release();
    await (await w).release();
  }
  t.deepEqual(granted, ['w0', 'w1', 'w2']);
  t.is((await sem.status()).held, 0);
});

const pushed = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const redis = await v.connect(await redisUrl());
  const key = uniqueKey('nr-push');
  const mutex = new Mutex(redis, key, { ttl: long });
  const { holder, waiting } = await heldAndWaiting(mutex);
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
});

const leaving = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const redis = await v.connect(await redisUrl());
  const key = uniqueKey('nr-leave');
  const mutex = new Mutex(redis, key, { ttl: long });
  const holder = await mutex.acquire();
  await t.throwsAsync(mutex.acquire({ timeout: 50 }), { instanceOf: AcquireTimeoutError });
  const controller = new AbortController();
  const isQueued = queued(key);
  const waiting = mutex.acquire({ signal: controller.signal });
  await isQueued;
  controller.abort(new Error('changed my mind'));
  await t.throwsAsync(waiting, { message: 'changed my mind' });
  t.is(
    (
      await eventually(
        () => mutex.status(),
        (s) => s.waiting === 0,
      )
    ).waiting,
    0,
  );
  t.is(await mutex.tryAcquire(), null);
  await holder.release();
  const taken = await mutex.tryAcquire();
  t.truthy(taken);
  const s = await mutex.status();
  t.is(s.held, 1);
  t.is(s.holders[0]?.fencingToken, taken!.fencingToken);
  await taken!.release();
  t.is((await mutex.status()).held, 0);
});

const flushed = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const url = await redisUrl();
  const redis = await v.connect(url);
  const admin = await connect(url);
  const mutex = new Mutex(redis, uniqueKey('nr-flush'), { ttl: long });
  await (await mutex.acquire()).release();
  await admin.script('FLUSH');
  const lease = await mutex.acquire();
  t.is((await mutex.status()).holders[0]?.fencingToken, lease.fencingToken);
  await lease.release();
});

const resubscribed = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  // A server of its own: killing every pub/sub connection must not touch other tests.
  const server = await startRedisServer();
  const redis = await v.connect(server.url);
  const admin: Redis = await connect(server.url);
  const key = uniqueKey('nr-kill');
  const mutex = new Mutex(redis, key, { ttl: long });
  const { holder, waiting } = await heldAndWaiting(mutex);
  // Queued is reported before the subscription is confirmed: kill it once Redis has it.
  await eventually(
    async () => ((await admin.pubsub('CHANNELS', keysOf(key).wake('*'))) as string[]).length,
    (n) => n === 1,
  );
  const back = subscriberEvent('resubscribed');
  t.is(Number(await admin.client('KILL', 'TYPE', 'pubsub')), 1);
  await back;
  // Only the message can wake it now: the re-check found the lock still held.
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
});

type Closing = (client: {
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  disconnect(): Promise<unknown>;
}) => unknown;

const closing = test.macro(async (t: ExecutionContext, v: NodeRedis, close: Closing) => {
  const url = await redisUrl();
  const redis = await v.connect(url);
  const key = uniqueKey('nr-close');
  const sem = new Semaphore(redis, key, { permits: 1, ttl: long });
  const { holder, waiting } = await heldAndWaiting(sem);
  const lost = aborted(holder.signal);
  void close(redis as never);
  await t.throwsAsync(waiting, { instanceOf: ClientClosedError });
  t.true((await lost) instanceof LeaseLostError);
  await t.throwsAsync(sem.acquire(), { instanceOf: ClientClosedError });
});

const replicated = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const master = await startRedisServer();
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const r = await connect(replica.url);
  await replicaLinked(r);
  const redis = await v.connect(master.url);
  const key = uniqueKey('nr-wait');
  const lease = await new Mutex(redis, key, { ttl: long, replicas: 1 }).acquire();
  // Confirmed by WAIT: the replica has the grant.
  t.true((await r.exists(keysOf(key).fence, keysOf(key).tickets)) > 0);
  await lease.release();
  // Two never confirm: WAIT runs its whole timeout, long enough for the one replica's ack.
  const error = await t.throwsAsync(new Mutex(redis, key, { replicas: 2, replicaTimeout: 1_000 }).acquire(), {
    instanceOf: NotReplicatedError,
  });
  t.is(error?.acknowledged, 1);
});

const evictable = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
  const redis = await v.connect(server.url);
  const key = uniqueKey('nr-evict');
  const warned = new Promise<Error & { code?: string }>((resolve) => {
    const listener = (warning: Error) => {
      if (!warning.message.includes(`"${key}"`)) return;
      process.off('warning', listener);
      resolve(warning);
    };
    process.on('warning', listener);
  });
  const lease = await new Mutex(redis, key).acquire();
  const warning = await warned;
  t.is(warning.code, 'RFS_EVICTION_POLICY');
  t.regex(warning.message, /allkeys-lru/);
  await lease.release();
});

/**
 * What a client's reply mapping (v5 and later) may change: Buffers for strings, Maps
 * and Sets for RESP3's aggregates, strings for numbers. The library's calls must read
 * the same whatever the user chose for their own.
 */
function replyMappings(types: typeof v6.RESP_TYPES) {
  return {
    buffers: { [types.BLOB_STRING]: Buffer, [types.SIMPLE_STRING]: Buffer },
    everything: {
      [types.BLOB_STRING]: Buffer,
      [types.SIMPLE_STRING]: Buffer,
      [types.NUMBER]: String,
      [types.ARRAY]: Set,
      [types.MAP]: Map,
    },
  };
}

/** Everything a user does with a semaphore, on `redis`: each reply must be read right. */
async function wholeContract(t: ExecutionContext, redis: RedisClient, admin: Redis, key: string) {
  const sem = new Semaphore(redis, key, { permits: 1, ttl: long });
  const { holder, waiting } = await heldAndWaiting(sem);
  t.is(await sem.tryAcquire(), null);
  const seen = await sem.status();
  t.deepEqual([seen.held, seen.waiting, seen.holders[0]?.token, seen.permits], [1, 1, holder.token, 1]);
  const handle = await sem.lease(holder.id);
  t.true((await handle.extend(60_000)) >= 60_000);
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  // Every grant moved the fencing counter once, and no call failed after running.
  t.is(await admin.get(keysOf(key).fence), String(lease.fencingToken));
  t.true(await lease.release());
  const taken = await sem.tryAcquire();
  t.true(taken !== null && (await taken.release()));
}

/** An evicting policy is named right, and noeviction brings no warning, whatever the reply mapping. */
async function evictionRead(t: ExecutionContext, connectWith: (url: string) => Promise<RedisClient>) {
  const warnings: Error[] = [];
  const listener = (warning: Error) => warnings.push(warning);
  process.on('warning', listener);
  try {
    for (const policy of ['noeviction', 'allkeys-lru']) {
      const server = await startRedisServer(['--maxmemory-policy', policy]);
      const redis = await connectWith(server.url);
      const key = uniqueKey(`nr-evict-${policy}`);
      const sem = new Semaphore(redis, key, { permits: 1 });
      await (await sem.acquire()).release();
      // CONFIG GET went before the first acquire on the same connection: its reply is read by now.
      await sem.status();
      const mine = warnings.filter((w) => w.message.includes(`"${key}"`));
      t.deepEqual(
        mine.map((w) => w.message.match(/maxmemory-policy is "([^"]+)"/)?.[1]),
        policy === 'noeviction' ? [] : [policy],
      );
    }
  } finally {
    process.off('warning', listener);
  }
}

const mapped = test.macro(
  async (
    t: ExecutionContext,
    v: NodeRedis,
    types: typeof v6.RESP_TYPES,
    options: (m: ReturnType<typeof replyMappings>) => object,
  ) => {
    const url = await redisUrl();
    const redis = await v.connect(url, options(replyMappings(types)));
    await wholeContract(t, redis, await connect(url), uniqueKey('nr-mapped'));
    await evictionRead(t, (u) => v.connect(u, options(replyMappings(types))));
  },
);

for (const [v, types] of [
  [nodeRedis[0]!, v6.RESP_TYPES],
  [nodeRedis[1]!, v5.RESP_TYPES as typeof v6.RESP_TYPES],
] as const) {
  test(`${v.name}: a client whose typeMapping hands back Buffers works as any other`, mapped, v, types, (m) => ({
    commandOptions: { typeMapping: m.buffers },
  }));
  test(`${v.name}: over RESP3, a client that maps every reply type works as any other`, mapped, v, types, (m) => ({
    RESP: 3,
    commandOptions: { typeMapping: m.everything },
  }));
  test(`${v.name}: over RESP3 with the default mapping`, mapped, v, types, () => ({ RESP: 3 }));
}

test('node-redis v6: a client from withTypeMapping() works as any other', async (t) => {
  const url = await redisUrl();
  type Mappable = RedisClient & { withTypeMapping(mapping: object): RedisClient };
  const mapping = replyMappings(v6.RESP_TYPES).everything;
  const redis = ((await nodeRedis[0]!.connect(url, { RESP: 3 })) as unknown as Mappable).withTypeMapping(mapping);
  await wholeContract(t, redis, await connect(url), uniqueKey('nr-with-mapping'));
  await evictionRead(t, async (u) =>
    ((await nodeRedis[0]!.connect(u)) as unknown as Mappable).withTypeMapping(replyMappings(v6.RESP_TYPES).buffers),
  );
});

for (const v of nodeRedis) {
  test(`${v.name}: with replicas, WAIT confirms the grant or refuses it`, replicated, v);
  test(`${v.name}: an evicting maxmemory-policy is warned of`, evictable, v);
  test(`${v.name}: waiters are granted in the order they queued`, fifo, v);
  test(`${v.name}: a waiter is woken by the grant message`, pushed, v);
  test(`${v.name}: a timed-out or aborted waiter leaves the queue; tryAcquire and status`, leaving, v);
  test(`${v.name}: SCRIPT FLUSH, then acquire still works`, flushed, v);
  // Serial: another test's subscriber events must not stand in for this one's.
  test.serial(`${v.name}: a killed pub/sub connection is resubscribed and the waiter granted`, resubscribed, v);
  test(`${v.name}: quit() rejects a waiting acquire and loses a refreshing lease`, closing, v, (c) => c.quit!());
  test(`${v.name}: disconnect() rejects a waiting acquire and loses a refreshing lease`, closing, v, (c) =>
    c.disconnect(),
  );
}

// close() and destroy() came with v5.
for (const v of nodeRedis.slice(0, 2)) {
  test(`${v.name}: close() rejects a waiting acquire and loses a refreshing lease`, closing, v, (c) => c.close!());
  test(`${v.name}: destroy() rejects a waiting acquire and loses a refreshing lease`, closing, v, (c) => c.destroy!());
}

test('node-redis clients are accepted where the types say so; anything else is refused by name', async (t) => {
  const redis = await nodeRedis[0]!.connect(await redisUrl());
  const asType: RedisClient = redis;
  t.truthy(new Mutex(asType, uniqueKey('nr-type')));
  t.throws(() => new Mutex({ evalSha() {} } as never, 'k'), { instanceOf: TypeError, message: /ioredis.*node-redis/ });
  const legacy = v4.createClient({ legacyMode: true });
  t.throws(() => new Mutex(legacy as never, 'k'), { instanceOf: TypeError, message: /node-redis/ });
  // A sentinel (v5 and later) is accepted; WAIT cannot be sent on the connection of the scripts.
  for (const v of nodeRedis) {
    if (!v.version.hasSentinel) continue;
    const sentinel = (await v.version.createSentinel('m', [{ host: '127.0.0.1', port: 1 }])) as unknown as RedisClient;
    t.truthy(new Mutex(sentinel, 'k'), v.name);
    t.throws(
      () => new Mutex(sentinel, 'k', { replicas: 1 }),
      { instanceOf: TypeError, message: /node-redis sentinel/ },
      v.name,
    );
  }
});

test('cross-process: node-redis here and a contender process there take turns on one key', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('nr-cross');
  const mutex = new Mutex(await nodeRedis[0]!.connect(url), key, { ttl: long });
  const child = await Contender.start(url);
  const mine = await mutex.acquire();
  child.send({ op: 'acquire', id: 'c', key, permits: 1, ttl: long });
  await child.event('queued', 'c');
  const isQueued = queued(key);
  const again = mutex.acquire();
  await isQueued;
  await mine.release();
  await child.event('granted', 'c');
  child.send({ op: 'release', id: 'c' });
  const lease = await again;
  t.true(lease.fencingToken > mine.fencingToken + 1);
  await lease.release();
  await child.kill();
});

const clusterFifo = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const c = await sharedCluster();
  const client = (await v.connectCluster(c.startupNodes)) as unknown as RedisClient;
  const key = uniqueKey('nr-cluster');
  const sem = new Semaphore(client, key, { permits: 1, ttl: long });
  const holder = await sem.acquire();
  const granted: string[] = [];
  const waiting = await inLine(sem, key, 3, granted);
  await holder.release();
  for (const w of waiting) await (await w).release();
  t.deepEqual(granted, ['w0', 'w1', 'w2']);
  t.is((await sem.status()).held, 0);
  t.throws(() => new Mutex(client, 'k', { replicas: 1 }), { instanceOf: TypeError, message: /Cluster/ });
});

const clusterClosed = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  const c = await sharedCluster();
  const client = (await v.connectCluster(c.startupNodes)) as unknown as RedisClient & {
    disconnect(): Promise<unknown>;
  };
  const key = uniqueKey('nr-cluster-close');
  const sem = new Semaphore(client, key, { permits: 1, ttl: long });
  const { holder, waiting } = await heldAndWaiting(sem);
  const lost = aborted(holder.signal);
  await client.disconnect();
  // A v4 cluster says nothing when closed: it is noticed within a second.
  await t.throwsAsync(waiting, { instanceOf: ClientClosedError });
  t.true((await lost) instanceof LeaseLostError);
  await t.throwsAsync(sem.acquire(), { instanceOf: ClientClosedError });
});

const clusterKilled = test.macro(async (t: ExecutionContext, v: NodeRedis) => {
  // A cluster of its own: killing every pub/sub connection must not touch other tests.
  const c = await startCluster();
  const client = (await v.connectCluster(c.startupNodes)) as unknown as RedisClient;
  const key = uniqueKey('nr-cluster-kill');
  const mutex = new Mutex(client, key, { ttl: long });
  const { holder, waiting } = await heldAndWaiting(mutex);
  const admins = await Promise.all(c.nodes.map((n) => connect(n.url)));
  const subscribed = async () => {
    let n = 0;
    for (const admin of admins)
      n += ((await admin.call('PUBSUB', 'SHARDCHANNELS', keysOf(key).wake('*'))) as string[]).length;
    return n;
  };
  await eventually(subscribed, (n) => n === 1);
  const back = subscriberEvent('resubscribed');
  let killed = 0;
  for (const admin of admins) killed += Number(await admin.client('KILL', 'TYPE', 'pubsub'));
  t.is(killed, 1);
  await back;
  // Only the message can wake it now: the re-check found the lock still held.
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
});

for (const v of nodeRedis) {
  // Serial: another test's subscriber events must not stand in for this one's.
  test.serial(
    `${v.name}: in a cluster, killed sharded pub/sub connections are restored and the waiter granted`,
    clusterKilled,
    v,
  );
  test(`${v.name}: a cluster grants in FIFO order through sharded pub/sub`, clusterFifo, v);
  test(`${v.name}: a closed cluster rejects a waiting acquire and loses a refreshing lease`, clusterClosed, v);
}
