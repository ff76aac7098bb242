/**
 * One scenario of the key's settings (setPermits, pause, resume), run on whatever
 * topology the caller's clients reach: a Cluster and Sentinel run it as a single
 * server does (test/settings.test.ts covers each rule there in detail).
 */
import type { ExecutionContext } from 'ava';
import { type Lease, type RedisClient, Semaphore, WeightExceedsLimitError } from '../../src/index.js';
import { queued } from './events.js';

/**
 * Two clients (two processes' worth of connections) on one key: a resize on one grants
 * the other's waiters by push, in order; pause and resume hold and release the line; a
 * limit lowered below a waiter's weight sends it away while the one behind it is served.
 */
export async function settingsScenario(
  t: ExecutionContext,
  operator: RedisClient,
  worker: RedisClient,
  key: string,
): Promise<void> {
  // A ttl far beyond the test: no heartbeat or expiry re-check can be what grants.
  const ttl = 600_000;
  const admin = new Semaphore(operator, key, { permits: 1, ttl });
  const sem = new Semaphore(worker, key, { permits: 1, ttl });
  const holder = await sem.acquire();
  const waits: Promise<Lease>[] = [];
  let settled = 0;
  for (let i = 0; i < 3; i++) {
    const isQueued = queued(key);
    const wait = sem.acquire();
    waits.push(wait);
    wait.then(
      () => settled++,
      () => {},
    );
    await isQueued;
  }
  await admin.pause();
  await admin.setPermits(3);
  t.like(await admin.status(), { permits: 3, permitsSource: 'set', paused: true, held: 1, waiting: 3 });
  t.is(settled, 0);
  await admin.resume();
  // Served in line order: fencing tokens are the order of grants in Redis (which of two
  // grants made in one call reaches its waiter first is the transport's business).
  const granted = await Promise.all(waits.slice(0, 2));
  t.true(granted[0]!.fencingToken < granted[1]!.fencingToken);
  t.like(await admin.status(), { held: 3, waiting: 1 });
  // Heavy (3) behind the last light waiter; lowered to 2, it can never fit.
  const heavyQueued = queued(key);
  const heavy = new Semaphore(worker, key, { permits: 3, ttl }).acquire({ weight: 3 });
  heavy.catch(() => {});
  await heavyQueued;
  await admin.setPermits(2);
  await t.throwsAsync(heavy, { instanceOf: WeightExceedsLimitError });
  t.like(await admin.status(), { permits: 2, held: 3, waiting: 1 });
  for (const lease of [holder, ...granted]) await lease.release();
  const last = await waits[2]!;
  t.true(last.fencingToken > granted[1]!.fencingToken);
  await last.release();
  await admin.setPermits(null);
  t.like(await admin.status(), { permitsSource: 'callers', paused: false, held: 0, waiting: 0 });
}
