/**
 * The limit lives in Redis: setPermits(), pause() and resume(), seen from this process
 * and from contender processes, on the client RFS_CLIENT names (ioredis by default).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import test from 'ava';
import {
  AcquireTimeoutError,
  channels,
  ErrorCode,
  type Lease,
  LayoutVersionError,
  Mutex,
  type ResizedEvent,
  Semaphore,
  WeightExceedsLimitError,
} from '../src/index.js';
import { queued } from './helpers/events.js';
import { Contender } from './helpers/processes.js';
import { connect, connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

/** Long enough that no heartbeat or expiry re-check comes during a test: grants seen are pushed. */
const ttl = 60_000;

/** `n` acquires on `sem`, queued in this order; each resolves with its index once granted. */
async function line(sem: Semaphore, key: string, weights: number[], order: number[]): Promise<Promise<Lease>[]> {
  const waits: Promise<Lease>[] = [];
  for (const [i, weight] of weights.entries()) {
    const isQueued = queued(key);
    const wait = sem.acquire({ weight, timeout: 10_000 });
    waits.push(
      wait.then((lease) => {
        order.push(i);
        return lease;
      }),
    );
    wait.catch(() => {});
    await isQueued;
  }
  return waits;
}

test('growing the limit grants the waiters that now fit at once, by push, head first', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('grow');
  const sem = new Semaphore(redis, key, { permits: 1, ttl });
  const holder = await sem.acquire();
  const order: number[] = [];
  const waits = await line(sem, key, [1, 1, 1, 1], order);
  const events: ResizedEvent[] = [];
  const onResized = (m: unknown) => {
    if ((m as ResizedEvent).key === key) events.push(m as ResizedEvent);
  };
  subscribe(channels.resized.name, onResized);
  await sem.setPermits(3);
  unsubscribe(channels.resized.name, onResized);
  // Two more fit (held 1 of 3); nobody released, and no heartbeat is due for 20 s.
  const granted = await Promise.all(waits.slice(0, 2));
  t.deepEqual(order, [0, 1]);
  t.deepEqual(events, [{ key, limit: 3, previousLimit: null, granted: 2, refused: 0 }]);
  const s = await sem.status();
  t.like(s, { permits: 3, permitsSource: 'set', paused: false, held: 3, waiting: 2, available: 0 });
  for (const lease of [holder, ...granted]) await lease.release();
  const rest = await Promise.all(waits.slice(2));
  t.deepEqual(order, [0, 1, 2, 3]);
  for (const lease of rest) await lease.release();
});

test('a stored limit decides for every caller, whatever permits each passes, with no mismatch warning', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('stored');
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const five = new Semaphore(redis, key, { permits: 5 });
  const one = new Semaphore(redis, key, { permits: 1 });
  await one.setPermits(2);
  const a = await five.acquire();
  const b = await one.acquire();
  // Under its own permits `five` could take three more; the stored limit says none.
  t.is(await five.tryAcquire(), null);
  t.is(await one.tryAcquire(), null);
  t.like(await one.status(), { permits: 2, permitsSource: 'set', held: 2 });
  await a.release();
  const c = await five.acquire();
  // A handle taken by a caller with other permits: no warning either.
  const handle = await five.lease(b.id);
  await Promise.all([handle.release(), c.release()]);
  // Removed: the callers' permits decide again.
  await five.setPermits(null);
  const leases = await Promise.all([five.acquire(), five.acquire(), five.acquire()]);
  t.like(await five.status(), { permits: 5, permitsSource: 'callers', held: 3 });
  for (const lease of leases) await lease.release();
  process.off('warning', onWarning);
  t.deepEqual(
    warnings.filter((w) => (w as { code?: string }).code === 'RFS_PERMITS_MISMATCH'),
    [],
  );
});

test('shrinking below what is held revokes nothing; grants wait until releases pay the debt', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('shrink');
  const sem = new Semaphore(redis, key, { permits: 3, ttl });
  const held = await Promise.all([sem.acquire(), sem.acquire(), sem.acquire()]);
  const order: number[] = [];
  const [waiting] = await line(sem, key, [1], order);
  await sem.setPermits(1);
  t.true(held.every((lease) => !lease.signal.aborted));
  t.like(await sem.status(), { permits: 1, held: 3, waiting: 1, available: 0 });
  await held[0]!.release();
  await held[1]!.release();
  // Held 1 of 1: still no grant.
  t.like(await sem.status(), { held: 1, waiting: 1 });
  t.deepEqual(order, []);
  await held[2]!.release();
  const lease = await waiting!;
  t.deepEqual(order, [0]);
  t.like(await sem.status(), { held: 1, waiting: 0 });
  await lease.release();
});

test('a waiter that can never fit a lowered limit rejects at once and leaves the line; those behind it are served', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('too-heavy');
  const sem = new Semaphore(redis, key, { permits: 4, ttl });
  const holder = await sem.acquire({ weight: 2 });
  const order: number[] = [];
  const [heavy, light] = await line(sem, key, [3, 1], order);
  await sem.setPermits(2);
  const error = await t.throwsAsync(heavy!, { instanceOf: WeightExceedsLimitError });
  t.like(error, { code: ErrorCode.weightExceedsLimit, key, weight: 3, limit: 2, name: 'WeightExceedsLimitError' });
  t.like(await sem.status(), { waiting: 1, held: 2 });
  await holder.release();
  await (await light!).release();
  t.deepEqual(order, [1]);
  // Against a stored limit, an acquire too heavy for it is refused before it queues.
  await t.throwsAsync(sem.acquire({ weight: 3 }), { instanceOf: WeightExceedsLimitError, message: /limit .* is 2/ });
  await t.throwsAsync(sem.tryAcquire({ weight: 3 }), { instanceOf: WeightExceedsLimitError });
  t.like(await sem.status(), { waiting: 0, held: 0 });
});

test('paused: nothing is granted, holders keep their permits, waiters their places and timeouts; resume serves the line in order', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('pause');
  const sem = new Semaphore(redis, key, { permits: 2, ttl });
  const holder = await sem.acquire();
  await sem.pause();
  await sem.pause();
  t.like(await sem.status(), { paused: true, permits: 2, permitsSource: 'callers', held: 1, available: 0 });
  t.is(await sem.tryAcquire(), null);
  const order: number[] = [];
  const waits = await line(sem, key, [1, 1, 1], order);
  // A waiter's own timeout still ends its wait while paused.
  const impatient = sem.acquire({ timeout: 50 });
  await t.throwsAsync(impatient, { instanceOf: AcquireTimeoutError });
  await holder.release();
  t.like(await sem.status(), { held: 0, waiting: 3 });
  t.false(holder.signal.aborted);
  t.deepEqual(order, []);
  await sem.resume();
  await sem.resume();
  const granted = await Promise.all(waits.slice(0, 2));
  t.deepEqual(order, [0, 1]);
  t.like(await sem.status(), { paused: false, held: 2, waiting: 1 });
  await granted[0]!.release();
  const last = await waits[2]!;
  t.deepEqual(order, [0, 1, 2]);
  await Promise.all([granted[1]!.release(), last.release()]);
});

test('pausing keeps the stored limit; a resize while paused grants nothing until resume', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('pause-limit');
  const sem = new Semaphore(redis, key, { permits: 1, ttl });
  await sem.setPermits(3);
  await sem.pause();
  const order: number[] = [];
  const waits = await line(sem, key, [1, 1, 1, 1], order);
  await sem.setPermits(4);
  t.like(await sem.status(), { paused: true, permits: 4, permitsSource: 'set', waiting: 4, held: 0 });
  t.deepEqual(order, []);
  await sem.resume();
  const leases = await Promise.all(waits);
  t.deepEqual(order, [0, 1, 2, 3]);
  for (const lease of leases) await lease.release();
});

test('the stored limit and the pause never expire while the key sits idle', async (t) => {
  const admin = await connect();
  const redis = await connectLibrary();
  const key = uniqueKey('idle');
  const sem = new Semaphore(redis, key, { permits: 1 });
  await sem.setPermits(7);
  await sem.pause();
  const lease = await sem.tryAcquire();
  t.is(lease, null);
  t.is(await admin.pttl(`rfs:{${key}}:tickets`), -1);
  t.like(await sem.status(), { permits: 7, paused: true });
  // Removing both leaves nothing behind: the key is as an older version would write it.
  await sem.setPermits(null);
  await sem.resume();
  t.is(await admin.exists(`rfs:{${key}}:tickets`), 0);
});

test('bad limits are refused before anything is written; a Mutex refuses setPermits but pauses', async (t) => {
  const admin = await connect();
  const redis = await connectLibrary();
  const key = uniqueKey('bad-limit');
  const sem = new Semaphore(redis, key, { permits: 2 });
  for (const bad of [0, -1, 1.5, 2 ** 53, Number.NaN]) {
    await t.throwsAsync(sem.setPermits(bad), { instanceOf: RangeError, message: /`permits`/ });
  }
  for (const bad of ['3', undefined, {}]) {
    await t.throwsAsync(sem.setPermits(bad as never), { instanceOf: TypeError, message: /`permits`/ });
  }
  t.is(await admin.exists(`rfs:{${key}}:tickets`), 0);
  const mutex = new Mutex(redis, uniqueKey('mutex-limit'));
  await t.throwsAsync(mutex.setPermits(2), { instanceOf: TypeError, message: /exactly one permit/ });
  await mutex.pause();
  t.is(await mutex.tryAcquire(), null);
  await mutex.resume();
  const lease = await mutex.tryAcquire();
  t.truthy(lease);
  await lease?.release();
});

test('a limit stored through a Semaphore never lets a second Mutex holder in', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('mutex-stored');
  await new Semaphore(redis, key, { permits: 1 }).setPermits(3);
  const mutex = new Mutex(redis, key);
  const first = await mutex.tryAcquire();
  t.truthy(first);
  t.is(await mutex.tryAcquire(), null);
  // A waiting Mutex is served only once nothing at all is held.
  const sem = new Semaphore(redis, key, { permits: 3 });
  const other = await sem.tryAcquire();
  t.truthy(other);
  const isQueued = queued(key);
  const waiting = mutex.acquire();
  await isQueued;
  await first!.release();
  t.like(await sem.status(), { held: 1, waiting: 1 });
  await other!.release();
  await (await waiting).release();
  t.like(await sem.status(), { held: 0, waiting: 0, permits: 3 });
});

test('pause and resume are published on the diagnostics channels', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('events');
  const sem = new Semaphore(redis, key, { permits: 1, ttl });
  const seen: [string, unknown][] = [];
  const listeners = (['paused', 'resumed'] as const).map((name) => {
    const listener = (m: unknown) => {
      if ((m as { key: string }).key === key) seen.push([name, m]);
    };
    subscribe(channels[name].name, listener);
    return [name, listener] as const;
  });
  await sem.pause();
  const isQueued = queued(key);
  const waiting = sem.acquire();
  await isQueued;
  await sem.pause();
  await sem.resume();
  for (const [name, listener] of listeners) unsubscribe(channels[name].name, listener);
  await (await waiting).release();
  t.deepEqual(seen, [
    ['paused', { key, wasPaused: false }],
    ['paused', { key, wasPaused: true }],
    ['resumed', { key, wasPaused: true, granted: 1 }],
  ]);
});

test('across processes: a resize here grants the waiters of other processes in order, and refuses the one too heavy', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('procs');
  const sem = new Semaphore(redis, key, { permits: 2, ttl });
  // The contenders pass permits 4: the stored limit, not they, decides.
  await sem.setPermits(2);
  const holder = await sem.acquire({ weight: 2 });
  const contenders = await Promise.all([0, 1, 2].map(() => Contender.start(url)));
  const weights = [1, 2, 1];
  for (const [i, c] of contenders.entries()) {
    c.send({ op: 'acquire', id: `a${i}`, key, permits: 4, ttl, weight: weights[i]! });
    t.is((await c.event('queued', `a${i}`)).position, i);
  }
  // From 2 to 3: a0 fits (3 of 3 held), a1 (weight 2) then waits at the head.
  await sem.setPermits(3);
  const g0 = await contenders[0]!.event('granted', 'a0');
  t.like(await sem.status(), { held: 3, waiting: 2 });
  // Down to 1: a1 can never fit and leaves; a2 is served once the debt is paid.
  await sem.setPermits(1);
  const refused = await contenders[1]!.event('error', 'a1');
  t.is(refused.name, 'WeightExceedsLimitError');
  await holder.release();
  // Held 1 of 1 (a0): a2 still waits.
  t.like(await sem.status(), { held: 1, waiting: 1 });
  contenders[0]!.send({ op: 'release', id: 'a0' });
  const g2 = await contenders[2]!.event('granted', 'a2');
  t.true(BigInt(g2.fence) > BigInt(g0.fence));
  contenders[2]!.send({ op: 'release', id: 'a2' });
  await contenders[2]!.event('released', 'a2');
  await Promise.all(contenders.map((c) => c.kill()));
});

test('settings of a newer layout are refused with LayoutVersionError, and nothing changes', async (t) => {
  const admin = await connect();
  const redis = await connectLibrary();
  const key = uniqueKey('newer');
  const tickets = `rfs:{${key}}:tickets`;
  await admin.zadd(tickets, '+inf', '#4*9007199254740991:3:0:and-more');
  const sem = new Semaphore(redis, key, { permits: 1 });
  const calls = [
    () => sem.acquire(),
    () => sem.tryAcquire(),
    () => sem.status(),
    () => sem.setPermits(2),
    () => sem.pause(),
  ];
  for (const call of calls) {
    const error = await t.throwsAsync(call(), { instanceOf: LayoutVersionError });
    t.is(error?.layout, 'newer');
    t.is(error?.code, ErrorCode.layoutVersion);
  }
  t.deepEqual(await admin.zrange(tickets, 0, -1, 'WITHSCORES'), ['#4*9007199254740991:3:0:and-more', 'inf']);
  t.is(await admin.exists(`rfs:{${key}}:waiters`), 0);
});
