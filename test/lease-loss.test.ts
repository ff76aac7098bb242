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
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 150 });
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
