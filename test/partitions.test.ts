/**
 * Network partitions between one client and Redis (issue 21), through the proxy of
 * test/helpers/partition.ts: the partitioned client's every connection (commands and
 * wake-up subscriber) goes through it, every other client connects directly. On
 * ioredis and node-redis 6, against one server and a Cluster.
 */
import test, { type ExecutionContext } from 'ava';
import { compiledScripts, shipped } from '../src/compiled-scripts.js';
import { type Lease, LeaseLostError, Mutex, type RedisClient } from '../src/index.js';
import { proxyCluster, sharedCluster } from './helpers/cluster.js';
import { queued } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { nodeRedis } from './helpers/node-redis.js';
import { type Partition, type Received, startProxy } from './helpers/partition.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';

/** The partitioned client's ttl: short, so that a grant expires unheard within a test. */
const ttl = 1_500;

type Setup = {
  /** The library's client through the proxy, the partition that cuts it off, and a client past it. */
  readonly partitioned: RedisClient;
  readonly partition: Partition;
  readonly direct: RedisClient;
  /** The live holder entries ('<token>|<fencing token>') of `key`, by the server's clock, evicting nothing. */
  holders(key: string): Promise<string[]>;
  /** How many connections are subscribed to `channel` (sharded in a Cluster). */
  subscribers(channel: string): Promise<number>;
};

// Read-only, unlike status(): W's own heartbeat is the first call to find its grant expired, as in the issue.
const liveHolders = `local t = redis.call('TIME')
return redis.call('ZRANGE', KEYS[1], '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)), '+inf', 'BYSCORE')`;

async function singleServer(connectVia: (url: string) => Promise<RedisClient>): Promise<Setup> {
  const url = await redisUrl();
  const proxy = await startProxy(Number(new URL(url).port));
  const admin = await connect(url);
  return {
    partitioned: await connectVia(proxy.url),
    partition: proxy,
    direct: await connectVia(url),
    holders: async (key) => (await admin.eval(liveHolders, 1, keysOf(key).tickets)) as string[],
    subscribers: async (channel) => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1],
  };
}

async function cluster(client: 'ioredis' | 'node-redis'): Promise<Setup> {
  const c = await sharedCluster();
  const proxied = await proxyCluster(c);
  const admin = c.connect();
  const nodes = await Promise.all(c.nodes.map((node) => connect(node.url)));
  const v6 = nodeRedis[0]!;
  return {
    partitioned: client === 'ioredis' ? proxied.connectIoredis() : await proxied.connectNodeRedis(v6),
    partition: proxied.partition,
    direct: client === 'ioredis' ? c.connect() : await v6.connectCluster(c.startupNodes),
    holders: async (key) => (await admin.eval(liveHolders, 1, keysOf(key).tickets)) as string[],
    async subscribers(channel) {
      // Only the node that serves the channel's slot counts it.
      const counts = await Promise.all(nodes.map((node) => node.call('PUBSUB', 'SHARDNUMSUB', channel)));
      return counts.reduce((sum: number, reply) => sum + Number((reply as [string, number])[1]), 0);
    },
  };
}

const setups: readonly { readonly name: string; start(): Promise<Setup> }[] = [
  { name: 'ioredis', start: () => singleServer((url) => connect(url)) },
  { name: 'node-redis 6', start: () => singleServer((url) => nodeRedis[0]!.connect(url)) },
  { name: 'ioredis Cluster', start: () => cluster('ioredis') },
  { name: 'node-redis 6 cluster', start: () => cluster('node-redis') },
];

const heartbeat = compiledScripts(shipped).heartbeat;
/** A waiter's heartbeat on the wire: EVALSHA of its script, or EVAL of its Lua after a NOSCRIPT. */
const isHeartbeat = ({ data }: Received) => data.includes(heartbeat.sha) || data.includes(heartbeat.lua.slice(0, 200));

/**
 * The scenario up to the heal: a waiter W (through the proxy, ttl 1,500 ms)
 * queued behind a holder H (direct). W is cut off, both ways, with a heartbeat in
 * flight; H releases, so Redis grants W and publishes the grant, which the proxy holds;
 * W's grant expires unheard. Returns W's pending acquire, with the partition still on.
 */
async function grantExpiredUnheard(t: ExecutionContext, s: Setup, key: string) {
  const holder = await new Mutex(s.direct, key).acquire();
  const isQueued = queued(key);
  const waiting = new Mutex(s.partitioned, key, { ttl }).acquire();
  const { token } = (await isQueued)[0]!;
  // A grant is pushed only to a live subscription: wait until Redis counts W's.
  const channel = keysOf(key).wake(token.slice(0, token.indexOf('.')));
  await eventually(
    () => s.subscribers(channel),
    (n) => n === 1,
  );
  // Cut off between heartbeats (one passes and is answered), so that the next one goes into the partition.
  const beat = await s.partition.next('up', isHeartbeat);
  await s.partition.next('down', ({ connection }) => connection === beat.connection);
  s.partition.hold();
  await s.partition.next('up', isHeartbeat);
  t.true(await holder.release());
  const mine = (entries: string[]) => entries.some((entry) => entry.startsWith(`${token}|`));
  t.true(mine(await s.holders(key)), 'Redis granted W while it was cut off');
  // The grant keeps W's deadline from its last heartbeat to arrive: it runs out within a ttl.
  // (A generous bound: it only says when to give up, on a machine busy enough to starve this process.)
  const left = await eventually(
    () => s.holders(key),
    (entries) => !mine(entries),
    { within: 4 * ttl, every: 20 },
  );
  t.false(mine(left), "W's grant expired in Redis");
  // Wrapped: an async function that returned the promise itself would wait for it.
  return { waiting };
}

/** Who holds and how many wait, from a status() read past the partition. */
async function inRedis(s: Setup, key: string) {
  const status = await new Mutex(s.direct, key).status();
  return {
    holders: status.holders.map((h) => ({ token: h.token, fencingToken: h.fencingToken })),
    waiting: status.waiting,
  };
}

const named = (lease: Lease) => ({ token: lease.token, fencingToken: lease.fencingToken });

/**
 * What the user sees once W has its lease: Redis holds it under its token and fencing
 * token; W's release finds it; then nothing waits (read after the release, which W's
 * connection carries behind anything W sent before), and a third party takes the mutex
 * at once (a ticket granted to nobody would hold it until its ttl ran out). In one
 * object, so that a failure shows every symptom at once.
 */
async function afterTheGrant(s: Setup, key: string, lease: Lease) {
  const { holders } = await inRedis(s, key);
  const released = await lease.release();
  const { waiting } = await inRedis(s, key);
  const third = await new Mutex(s.direct, key).tryAcquire();
  await third?.release();
  return { holders, released, waiting, thirdPartyAcquiredAtOnce: third !== null };
}

const expected = (lease: Lease) => ({
  holders: [named(lease)],
  released: true,
  waiting: 0,
  thirdPartyAcquiredAtOnce: true,
});

/** Heals the partition, and expects the permits free in Redis (the release, held till now, lands too). */
async function freeOnceHealed(t: ExecutionContext, s: Setup, key: string) {
  s.partition.heal();
  const status = await eventually(
    () => new Mutex(s.direct, key).status(),
    (st) => st.held === 0,
    { every: 10 },
  );
  t.is(status.held, 0, 'the permits are free in Redis once healed');
}

for (const setup of setups) {
  test(`${setup.name}: a waiter healed after its grant expired queues once; its lease is what Redis holds (mutex free)`, async (t) => {
    const s = await setup.start();
    const key = uniqueKey('healed-free');
    const { waiting } = await grantExpiredUnheard(t, s, key);
    s.partition.heal();
    const lease = await waiting;
    t.deepEqual(await afterTheGrant(s, key, lease), expected(lease));
  });

  test(`${setup.name}: a waiter healed after its grant expired queues once; the next release grants that ticket (mutex busy)`, async (t) => {
    const s = await setup.start();
    const key = uniqueKey('healed-busy');
    const { waiting } = await grantExpiredUnheard(t, s, key);
    // Another process takes the mutex W's grant left free, before W hears of anything.
    const other = await new Mutex(s.direct, key).acquire();
    s.partition.heal();
    // W finds its ticket gone and queues again, behind the other holder.
    const seen = await eventually(
      () => inRedis(s, key),
      (now) => now.waiting > 0,
      { within: 10_000, every: 10 },
    );
    t.is(seen.waiting, 1, 'W queued again once healed, and only once');
    t.true(await other.release());
    // Granted by that release: W's ticket, if W has only the one.
    const { holders: grantedByRelease } = await inRedis(s, key);
    const lease = await waiting;
    t.deepEqual(
      { grantedByRelease, ...(await afterTheGrant(s, key, lease)) },
      { grantedByRelease: [named(lease)], ...expected(lease) },
    );
  });

  test(`${setup.name}: a release during a partition settles by the lease's deadline, with false`, async (t) => {
    const s = await setup.start();
    const key = uniqueKey('release-cut');
    const lease = await new Mutex(s.partitioned, key, { ttl }).acquire();
    // From the cut on (a cluster's start does not count): a few ttls, where the deadline is one.
    t.timeout(4 * ttl, 'release() did not settle while the partition held: it waits for a reply that cannot come');
    s.partition.hold();
    // Settled with the partition still on: nothing is healed before it.
    t.false(await lease.release(), 'no reply came: the permits are free in Redis by its deadline in any case');
    await freeOnceHealed(t, s, key);
  });

  test(`${setup.name}: extend() and remaining() during a partition settle by the lease's deadline, the lease lost`, async (t) => {
    const s = await setup.start();
    const key = uniqueKey('extend-cut');
    const lease = await new Mutex(s.partitioned, key, { ttl }).acquire({ autoRefresh: false });
    t.timeout(4 * ttl, 'extend() or remaining() did not settle while the partition held');
    s.partition.hold();
    const [extended, read] = await Promise.allSettled([lease.extend(60_000), lease.remaining()]);
    for (const outcome of [extended, read]) {
      t.is(outcome.status, 'rejected');
      t.true(outcome.status === 'rejected' && outcome.reason instanceof LeaseLostError);
    }
    t.true(lease.signal.aborted);
    // Once healed, the held extension reaches Redis late: the lease it would have kept is given back.
    await freeOnceHealed(t, s, key);
  });

  test(`${setup.name}: use() whose fn finishes during a partition settles by the lease's deadline`, async (t) => {
    const s = await setup.start();
    const key = uniqueKey('use-cut');
    const result = await new Mutex(s.partitioned, key, { ttl }).use(async () => {
      t.timeout(
        4 * ttl,
        'use() did not settle while the partition held: its release waits for a reply that cannot come',
      );
      s.partition.hold();
      return 'done';
    });
    t.is(result, 'done', "fn's result: its work was done, and the permits are free in Redis by the deadline");
    await freeOnceHealed(t, s, key);
  });
}
