import test from 'ava';
import { Mutex, Semaphore, type Lease } from '../src/index.js';
import { queued } from './helpers/events.js';
import { Contender } from './helpers/processes.js';
import { connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

test('waiters are granted in the order their acquires reached Redis', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('fifo');
  const mutex = new Mutex(redis, key);
  const holder = await mutex.acquire();
  const order: number[] = [];
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 6; i++) {
    const isQueued = queued(key);
    waits.push(
      mutex.acquire().then(async (lease) => {
        order.push(i);
        await lease.release();
      }),
    );
    t.is((await isQueued)[0]!.position, i);
  }
  await holder.release();
  await Promise.all(waits);
  t.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

test('a weighted head blocks lighter waiters behind it until enough permits are free', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('weighted');
  const sem = new Semaphore(redis, key, { permits: 3 });
  const a = await sem.acquire({ weight: 1 });
  const b = await sem.acquire({ weight: 1 });
  const granted: string[] = [];
  const heavyQueued = queued(key);
  const heavy = sem.acquire({ weight: 3 }).then((l) => {
    granted.push('heavy');
    return l;
  });
  await heavyQueued;
  // One permit is free, but the heavy head waits: nobody may take it ahead of the head.
  t.is(await sem.tryAcquire({ weight: 1 }), null);
  const lightQueued = queued(key);
  const light = sem.acquire({ weight: 1 }).then((l) => {
    granted.push('light');
    return l;
  });
  t.is((await lightQueued)[0]!.position, 1);
  await a.release();
  t.deepEqual(granted, []);
  t.is((await sem.status()).held, 1);
  await b.release();
  const heavyLease = await heavy;
  t.deepEqual(granted, ['heavy']);
  await heavyLease.release();
  const lightLease = await light;
  t.deepEqual(granted, ['heavy', 'light']);
  await lightLease.release();
});

test('tryAcquire never overtakes a waiter', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('nobarge');
  const sem = new Semaphore(redis, key, { permits: 2 });
  const first = await sem.acquire({ weight: 2 });
  const isQueued = queued(key);
  const waiter = sem.acquire({ weight: 2 });
  await isQueued;
  t.is(await sem.tryAcquire(), null);
  await first.release();
  const lease: Lease = await waiter;
  t.is(lease.weight, 2);
  t.is(await sem.tryAcquire(), null);
  await lease.release();
  const free = await sem.tryAcquire();
  t.truthy(free);
  await free!.release();
});

test('FIFO holds across processes: grants follow queue order, fencing tokens rise with it', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('fifo-procs');
  const mutex = new Mutex(redis, key, { ttl: 5_000 });
  const contenders = await Promise.all([0, 1, 2, 3].map(() => Contender.start(url)));
  const holder = await mutex.acquire();
  // Each one queues only after the previous one is queued: the arrival order is known.
  for (const [i, c] of contenders.entries()) {
    c.send({ op: 'acquire', id: `a${i}`, key, permits: 1, ttl: 5_000, releaseAtOnce: true });
    const report = await c.event('queued', `a${i}`);
    t.is(report.position, i);
  }
  await holder.release();
  const grants = await Promise.all(contenders.map((c, i) => c.event('granted', `a${i}`)));
  const fences = grants.map((g) => BigInt(g.fence));
  const sorted = [...fences].sort((x, y) => (x < y ? -1 : 1));
  t.deepEqual(fences, sorted);
  t.true(fences[0]! > BigInt(holder.fencingToken));
  await Promise.all(contenders.map((c, i) => c.event('released', `a${i}`)));
  await Promise.all(contenders.map((c) => c.kill()));
});
