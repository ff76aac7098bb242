/** What a user can read: labels in status(), the permits in Redis, and local counts without a round trip. */
import { once } from 'node:events';
import test from 'ava';
import { Mutex, Semaphore } from '../src/index.js';
import { queued } from './helpers/events.js';
import { connectLibrary, uniqueKey } from './helpers/redis.js';

test('labels, per semaphore or per acquire, show in status() beside holders and waiters', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('labels');
  const sem = new Semaphore(redis, key, { permits: 1, label: 'worker-7 (eu)' });
  const holder = await sem.acquire();
  const isQueued = queued(key, 2);
  const nightly = sem.acquire({ label: 'nightly report' });
  const plain = new Mutex(redis, key).acquire();
  await isQueued;
  const status = await sem.status();
  t.deepEqual(
    status.holders.map((h) => h.label),
    ['worker-7 (eu)'],
  );
  t.deepEqual(
    status.waiters.map((w) => w.label),
    ['nightly report', undefined],
  );
  await holder.release();
  await (await nightly).release();
  await (await plain).release();
});

test('a label that does not fit is refused with a RangeError naming it, before anything is sent', async (t) => {
  const redis = await connectLibrary();
  t.throws(() => new Mutex(redis, 'k', { label: 'a/b' }), { instanceOf: RangeError, message: /`label`.*"a\/b"/ });
  t.throws(() => new Mutex(redis, 'k', { label: 'x'.repeat(65) }), { instanceOf: RangeError, message: /`label`/ });
  t.throws(() => new Mutex(redis, 'k', { label: 7 as never }), { instanceOf: TypeError, message: /`label`/ });
  await t.throwsAsync(new Mutex(redis, 'k').acquire({ label: 'a|b' }), { instanceOf: RangeError });
});

test('status().permits is what Redis holds, and permits other than those in Redis bring one SemaphoreWarning', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('permits');
  const three = new Semaphore(redis, key, { permits: 3 });
  const held = await three.acquire({ weight: 2 });
  const one = new Semaphore(redis, key, { permits: 5 });
  // What Redis holds, not this object's own number.
  t.is((await one.status()).permits, 3);
  const warned = once(process, 'warning');
  const extra = await one.acquire();
  const [warning] = (await warned) as [Error & { code?: string }];
  t.is(warning.name, 'SemaphoreWarning');
  t.is(warning.code, 'RFS_PERMITS_MISMATCH');
  t.regex(warning.message, /permits 5 here.*asked for 3/);
  let again = 0;
  const count = (w: Error & { code?: string }) => w.code === 'RFS_PERMITS_MISMATCH' && again++;
  process.on('warning', count);
  await (await one.tryAcquire())?.release();
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', count);
  t.is(again, 0, 'once per semaphore');
  await Promise.all([held.release(), extra.release()]);
});

test('localWaiting and localHeld count this object’s acquisitions and leases, with no round trip', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('local');
  const sem = new Semaphore(redis, key, { permits: 3 });
  t.is(sem.localHeld, 0);
  const a = await sem.acquire({ weight: 2 });
  t.is(sem.localHeld, 2);
  const isQueued = queued(key);
  const b = sem.acquire({ weight: 2 });
  t.is(sem.localWaiting, 1);
  await isQueued;
  await a.release();
  const lease = await b;
  t.is(sem.localWaiting, 0);
  t.is(sem.localHeld, 2);
  await lease.release();
  t.is(sem.localHeld, 0);
});
