import test from 'ava';
import type { Redis } from 'ioredis';
import { Mutex } from '../src/index.js';
import { queued } from './helpers/events.js';
import { uniqueKey } from './helpers/redis.js';
import { startSentinel } from './helpers/sentinel.js';

/** A holder, a waiter with a ttl so long that only a pushed grant can reach it in time, then the handoff. */
async function pushedHandoff(redis: Redis, key: string): Promise<number> {
  const mutex = new Mutex(redis, key, { ttl: 600_000 });
  const holder = await mutex.acquire();
  const isQueued = queued(key);
  const waiting = mutex.acquire();
  await isQueued;
  await holder.release();
  const lease = await waiting;
  await lease.release();
  return lease.fencingToken;
}

test('through Redis Sentinel: pushed wake-ups before and after a failover, and the semaphore grants on the new master', async (t) => {
  const s = await startSentinel();
  const redis = s.connect();
  const key = uniqueKey('sentinel');
  const before = await pushedHandoff(redis, key);
  // The master dies; the sentinel promotes the replica, and the client follows it there.
  await s.master.stop();
  const admin = s.connect();
  while (!(await admin.info('replication').catch(() => '')).includes('role:master')) {
    // The sentinel decides after its down-after time (1 s): no event to wait on.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const after = await pushedHandoff(redis, key);
  t.true(after > before);
  const mutex = new Mutex(redis, key);
  await (await mutex.acquire()).release();
  t.is((await mutex.status()).held, 0);
});
