/**
 * A client's own `keyPrefix` (ioredis 5 and 6, node-redis 6): Redis sees it before
 * every key the library names, the scripts publish wake-ups under it, and the library
 * listens where they publish. A semaphore is named by what Redis sees: a prefixed
 * client and an unprefixed one whose `prefix` spells the same names share it, its
 * leases and its wake-ups.
 */
import test from 'ava';
import type { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { Mutex, type RedisClient, Semaphore } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { listenerFor } from '../src/wake.js';
import { type LocalCluster, sharedCluster } from './helpers/cluster.js';
import { heldAndWaiting } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';

// A ttl far beyond any test: no heartbeat can be what finds a grant, only its message.
const long = 600_000;
const keyPrefix = 'app1:';

const open: { destroy(): void }[] = [];
test.after.always(() => {
  for (const client of open) client.destroy();
});

async function nodeRedis(url: string, options: { keyPrefix?: string } = {}): Promise<RedisClient> {
  const client = createClient({ url, ...options });
  client.on('error', () => {});
  await client.connect();
  open.push(client);
  return client as unknown as RedisClient;
}

/** The inbox channel `client`'s waiters on `key` listen on, as Redis names it. */
function inbox(client: RedisClient, key: string, prefix = 'rfs', clientPrefix = keyPrefix): string {
  return keyspace(prefix, key, clientPrefix).channelPrefix + listenerFor(client).tokens.inbox;
}

/**
 * `waiting` (on `waiterClient`) is queued behind `holder`: once Redis shows the waiter's
 * subscription on `channel` (the name the scripts publish to), the holder releases, and
 * with a ttl of ten minutes only the grant message can wake the waiter.
 */
async function handedOver(
  t: import('ava').ExecutionContext,
  subscribers: () => Promise<number>,
  holderMutex: Mutex,
  waiterMutex: Mutex,
) {
  const { holder, waiting } = await heldAndWaiting(holderMutex, { waiter: waiterMutex });
  t.is(await eventually(subscribers, (n) => n === 1), 1, 'the waiter listens where the scripts publish');
  const seen = await waiterMutex.status();
  t.deepEqual(
    [seen.held, seen.waiting, seen.holders[0]?.token],
    [1, 1, holder.token],
    'both clients see one semaphore',
  );
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
}

const prefixedClients: [string, (url: string) => Promise<RedisClient>][] = [
  ['ioredis', (url) => connect(url, { keyPrefix })],
  ['node-redis 6', (url) => nodeRedis(url, { keyPrefix })],
];

for (const [name, make] of prefixedClients) {
  test(`${name} keyPrefix: the keys live under it, and a waiter is woken by the grant message`, async (t) => {
    const url = await redisUrl();
    const admin = await connect(url);
    const [a, b] = [await make(url), await make(url)];
    const key = uniqueKey('kp');
    const subscribers = async () => Number((await admin.pubsub('NUMSUB', inbox(b, key)))[1]);
    await handedOver(t, subscribers, new Mutex(a, key, { ttl: long }), new Mutex(b, key, { ttl: long }));
    const names = await admin.keys(`*{${key}}*`);
    t.true(names.length > 0 && names.every((n) => n.startsWith(`${keyPrefix}rfs:{${key}}:`)), names.join());
  });
}

test('a prefixed client and an unprefixed one whose prefix spells the same names share one semaphore and wake each other', async (t) => {
  const url = await redisUrl();
  const admin = await connect(url);
  const prefixed = await connect(url, { keyPrefix });
  const plain = await connect(url);
  const plainNodeRedis = await nodeRedis(url);
  const prefixedNodeRedis = await nodeRedis(url, { keyPrefix });
  const key = uniqueKey('kp-mixed');
  const numsub = (client: RedisClient, prefix: string, clientPrefix: string) => async () =>
    Number((await admin.pubsub('NUMSUB', inbox(client, key, prefix, clientPrefix)))[1]);
  const onPrefixed = new Mutex(prefixed, key, { ttl: long });
  const onPlain = new Mutex(plain, key, { ttl: long, prefix: 'app1:rfs' });
  await handedOver(t, numsub(plain, 'app1:rfs', ''), onPrefixed, onPlain);
  await handedOver(t, numsub(prefixed, 'rfs', keyPrefix), onPlain, onPrefixed);
  // And across clients: node-redis, either way, with ioredis.
  const onNodeRedis = new Mutex(plainNodeRedis, key, { ttl: long, prefix: 'app1:rfs' });
  await handedOver(t, numsub(plainNodeRedis, 'app1:rfs', ''), onPrefixed, onNodeRedis);
  const onPrefixedNodeRedis = new Mutex(prefixedNodeRedis, key, { ttl: long });
  await handedOver(t, numsub(prefixed, 'rfs', keyPrefix), onPrefixedNodeRedis, onPrefixed);
});

test('a lease id names the keys Redis sees: it is taken over from a client with or without keyPrefix, and refused where it names others', async (t) => {
  const url = await redisUrl();
  const prefixed = await connect(url, { keyPrefix });
  const plain = await connect(url);
  const key = uniqueKey('kp-lease');
  const lease = await new Semaphore(prefixed, key, { permits: 2 }).acquire({ autoRefresh: false });
  // The same names from an unprefixed client: the lease is found and released there.
  const adopted = await new Semaphore(plain, key, { permits: 2, prefix: 'app1:rfs' }).lease(lease.id);
  t.is(adopted.fencingToken, lease.fencingToken);
  t.true((await adopted.extend(60_000)) >= 60_000);
  // Other names: refused before anything is sent, saying what each side names.
  const error = await t.throwsAsync(new Semaphore(plain, key, { permits: 2 }).lease(lease.id), {
    instanceOf: RangeError,
  });
  t.regex(error?.message ?? '', /prefix "rfs"\), got one on ".*" \(prefix "app1:rfs" as Redis sees it\)/);
  // An unprefixed client's lease, taken over by a prefixed one whose names are the same.
  const other = await new Semaphore(plain, key, { permits: 2, prefix: 'app1:rfs' }).acquire({ autoRefresh: false });
  const back = await new Semaphore(prefixed, key, { permits: 2 }).lease(other.id);
  t.true(await back.release());
  t.true(await adopted.release());
  t.deepEqual(await new Semaphore(prefixed, key, { permits: 2 }).status().then((s) => s.held), 0);
});

test('a keyPrefix with a hash tag of its own ({app1}:): leases hand over, and the id of one is taken over through the same keyPrefix', async (t) => {
  const url = await redisUrl();
  const admin = await connect(url);
  const tagged = '{app1}:';
  const [a, b] = [await connect(url, { keyPrefix: tagged }), await connect(url, { keyPrefix: tagged })];
  const key = uniqueKey('kp-tagged');
  const subscribers = async () => Number((await admin.pubsub('NUMSUB', inbox(b, key, 'rfs', tagged)))[1]);
  await handedOver(t, subscribers, new Mutex(a, key, { ttl: long }), new Mutex(b, key, { ttl: long }));
  const lease = await new Mutex(a, key).acquire({ autoRefresh: false });
  const handle = await new Mutex(b, key).lease(lease.id);
  t.true(await handle.release());
  t.deepEqual(await admin.keys(`*{${key}}*`), [`${tagged}rfs:{${key}}:fence`]);
});

async function shardSubscribers(c: LocalCluster, channel: string): Promise<number> {
  let n = 0;
  for (const node of c.nodes) {
    const admin = await connect(node.url);
    n += Number(((await admin.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);
    admin.disconnect();
  }
  return n;
}

const clusterClients: [string, (c: LocalCluster) => Promise<RedisClient>][] = [
  ['ioredis Cluster with keyPrefix', async (c) => c.connect({ keyPrefix }) as Cluster],
  ['ioredis Cluster with redisOptions.keyPrefix', async (c) => c.connect({ redisOptions: { keyPrefix } }) as Cluster],
  [
    'node-redis 6 cluster with keyPrefix',
    async (c) => {
      const client = createCluster({
        rootNodes: c.startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
        keyPrefix,
      });
      client.on('error', () => {});
      await client.connect();
      open.push(client);
      return client as unknown as RedisClient;
    },
  ],
];

for (const [name, make] of clusterClients) {
  test(`${name}: the keys live under it, and a waiter is woken by the sharded grant message`, async (t) => {
    const c = await sharedCluster();
    const [a, b] = [await make(c), await make(c)];
    const key = uniqueKey('kp-cluster');
    await handedOver(
      t,
      () => shardSubscribers(c, inbox(b, key)),
      new Mutex(a, key, { ttl: long }),
      new Mutex(b, key, { ttl: long }),
    );
    const admin = c.connect();
    t.is(await admin.exists(keysOf(key).fence), 0);
    t.is(await (admin as unknown as Redis).exists(`${keyPrefix}rfs:{${key}}:fence`), 1);
  });
}
