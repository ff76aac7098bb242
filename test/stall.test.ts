import test from 'ava';
import { Mutex } from '../src/index.js';
import { queued } from './helpers/events.js';
import { Contender } from './helpers/processes.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';

// In a file of its own, one test at a time: each stalls its whole process on purpose,
// which would starve the leases of any test running beside it.

test.serial('a grant that reaches a stalled process after its ttl is not handed out as held', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
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
  const redis = await connect();
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
