import test from 'ava';
import { AcquireTimeoutError, Mutex, Semaphore } from '../src/index.js';
import { queued } from './helpers/events.js';
import { connectLibrary, uniqueKey } from './helpers/redis.js';

test('acquire grants a lease and release frees it for the next caller', async (t) => {
  const redis = await connectLibrary();
  const sem = new Semaphore(redis, uniqueKey('basic'), { permits: 2 });
  const a = await sem.acquire();
  const b = await sem.acquire();
  t.is((await sem.status()).held, 2);
  t.is(await sem.tryAcquire(), null);
  await a.release();
  const c = await sem.tryAcquire();
  t.truthy(c);
  t.true(c!.fencingToken > b.fencingToken);
  await Promise.all([b.release(), c!.release()]);
  t.is((await sem.status()).held, 0);
});

test('release is idempotent, and a normal release leaves the signal alone (it aborts only on a loss)', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('idem'));
  const lease = await mutex.acquire();
  t.true(lease.held);
  const signal = lease.signal;
  const first = lease.release();
  t.is(lease.release(), first);
  await first;
  t.false(lease.held);
  // Work still finishing after the release (a response body being read) is not cut off.
  t.false(signal.aborted);
  t.false(lease.signal.aborted);
});

test('use returns the value of fn and releases after it', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('use'));
  const value = await mutex.use(async (lease) => {
    t.true(lease.held);
    t.is((await mutex.status()).held, 1);
    return 42;
  });
  t.is(value, 42);
  t.is((await mutex.status()).held, 0);
});

test('use releases when fn throws, and rethrows fn’s error', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('use-throw'));
  const boom = new Error('boom');
  const error = await t.throwsAsync(mutex.use(() => Promise.reject(boom)));
  t.is(error, boom);
  t.is((await mutex.status()).held, 0);
});

test('await using releases the lease at the end of the block', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('dispose'));
  let inner: { held: boolean } | undefined;
  {
    await using lease = await mutex.acquire();
    inner = lease;
    t.is((await mutex.status()).held, 1);
  }
  t.false(inner.held);
  t.is((await mutex.status()).held, 0);
});

test('acquire with timeout 0 fails at once when busy, without queueing', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('t0'));
  const holder = await mutex.acquire();
  const error = await t.throwsAsync(mutex.acquire({ timeout: 0 }), { instanceOf: AcquireTimeoutError });
  t.is(error?.code, 'ERR_SEMAPHORE_ACQUIRE_TIMEOUT');
  t.is(error?.name, 'AcquireTimeoutError');
  t.is((await mutex.status()).waiting, 0);
  await holder.release();
});

test('status lists holders with weight and fencing token, and waiters in order', async (t) => {
  const redis = await connectLibrary();
  const sem = new Semaphore(redis, uniqueKey('status'), { permits: 3, ttl: 5_000 });
  const heavy = await sem.acquire({ weight: 2 });
  const bothQueued = queued(sem.key, 2);
  const w1 = sem.acquire({ weight: 2 });
  const w2 = sem.acquire({ weight: 1 });
  await bothQueued;
  const waited = await sem.status();
  t.is(waited.held, 2);
  t.is(waited.available, 1);
  t.is(waited.permits, 3);
  t.deepEqual(
    waited.holders.map((h) => [h.token, h.weight, h.fencingToken]),
    [[heavy.token, 2, heavy.fencingToken]],
  );
  t.true(waited.holders[0]!.expiresIn > 0 && waited.holders[0]!.expiresIn <= 5_000);
  t.deepEqual(
    waited.waiters.map((w) => w.weight),
    [2, 1],
  );
  t.is(waited.lastFencingToken, heavy.fencingToken);
  await heavy.release();
  const [l1, l2] = await Promise.all([w1, w2]);
  t.true(l1.fencingToken < l2.fencingToken);
  await Promise.all([l1.release(), l2.release()]);
});
