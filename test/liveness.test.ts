import test from 'ava';
import { AcquireTimeoutError, Mutex, Semaphore } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import { queued } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { Contender } from './helpers/processes.js';
import { connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

test('a SIGKILLed holder gives its permit back within its ttl and the waiter is granted', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('dead-holder');
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'h', key, permits: 1, ttl: 600 });
  const granted = await child.event('granted', 'h');
  const mutex = new Mutex(redis, key, { ttl: 5_000 });
  const isQueued = queued(key);
  const waiting = mutex.acquire();
  await isQueued;
  await child.kill();
  const lease = await waiting;
  t.true(lease.fencingToken > Number(granted.fence));
  const status = await mutex.status();
  t.deepEqual(
    status.holders.map((h) => h.token),
    [lease.token],
  );
  await lease.release();
});

test('a SIGKILLed waiter is dropped from the queue and never blocks the ones behind it', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('dead-waiter');
  const mutex = new Mutex(redis, key, { ttl: 5_000 });
  const holder = await mutex.acquire();
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'w', key, permits: 1, ttl: 600 });
  t.is((await child.event('queued', 'w')).position, 0);
  const isQueued = queued(key);
  const behind = mutex.acquire();
  t.is((await isQueued)[0]!.position, 1);
  await child.kill();
  // Our own heartbeat (every ttl / 3) evicts the dead ticket once its 600 ms run out.
  // No event exists for another process's death; re-read Redis's state at a gentle pace.
  const status = await eventually(
    () => mutex.status(),
    (s) => s.waiting <= 1,
    { within: 10_000, every: 20 },
  );
  t.is(status.waiters.length, 1);
  await holder.release();
  const lease = await behind;
  t.true(lease.held);
  await lease.release();
});

test('a timed-out acquire rejects with AcquireTimeoutError and leaves the queue', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('timeout');
  const mutex = new Mutex(redis, key);
  const holder = await mutex.acquire();
  const error = await t.throwsAsync(mutex.acquire({ timeout: 150 }), { instanceOf: AcquireTimeoutError });
  t.is(error?.timeout, 150);
  t.is(error?.key, key);
  t.is((await mutex.status()).waiting, 0);
  await holder.release();
  t.is((await mutex.status()).held, 0);
});

test('an aborted acquire rejects with signal.reason and leaves the queue', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('abort');
  const mutex = new Mutex(redis, key);
  const holder = await mutex.acquire();
  const controller = new AbortController();
  const isQueued = queued(key);
  const pending = mutex.acquire({ signal: controller.signal });
  await isQueued;
  const reason = new Error('no longer needed');
  controller.abort(reason);
  t.is(await t.throwsAsync(pending), reason);
  t.is((await mutex.status()).waiting, 0);
  // Already aborted: rejected before anything is sent.
  t.is(await t.throwsAsync(mutex.acquire({ signal: controller.signal })), reason);
  await holder.release();
});

test('a waiter that died just before its turn is granted only until its own deadline, never a fresh ttl', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('dies-at-turn');
  const mutex = new Mutex(redis, key, { ttl: 5_000 });
  const holder = await mutex.acquire();
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'w', key, permits: 1, ttl: 600 });
  await child.event('queued', 'w');
  const isQueued = queued(key);
  const behind = mutex.acquire();
  await isQueued;
  await child.kill();
  const [dead] = (await mutex.status()).waiters;
  // Released while the dead waiter's ticket still counts: the grant goes to it...
  await holder.release();
  const granted = (await mutex.status()).holders;
  t.is(granted[0]?.token, dead!.token);
  // ...but lasts no longer than its ticket would have: a silent process blocks the
  // others for at most one ttl after its last heartbeat, granted or not.
  t.true(granted[0]!.expiresIn <= dead!.expiresIn, `${granted[0]!.expiresIn} ms left, ticket had ${dead!.expiresIn}`);
  const lease = await behind;
  t.true(lease.held);
  await lease.release();
});

test('a grant that races the cancel goes back: never leaked, never held by nobody', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('race');
  const scripts = new Scripts(redis, keyspace('rfs', key), key);
  const base = { ttl: 5_000, wait: true, maxWaiters: Infinity };
  const holder = await scripts.acquire({ ...base, token: 'x.holder' });
  t.is(holder.kind, 'granted');
  t.is((await scripts.acquire({ ...base, token: 'x.gives-up' })).kind, 'queued');
  t.is((await scripts.acquire({ ...base, token: 'x.behind' })).kind, 'queued');
  // The holder leaves: 'gives-up' is granted in Redis, but its client has already timed out.
  t.is(await scripts.release('x.holder', holder.kind === 'granted' ? holder.fence : 0), 'released');
  t.is(await scripts.release('x.gives-up', undefined), 'released');
  const status = await scripts.status(10);
  t.deepEqual(
    status.holders.map((h) => h.token),
    ['x.behind'],
  );
  t.is(status.waiting, 0);
  t.is(await scripts.release('x.behind', undefined), 'released');
});

test('timeouts under contention never leak a permit', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('timeout-storm');
  const sem = new Semaphore(redis, key, { permits: 2 });
  let granted = 0;
  let timedOut = 0;
  await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      try {
        await sem.use(
          async () => {
            granted++;
            await new Promise((resolve) => setImmediate(resolve));
          },
          { timeout: 1 + (i % 7) },
        );
      } catch (error) {
        if (!(error instanceof AcquireTimeoutError)) throw error;
        timedOut++;
      }
    }),
  );
  t.is(granted + timedOut, 40);
  // A cancel goes once its acquire's reply is back, never ahead of it; then nothing is left
  // (a leaked permit would stay for the whole 10 s ttl).
  const status = await eventually(
    () => sem.status(),
    (s) => s.held === 0 && s.waiting === 0,
  );
  t.is(status.held, 0);
  t.is(status.waiting, 0);
});
