import test from 'ava';
import { Mutex, QueueFullError } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import { queued } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { connect, connectLibrary, uniqueKey } from './helpers/redis.js';

test('a full queue refuses new waiters with QueueFullError and changes nothing', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('full');
  const mutex = new Mutex(redis, key, { maxWaiters: 2 });
  const holder = await mutex.acquire();
  const isQueued = queued(key, 2);
  const first = mutex.acquire();
  const second = mutex.acquire();
  await isQueued;
  const error = await t.throwsAsync(mutex.acquire(), { instanceOf: QueueFullError });
  t.is(error?.code, 'ERR_SEMAPHORE_QUEUE_FULL');
  t.is(error?.maxWaiters, 2);
  t.is((await mutex.status()).waiting, 2);
  await holder.release();
  await (await first).release();
  // A place came free: queueing works again.
  const third = mutex.acquire();
  await (await second).release();
  await (await third).release();
  t.is((await mutex.status()).waiting, 0);
});

test('maxWaiters must be a positive integer or Infinity', async (t) => {
  const redis = await connectLibrary();
  t.throws(() => new Mutex(redis, 'k', { maxWaiters: 0 }), { instanceOf: RangeError, message: /`maxWaiters`.*0/ });
  t.throws(() => new Mutex(redis, 'k', { maxWaiters: 2.5 }), { instanceOf: RangeError, message: /`maxWaiters`/ });
  t.notThrows(() => new Mutex(redis, 'k', { maxWaiters: Infinity }));
});

test('with 100,000 dead waiters queued, each call evicts a bounded batch: none does unbounded work', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('batch');
  const scripts = new Scripts(redis, keyspace('rfs', key), key);
  const n = 100_000;
  const ttl = 60_000;
  const enqueue = (token: string) => scripts.acquire({ token, ttl, wait: true, maxWaiters: Infinity });
  await enqueue('dead.holder');
  for (let i = 0; i < n; i += 1_000) {
    await Promise.all(Array.from({ length: 1_000 }, (_, j) => enqueue(`dead.${(i + j).toString(36)}`)));
  }
  t.is((await scripts.status(0)).waiting, n);
  // Every waiter's process dies at once: their deadlines all drop to the epoch.
  const { waiters } = keysOf(key);
  await admin.zunionstore(waiters, 1, waiters, 'WEIGHTS', 0);
  // Each call evicts at most 100 waiters wherever they stand, plus at most 1,000 met
  // at the front while serving the line: bounded, whatever lies expired.
  const before = (await scripts.status(0)).waiting;
  t.true(before >= n - 1_100 && before < n, `after one call: ${before}`);
  const after = (await scripts.status(0)).waiting;
  t.true(before - after >= 100 && before - after <= 1_100, `the second call evicted ${before - after}`);
});

test('a release on a semaphore with thousands of permits grants in bounded batches', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('wide');
  const permits = 3_000;
  const scripts = new Scripts(redis, keyspace('rfs', key), key);
  const call = (token: string) => scripts.acquire({ token, ttl: 60_000, wait: true, maxWaiters: Infinity });
  t.is((await call(`x.all*${permits}/${permits}`)).kind, 'granted');
  await Promise.all(Array.from({ length: 2_500 }, (_, i) => call(`x.${i}/${permits}`)));
  t.is(await scripts.release(`x.all*${permits}/${permits}`, undefined), 'released');
  // One call handed out 1,000 permits; the next call (here a status) hands out more.
  const first = await scripts.status(0);
  t.is(first.held, 2_000);
  t.is(first.waiting, 500);
  const second = await scripts.status(0);
  t.is(second.held, 2_500);
  t.is(second.waiting, 0);
});
