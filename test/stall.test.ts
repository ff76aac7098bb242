import test from 'ava';
import { LeaseLostError, Mutex } from '../src/index.js';
import { aborted, queued } from './helpers/events.js';
import { Contender } from './helpers/processes.js';
import { connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

// In a file of its own, one test at a time: each stalls its whole process on purpose,
// which would starve the leases of any test running beside it.

test.serial('a grant that reaches a stalled process after its ttl is not handed out as held', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('stalled-waiter');
  const ttl = 300;
  const child = await Contender.start(url);
  t.teardown(() => child.kill());
  child.send({ op: 'acquire', id: 'first', key, permits: 1, ttl });
  await child.event('granted', 'first');
  const mutex = new Mutex(redis, key, { ttl });
  const isQueued = queued(key);
  const ours = mutex.acquire();
  await isQueued;
  // The child releases (granting us) and queues again at once, behind us; this process
  // stalls from this very moment, so the grant's message can only be read afterwards.
  child.send({ op: 'release', id: 'first' });
  child.send({ op: 'acquire', id: 'second', key, permits: 1, ttl, releaseAtOnce: true });
  // Four ttls: our grant expires unrefreshed in Redis, and the child is granted in our place.
  const until = performance.now() + 4 * ttl;
  while (performance.now() < until) {
    // A stalled event loop, as a long GC pause or a SIGSTOP would leave it.
  }
  const second = await child.event('granted', 'second');
  const lease = await ours;
  // We were not handed the stale grant: ours came after the child's, under a later token.
  t.true(lease.fencingToken > Number(second.fence));
  t.true(lease.held);
  await lease.release();
});

test.serial('a try whose grant reaches a stalled process too late gives it back and reports null', async (t) => {
  const redis = await connectLibrary();
  const mutex = new Mutex(redis, uniqueKey('stalled-try'), { ttl: 300 });
  await mutex.status(); // warm the connection and the scripts
  const attempt = mutex.tryAcquire();
  const until = performance.now() + 600;
  while (performance.now() < until) {
    // Stalled while the grant's reply waits in the socket, past its ttl.
  }
  t.is(await attempt, null);
  const status = await mutex.status();
  t.is(status.held, 0);
  t.is(status.waiting, 0);
});

/** Keeps this process busy, timers and sockets unread, for `ms`: a stall, as a long GC pause would be. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose: nothing else in this process may run meanwhile.
  }
}

test.serial(
  'an extension whose reply arrives after the term ended here rejects with LeaseLostError and gives the permits back',
  async (t) => {
    const redis = await connectLibrary();
    const key = uniqueKey('late-extend');
    const mutex = new Mutex(redis, key, { ttl: 1_000 });
    const lease = await mutex.acquire({ autoRefresh: false });
    // Redis extends the lease at once; this process reads the reply only after its term ran out here.
    const extending = lease.extend(60_000);
    while (lease.held) stall(1);
    await t.throwsAsync(extending, { instanceOf: LeaseLostError, message: /fixed term ended/ });
    // The extension holds no permit for nobody's sake.
    t.is((await mutex.status()).held, 0);
  },
);

test.serial(
  'a caller that stalls past a fixed term before its first await finds the term ended at that await',
  async (t) => {
    const redis = await connectLibrary();
    const key = uniqueKey('stall-before-await');
    const mutex = new Mutex(redis, key, { ttl: 300 });
    const lease = await mutex.acquire({ autoRefresh: false });
    stall(350);
    // The lease's timer is armed only after this continuation; the term it would have ended
    // ends there at once, before any timer or reply can run.
    await null;
    t.true(lease.signal.aborted);
    t.regex(String((lease.signal.reason as Error).message), /fixed term ended/);
    t.false(await lease.release());
  },
);

test.serial(
  'a refreshing lease that stalled past its expiry gives nothing back once another handle may hold it',
  async (t) => {
    const key = uniqueKey('shared-stall');
    // A ttl a busy machine cannot outlast between the take-over and the extension's reply.
    const mutex = new Mutex(await connectLibrary(), key, { ttl: 1_000 });
    const lease = await mutex.acquire();
    const handle = await new Mutex(await connectLibrary(), key, { ttl: 1_000 }).lease(lease.id);
    await handle.extend(60_000);
    // Longer than the ttl: the refreshing handle counts its lease lost, as it must.
    stall(1_300);
    t.true((await aborted(lease.signal)) instanceof LeaseLostError);
    // But the other handle extended it: it is still held, by that handle.
    t.is((await mutex.status()).held, 1);
    t.true(handle.held);
    t.true(await handle.release());
  },
);
