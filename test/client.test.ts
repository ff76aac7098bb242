/**
 * The client side with ordinary ioredis options and connection trouble: no wake-up
 * lost, no permit held by nobody, and an honest end. The waiters here use a ttl of ten
 * minutes, so their heartbeat (every ttl / 3) can never be what grants them within a
 * test: only a pushed wake-up, or a re-check the library makes on purpose, can. Tests
 * of ioredis's own options and events keep ioredis; the others run on RFS_CLIENT.
 */
import { once } from 'node:events';
import test from 'ava';
import { ClientClosedError, LeaseLostError, Mutex, type RedisClient, Semaphore } from '../src/index.js';
import { listenerFor } from '../src/wake.js';
import { eventually } from './helpers/eventually.js';
import { heldAndWaiting, subscriberEvent } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { Contender } from './helpers/processes.js';
import { connect, connectLibrary, redisUrl, startRedisServer, uniqueKey } from './helpers/redis.js';

const long = 600_000;

/** What ioredis and node-redis clients both have: PING, and QUIT (deprecated in node-redis 5 for close()). */
const commands = (client: RedisClient) =>
  client as RedisClient & { ping(): Promise<unknown>; quit(): Promise<unknown> };

/** Another client (on `url`) holds the key while `redis` queues: the holder's lease and the waiter. */
async function queuedBehind(redis: RedisClient, key: string, url?: string) {
  const other = await connectLibrary(url);
  return heldAndWaiting(new Mutex(other, key, { ttl: long }), { waiter: new Mutex(redis, key, { ttl: long }) });
}

test("a subscription's linger cannot end while an acquire is in flight: its grant is still pushed", async (t) => {
  const server = await startRedisServer(['--enable-debug-command', 'yes']);
  const redis = await connectLibrary(server.url);
  const admin = await connect(server.url);
  const other = await connect(server.url);
  listenerFor(redis).lingerMs = 100;
  const key = uniqueKey('linger');
  const mutex = new Mutex(redis, key, { ttl: long });
  // A waiter subscribes, is granted, and leaves the channel lingering for 100 ms.
  const first = await queuedBehind(redis, key, server.url);
  await first.holder.release();
  const a = await first.waiting;
  // Redis stalls; meanwhile a new acquire goes out and the linger runs out under it.
  const stalled = admin.call('DEBUG', 'SLEEP', '0.3');
  const b = mutex.acquire();
  // A's release reaches Redis right behind B's acquire: B is granted, by message only.
  const released = a.release();
  await stalled;
  await released;
  const lease = await b;
  t.true(lease.held);
  await lease.release();
  t.is(other.status, 'ready');
});

test('a channel an acquire attached to outlives its linger; let go, it is unsubscribed', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const listener = listenerFor(redis);
  listener.lingerMs = 20;
  const channel = keysOf(uniqueKey('attach')).wake(listener.tokens.inbox);
  const subscribers = async () => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1];
  await listener.subscribe(channel);
  listener.detach(channel);
  // The linger is running: an acquire going out now takes hold of the subscription.
  t.like(listener.attach(channel), { live: true });
  // No event says a timer did not fire: wait well past it, then look at Redis itself.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(await subscribers(), 1);
  listener.detach(channel);
  t.is(await eventually(subscribers, (n) => n === 0), 0);
});

test('enableOfflineQueue: false on the client: the very first waiter still gets its pushed wake-up', async (t) => {
  // ioredis on purpose: enableOfflineQueue is an ioredis option.
  const redis = await connect(undefined, { enableOfflineQueue: false });
  await once(redis, 'ready');
  const key = uniqueKey('no-offline-queue');
  const { holder, waiting } = await queuedBehind(redis, key);
  await holder.release();
  t.true((await waiting).held);
  await (await waiting).release();
});

// Serial: killing every pub/sub connection of the Redis must not disturb the other tests here.
test.serial(
  'the subscriber connection ends for good: it is replaced, reported, and the waiter re-checks',
  async (t) => {
    // No reconnecting: a killed subscriber ends for good, as when a retry strategy gives up.
    // ioredis on purpose: its retryStrategy, which the subscriber (a duplicate()) inherits.
    const redis = await connect(undefined, { retryStrategy: () => null });
    const admin = await connect();
    const key = uniqueKey('sub-ends');
    const { holder, waiting } = await queuedBehind(redis, key);
    // Once the waiter's subscription is in place, its connection is killed.
    const channel = keysOf(key).wake(listenerFor(redis).tokens.inbox);
    await eventually(
      async () => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1],
      (n) => n === 1,
    );
    const replaced = subscriberEvent('replaced');
    const resubscribed = subscriberEvent('resubscribed');
    await admin.client('KILL', 'TYPE', 'pubsub');
    t.is((await replaced).event, 'replaced');
    await resubscribed;
    // Published once the new subscriber listens: heard at once.
    await holder.release();
    const lease = await waiting;
    t.true(lease.held);
    await lease.release();
  },
);

test('SCRIPT FLUSH, then an abort within the round trip: the cancel never overtakes the resent acquire', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('flush-abort');
  const mutex = new Mutex(redis, key, { ttl: long });
  const holder = await new Mutex(await connectLibrary(), key, { ttl: long }).acquire();
  t.is(await mutex.tryAcquire(), null);
  await admin.script('FLUSH');
  const controller = new AbortController();
  const pending = mutex.acquire({ signal: controller.signal });
  // The acquire is on the wire (as EVALSHA, about to come back NOSCRIPT and be resent as
  // EVAL): give up now, so that the first cancel (the release script's first use, sent
  // whole) goes out before that resend.
  controller.abort(new Error('changed my mind'));
  await t.throwsAsync(pending, { message: 'changed my mind' });
  // Replies come back in order on the connection: the first PING's reply follows the
  // NOSCRIPT that made the library resend the acquire, the second follows the resend, the
  // third the cancel the library sends once the acquire is answered.
  for (let i = 0; i < 3; i++) await commands(redis).ping();
  const status = await mutex.status();
  t.is(status.waiting, 0);
  t.deepEqual(
    status.holders.map((h) => h.token),
    [holder.token],
  );
  await holder.release();
});

test('a release that fails while the connection is down is sent again: by the library, and on the next call', async (t) => {
  // ioredis on purpose: without its offline queue, a call fails while the connection is down.
  const redis = await connect(undefined, { enableOfflineQueue: false });
  const admin = await connect();
  await once(redis, 'ready');
  const sem = new Semaphore(redis, uniqueKey('release-retry'), { permits: 2, ttl: 10_000 });
  const [a, b] = [await sem.acquire(), await sem.acquire()];
  const closed = once(redis, 'close');
  await admin.client('KILL', 'ID', String(await redis.client('ID')));
  await closed;
  // Nothing can be sent now: both releases fail, and say so.
  await t.throwsAsync(a.release());
  await t.throwsAsync(b.release());
  await once(redis, 'ready');
  // `b` is released again by its caller, at once...
  await b.release();
  // ...and `a` by the library on its own, long before its ttl (10 s) would free it.
  const status = await eventually(
    () => sem.status(),
    (s) => s.held === 0,
    { within: 5_000 },
  );
  t.is(status.held, 0);
  await a.release();
});

test('stringNumbers: true on the client: acquire, tryAcquire, status and release all work', async (t) => {
  // ioredis on purpose: stringNumbers is an ioredis option.
  const redis = await connect(undefined, { stringNumbers: true });
  const sem = new Semaphore(redis, uniqueKey('string-numbers'), { permits: 2 });
  const lease = await sem.acquire({ weight: 2 });
  t.is(typeof lease.fencingToken, 'number');
  t.is(await sem.tryAcquire(), null);
  const status = await sem.status();
  t.is(status.held, 2);
  t.deepEqual(
    status.holders.map((h) => h.weight),
    [2],
  );
  await lease.release();
  t.is((await sem.status()).held, 0);
});

test('the client is closed while a lease is held: the lease is lost at once, and nothing keeps the process alive', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('quit-holding');
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'h', key, permits: 1, ttl: long });
  await child.event('granted', 'h');
  child.send({ op: 'quit', release: false });
  const lost = await child.event('lost', 'h');
  t.is(lost.name, 'LeaseLostError');
  // The lease would refresh every 200 s: the process must end well before that.
  const exited = await Promise.race([child.exited(), new Promise((r) => setTimeout(() => r('still running'), 5_000))]);
  t.is(exited, 0);
});

test('a lease in this process: closing the client aborts its signal with LeaseLostError and it is no longer held', async (t) => {
  const redis = await connectLibrary();
  const lease = await new Mutex(redis, uniqueKey('quit-lease'), { ttl: long }).acquire();
  const aborted = once(lease.signal, 'abort');
  await commands(redis).quit();
  await aborted;
  t.true(lease.signal.reason instanceof LeaseLostError);
  t.regex((lease.signal.reason as Error).message, /client was closed/);
  t.false(lease.held);
  await lease.release();
});

test('acquire, tryAcquire and status on a closed client reject with ClientClosedError, sending nothing', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('closed'));
  await commands(redis).quit();
  for (const call of [() => mutex.acquire(), () => mutex.tryAcquire(), () => mutex.status()]) {
    const error = await t.throwsAsync(call(), { instanceOf: ClientClosedError });
    t.is(error?.code, 'ERR_SEMAPHORE_CLIENT_CLOSED');
  }
});

test('Redis down: timeout and signal win over ioredis retries; without them, the client gives up as configured', async (t) => {
  // ioredis on purpose: its retryStrategy and maxRetriesPerRequest are what is tested.
  // A port that a Redis just left: nothing listens there now.
  const stopped = await startRedisServer();
  await stopped.stop();
  const url = `redis://127.0.0.1:${stopped.port}`;
  // Retries forever: only the library's own timeout and signal can end these waits.
  const patient = await connect(url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  const mutex = new Mutex(patient, uniqueKey('down'));
  const started = performance.now();
  await t.throwsAsync(mutex.acquire({ timeout: 200 }), { name: 'AcquireTimeoutError' });
  const controller = new AbortController();
  const aborting = mutex.acquire({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error('gave up')), 100);
  await t.throwsAsync(aborting, { message: 'gave up' });
  t.true(performance.now() - started < 5_000);
  // No timeout: it rejects when ioredis gives up on the command (here after one retry).
  const quick = await connect(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  await t.throwsAsync(new Mutex(quick, uniqueKey('down')).acquire(), { name: 'MaxRetriesPerRequestError' });
});
