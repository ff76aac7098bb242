import { once } from 'node:events';
import test from 'ava';
import { Redis } from 'ioredis';
import {
  AcquireTimeoutError,
  ClientClosedError,
  ErrorCode,
  LeaseLostError,
  Mutex,
  type RedisClient,
  Semaphore,
} from '../src/index.js';
import { listenerFor } from '../src/wake.js';
import { clusterOk, type LocalCluster, sharedCluster, slotOf } from './helpers/cluster.js';
import { heldAndWaiting, queued } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { uniqueKey } from './helpers/redis.js';
import { settingsScenario } from './helpers/settings.js';

// A ttl far beyond any test: no heartbeat can be what finds a grant, only its message or a re-check.
const long = 600_000;

/** The master that serves `key`'s slot, as a plain connection. */
async function ownerOf(c: LocalCluster, key: string): Promise<{ redis: Redis; id: string; port: number }> {
  const [, port, id] = (await slotOf(c, key)).range[2]!;
  return { redis: new Redis(port), id, port };
}

test('in a cluster, waiters are granted in FIFO order through sharded pub/sub', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const key = uniqueKey('cluster-fifo');
  const mutex = new Mutex(client, key, { ttl: long });
  const holder = await mutex.acquire();
  const order: number[] = [];
  const waits: Promise<boolean>[] = [];
  for (let i = 0; i < 4; i++) {
    const isQueued = queued(key);
    waits.push(
      mutex.acquire().then(async (lease) => {
        order.push(i);
        return lease.release();
      }),
    );
    await isQueued;
  }
  const owner = await ownerOf(c, keysOf(key).tickets);
  // The SSUBSCRIBE went out with the first 'queued', on a shard connection that may still be opening.
  const channels = await eventually(
    async () => (await owner.redis.call('PUBSUB', 'SHARDCHANNELS', keysOf(key).pattern)) as string[],
    (list) => list.length > 0,
  );
  owner.redis.disconnect();
  t.is(channels.length, 1, 'one sharded inbox channel on the key’s own shard');
  await holder.release();
  await Promise.all(waits);
  t.deepEqual(order, [0, 1, 2, 3]);
});

test('in a cluster, a resize, pause and resume from one client steer the waiters of another, by sharded push', async (t) => {
  const c = await sharedCluster();
  await settingsScenario(t, await c.connectLibrary(), await c.connectLibrary(), uniqueKey('cluster-settings'));
});

test('in a cluster, several clients never hold more than the permits', async (t) => {
  const c = await sharedCluster();
  const key = uniqueKey('cluster-safety');
  const clients = await Promise.all([c.connectLibrary(), c.connectLibrary(), c.connectLibrary()]);
  // The test's own round trip inside the critical section.
  const check = c.connect();
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    clients.map(async (client) => {
      const sem = new Semaphore(client, key, { permits: 2, ttl: 5_000 });
      for (let i = 0; i < 15; i++) {
        await sem.use(async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await check.ping();
          inside--;
        });
      }
    }),
  );
  t.is(maxInside, 2);
  const status = await new Semaphore(clients[0]!, key, { permits: 2 }).status();
  t.is(status.held, 0);
});

test('many semaphores spread over every shard of the cluster', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const leases = await Promise.all(
    Array.from({ length: 30 }, (_, i) => new Mutex(client, uniqueKey(`spread-${i}`)).acquire()),
  );
  const perNode = await Promise.all(
    c.nodes.map(async (node) => {
      const r = new Redis(node.port);
      const n = (await r.keys(keysOf('spread-*').tickets)).length;
      r.disconnect();
      return n;
    }),
  );
  t.is(
    perNode.reduce((a, b) => a + b, 0),
    30,
  );
  t.true(
    perNode.every((n) => n > 0),
    `holders per node: ${perNode.join(', ')}`,
  );
  await Promise.all(leases.map((l) => l.release()));
});

test('a semaphore keeps working while its slot migrates to another master', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const key = uniqueKey('migrate');
  const mutex = new Mutex(client, key, { ttl: 1_500 });
  const { holder, waiting } = await heldAndWaiting(mutex);

  const from = await ownerOf(c, keysOf(key).tickets);
  const toNode = c.nodes.find((n) => n.port !== from.port)!;
  const to = new Redis(toNode.port);
  const toId = (await to.cluster('MYID')) as string;
  const slot = Number(await from.redis.cluster('KEYSLOT', keysOf(key).tickets));
  await to.cluster('SETSLOT', slot, 'IMPORTING', from.id);
  await from.redis.cluster('SETSLOT', slot, 'MIGRATING', toId);
  const keys = (await from.redis.cluster('GETKEYSINSLOT', slot, 100)) as string[];
  await from.redis.migrate('127.0.0.1', toNode.port, '', 0, 5_000, 'KEYS', ...keys);
  for (const node of c.nodes) {
    const r = new Redis(node.port);
    await r.cluster('SETSLOT', slot, 'NODE', toId);
    r.disconnect();
  }
  from.redis.disconnect();

  // The release follows MOVED to the new master; the waiter hears of it or re-checks.
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  t.deepEqual(
    (await mutex.status()).holders.map((h) => h.token),
    [lease.token],
  );
  t.is(await to.exists(keysOf(key).tickets), 1);
  to.disconnect();
  await lease.release();
});

test('in a cluster, a timed-out or aborted waiter leaves the queue, and tryAcquire never barges', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const key = uniqueKey('cluster-cancel');
  const sem = new Semaphore(client, key, { permits: 2 });
  const heavy = await sem.acquire({ weight: 2 });
  await t.throwsAsync(sem.acquire({ timeout: 100 }), { instanceOf: AcquireTimeoutError });
  const controller = new AbortController();
  const isQueued = queued(key);
  const aborted = sem.acquire({ signal: controller.signal });
  await isQueued;
  controller.abort(new Error('stop'));
  await t.throwsAsync(aborted, { message: 'stop' });
  t.is((await sem.status()).waiting, 0);
  const headQueued = queued(key);
  const head = sem.acquire({ weight: 2 });
  await headQueued;
  await heavy.release();
  const lease = await head;
  t.is(await sem.tryAcquire(), null);
  await lease.release();
});

test('in a cluster, fencing tokens rise, a vanished lease is reported lost, and idle keys are cleaned', async (t) => {
  const c = await sharedCluster();
  const admin = c.connect();
  const key = uniqueKey('cluster-fence');
  const mutex = new Mutex(await c.connectLibrary(), key, { ttl: 300 });
  const first = await mutex.acquire();
  await first.release();
  const second = await mutex.acquire();
  t.true(second.fencingToken > first.fencingToken);
  const lost = new Promise((resolve) => second.signal.addEventListener('abort', () => resolve(second.signal.reason)));
  // Both keys share the hash tag, so one multi-key DEL is legal in a cluster.
  const { fence, tickets, waiters, line } = keysOf(key);
  await admin.del(tickets);
  t.true((await lost) instanceof LeaseLostError);
  const third = await mutex.acquire();
  await third.release();
  t.is(await admin.exists(tickets, waiters, line), 0);
  t.is(await admin.exists(fence), 1);
});

// Serial: killing every pub/sub connection of a master must not disturb the other tests here.
test.serial('in a cluster, a killed sharded subscriber is resubscribed and the waiter re-checks at once', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const key = uniqueKey('cluster-pubsub-kill');
  // A ttl of ten minutes: only a pushed grant or the re-check after resubscribing can grant in time.
  const { holder, waiting } = await heldAndWaiting(new Mutex(client, key, { ttl: long }));
  const owner = await ownerOf(c, keysOf(key).tickets);
  const channel = keysOf(key).wake(listenerFor(client).tokens.inbox);
  const subscribers = async () => ((await owner.redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
  await eventually(subscribers, (n) => n === 1);
  await owner.redis.client('KILL', 'TYPE', 'pubsub');
  // Released while the subscriber is down: its message is lost.
  await holder.release();
  const lease = await waiting;
  t.true(lease.held);
  await lease.release();
  owner.redis.disconnect();
});

// Serial: flushing every master's scripts must not blur the other tests' command counts.
test.serial('in a cluster, SCRIPT FLUSH on every master mid-run: scripts reload and the queue goes on', async (t) => {
  const c = await sharedCluster();
  const client = await c.connectLibrary();
  const mutex = new Mutex(client, uniqueKey('cluster-flush'), { ttl: long });
  const { holder, waiting } = await heldAndWaiting(mutex);
  for (const node of c.nodes) {
    const r = new Redis(node.port);
    await r.script('FLUSH');
    r.disconnect();
  }
  await holder.release();
  const lease = await waiting;
  t.true(lease.held);
  await lease.release();
  t.is((await mutex.status()).held, 0);
});

test.serial(
  "in a cluster, the client's own connection to the key's master is killed: it reconnects and the queue goes on",
  async (t) => {
    const c = await sharedCluster();
    const client = await c.connectLibrary();
    const key = uniqueKey('cluster-client-kill');
    const { holder, waiting } = await heldAndWaiting(new Mutex(client, key, { ttl: long }));
    const owner = await ownerOf(c, keysOf(key).tickets);
    await owner.redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    owner.redis.disconnect();
    // node-redis fails a call written to the socket Redis has just closed (ioredis resends
    // it once reconnected): then the caller sends the release again, as a failed one asks.
    await holder.release().catch(() => holder.release());
    const lease = await waiting;
    t.true(lease.held);
    await lease.release();
  },
);

test.serial(
  "in a cluster, the key's master restarts empty: the holder learns it lost its lease, the waiter queues again and is granted",
  async (t) => {
    const c = await sharedCluster();
    const client = await c.connectLibrary();
    const key = uniqueKey('cluster-restart');
    // The holder's short ttl makes its next refresh come soon; the waiter's long one leaves it to a push or a re-check.
    const { holder, waiting } = await heldAndWaiting(new Mutex(client, key, { ttl: 900 }), {
      waiter: new Mutex(client, key, { ttl: long }),
    });
    const lost = new Promise((resolve) => holder.signal.addEventListener('abort', () => resolve(holder.signal.reason)));
    const owner = await ownerOf(c, keysOf(key).tickets);
    owner.redis.disconnect();
    await c.nodes.find((n) => n.port === owner.port)!.restart();
    // Pass or fail, the tests after this one find the restarted master serving again.
    t.teardown(() => clusterOk(owner.port));
    t.true((await lost) instanceof LeaseLostError);
    const lease = await waiting;
    t.true(lease.fencingToken > holder.fencingToken);
    await lease.release();
  },
);

test('in a cluster, bad input is refused before anything is sent, as with a plain client', (t) => {
  // An ioredis-shaped fake, never connected: nothing here depends on the client (node-redis.test.ts has a node-redis cluster refuse `replicas`).
  const client = {
    isCluster: true,
    defineCommand() {},
    duplicate() {},
    evalsha() {},
  } as unknown as import('ioredis').Cluster;
  t.throws(() => new Mutex(client, 'b}:{c'), { instanceOf: RangeError, message: /`key`/ });
  t.throws(() => new Semaphore(client, 'k', { permits: 0 }), { instanceOf: RangeError, message: /`permits`/ });
  t.throws(() => new Mutex(client, 'k', { replicas: 1 }), { instanceOf: TypeError, message: /Cluster/ });
});

test('in a cluster, stringNumbers: true works, and a closed client loses its leases and refuses new acquires', async (t) => {
  const c = await sharedCluster();
  // ioredis on purpose: stringNumbers is an ioredis option.
  const client = c.connect({ redisOptions: { stringNumbers: true } });
  const sem = new Semaphore(client, uniqueKey('cluster-close'), { permits: 2 });
  const lease = await sem.acquire({ weight: 2 });
  t.is((await sem.status()).held, 2);
  const aborted = new Promise((resolve) => lease.signal.addEventListener('abort', () => resolve(lease.signal.reason)));
  await client.quit();
  t.true((await aborted) instanceof LeaseLostError);
  await t.throwsAsync(sem.acquire(), { name: 'ClientClosedError' });
});

for (const closing of ['await quit()', 'disconnect()'] as const) {
  test(`in a cluster, right after ${closing}, every call meets a closed client: ClientClosedError`, async (t) => {
    const c = await sharedCluster();
    // ioredis and node-redis clusters both have quit() and disconnect() (deprecated in node-redis 5).
    const client = (await c.connectLibrary()) as RedisClient & { quit(): Promise<unknown>; disconnect(): unknown };
    const sem = new Semaphore(client, uniqueKey('cluster-closing'), { permits: 2, ttl: 60_000 });
    const lease = await sem.acquire({ autoRefresh: false });
    if (closing === 'await quit()') await client.quit();
    else void client.disconnect();
    t.throws(() => lease.startAutoRefresh(), { instanceOf: ClientClosedError });
    const calls = [
      lease.extend(1_000),
      lease.remaining(),
      lease.release(),
      sem.lease(lease.id),
      sem.status(),
      sem.acquire(),
      sem.tryAcquire(),
    ];
    const errors = await Promise.all(calls.map((call) => t.throwsAsync(call, { instanceOf: ClientClosedError })));
    t.deepEqual(
      errors.map((e) => e?.code),
      calls.map(() => ErrorCode.clientClosed),
    );
  });
}

test("in a cluster, quit() loses a refreshing lease as the client says 'disconnecting', before its nodes have quit", async (t) => {
  const c = await sharedCluster();
  // ioredis on purpose: 'disconnecting' is an ioredis Cluster event.
  const client = c.connect();
  const lease = await new Mutex(client, uniqueKey('cluster-disconnecting')).acquire();
  const disconnecting = once(client, 'disconnecting');
  const quit = client.quit();
  await disconnecting;
  t.is(client.status, 'disconnecting');
  t.false(lease.held);
  t.true(lease.signal.reason instanceof LeaseLostError);
  await quit;
});
