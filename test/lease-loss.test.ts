import test from 'ava';
import { LeaseLostError, Mutex } from '../src/index.js';
import { aborted } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { expiryOf, keysOf } from './helpers/keys.js';
import { connect, connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

test('a lease whose keys vanish aborts its signal with LeaseLostError on the next refresh', async (t) => {
  const redis = await connect();
  const key = uniqueKey('lost');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 300 });
  const lease = await mutex.acquire();
  await redis.del(keysOf(key).tickets);
  const reason = await aborted(lease.signal);
  t.true(reason instanceof LeaseLostError);
  t.is((reason as LeaseLostError).code, 'ERR_SEMAPHORE_LEASE_LOST');
  t.is((reason as LeaseLostError).fencingToken, lease.fencingToken);
  t.false(lease.held);
  // Releasing a lost lease is quiet: there is nothing left to give back.
  await t.notThrowsAsync(lease.release());
});

test('a lease refreshes itself: it outlives its ttl many times over while held', async (t) => {
  const redis = await connect();
  const key = uniqueKey('refresh');
  // Short, for many refreshes soon, yet long enough that a busy CI machine's pauses do not lose it.
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 450 });
  const lease = await mutex.acquire();
  // Count refreshes through Redis: each pushes the expiry forward again.
  let lastExpiry = 0;
  let pushes = 0;
  const sixPushes = (expiry: number | null) => {
    if (expiry !== null && expiry > lastExpiry) {
      if (lastExpiry !== 0) pushes++;
      lastExpiry = expiry;
    }
    return pushes >= 6;
  };
  await eventually(() => expiryOf(redis, key, lease), sixPushes, { within: 10_000, every: 25 });
  t.is(pushes, 6, 'refreshes pushed the expiry forward');
  t.true(lease.held);
  t.is(await mutex.tryAcquire(), null);
  await lease.release();
});

test('dropped connections during refresh are retried; the lease survives', async (t) => {
  // A server of its own: every connection on it but the admin's is the library's.
  const server = await startRedisServer();
  const admin = await connect(server.url);
  const key = uniqueKey('flaky');
  const mutex = new Mutex(await connectLibrary(server.url), key, { ttl: 1_500 });
  const lease = await mutex.acquire();
  let lastExpiry = Number(await expiryOf(admin, key, lease));
  for (let i = 0; i < 3; i++) {
    t.is(await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'), 1, "the lease's connection was dropped");
    // Wait for a refresh that got through after the kill (a new expiry).
    const refreshed = (ms: number | null) => Number(ms) > lastExpiry;
    const expiry = Number(await eventually(() => expiryOf(admin, key, lease), refreshed, { within: 5_000, every: 50 }));
    t.true(expiry > lastExpiry, `a refresh got through after kill ${i + 1}`);
    lastExpiry = expiry;
  }
  t.true(lease.held);
  await lease.release();
  t.is(await admin.exists(keysOf(key).tickets), 0);
});

test('a Redis that stalls past the ttl: the lease counts as lost when its expiry passes unconfirmed', async (t) => {
  const server = await startRedisServer();
  const mutex = new Mutex(await connectLibrary(server.url), uniqueKey('stuck'), { ttl: 300 });
  const lease = await mutex.acquire();
  // Refreshes are sent but never answered: nothing tells the lease it is gone but its own clock.
  server.pause();
  const reason = await aborted(lease.signal);
  t.false(lease.held);
  server.resume();
  t.true(reason instanceof LeaseLostError);
  t.regex((reason as Error).message, /before it expired/);
});

/**
 * The wall-clock moment `signal` aborted: Redis's TIME reads the same system clock as
 * this process on one machine, so it compares with the expiry Redis stored (ms).
 */
function abortedAt(signal: AbortSignal): Promise<number> {
  return aborted(signal).then(() => performance.timeOrigin + performance.now());
}

test('the holder knows first: a fixed term ends, signal aborting, before Redis can grant the permits to anyone else', async (t) => {
  const redis = await connect();
  const key = uniqueKey('first-term');
  // The allowance grows with the ttl (1 % + 4 ms: 64 ms here), far beyond a timer's lateness.
  const lease = await new Mutex(await connectLibrary(), key, { ttl: 6_000 }).acquire({ autoRefresh: false });
  const expiry = await expiryOf(redis, key, lease);
  const at = await abortedAt(lease.signal);
  t.false(lease.held);
  t.true(expiry !== null && at < expiry, `aborted at ${at}, Redis frees it at ${expiry}`);
  // And the term's end left it held in Redis: only the holder has let go.
  t.is(await expiryOf(redis, key, lease), expiry);
});

test.serial(
  'the holder knows first: cut off from a stalled Redis, a refreshing lease aborts before Redis frees it',
  async (t) => {
    const server = await startRedisServer();
    const redis = await connect(server.url);
    const key = uniqueKey('first-stalled');
    const lease = await new Mutex(await connectLibrary(server.url), key, { ttl: 6_000 }).acquire();
    const lost = abortedAt(lease.signal);
    // The first refresh, due a third of a ttl from now, never comes back.
    const expiry = await expiryOf(redis, key, lease);
    server.pause();
    const at = await lost;
    server.resume();
    t.true(expiry !== null && at < expiry, `aborted at ${at}, Redis frees it at ${expiry}`);
    t.regex(String((lease.signal.reason as Error).message), /no refresh reached Redis before it expired/);
  },
);
