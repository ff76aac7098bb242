import test from 'ava';
import { Semaphore } from '../src/index.js';
import { Contender } from './helpers/processes.js';
import { connect, connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

/**
 * Several processes loop through the critical section. Redis itself is the protected
 * resource: its INCR counts holders inside at once, and a fenced write refuses any
 * token lower than the highest it has accepted.
 */
async function contend(t: import('ava').ExecutionContext, permits: number, envs: Record<string, string>[]) {
  const url = await redisUrl();
  const redis = await connect();
  const key = uniqueKey(`safety-${permits}`);
  const contenders = await Promise.all(envs.map((env) => Contender.start(url, env)));
  const count = 15;
  for (const c of contenders) c.send({ op: 'loop', key, permits, ttl: 5_000, count, holdMs: 2 });
  const results = await Promise.all(contenders.map((c) => c.event('loopDone')));
  await Promise.all(contenders.map((c) => c.kill()));
  t.deepEqual(
    results.map((r) => r.count),
    envs.map(() => count),
  );
  t.is(
    results.reduce((sum, r) => sum + r.violations, 0),
    0,
    'more holders inside than permits',
  );
  t.is(
    results.reduce((sum, r) => sum + r.fencedRejects, 0),
    0,
    'a fenced write arrived out of order',
  );
  t.is(await redis.get(`${key}:inside`), '0');
  const status = await new Semaphore(await connectLibrary(), key, { permits }).status();
  t.is(status.held, 0);
  t.is(status.waiting, 0);
  t.true(contenders.every((c) => !c.reports.some((r) => r.ev === 'unhandled')));
}

test('a mutex admits one holder at a time across processes, fencing tokens in order', async (t) => {
  await contend(t, 1, [{}, {}, {}, {}]);
});

test('a semaphore never admits more than its permits across processes', async (t) => {
  await contend(t, 2, [{}, {}, {}, {}]);
});

test('clients whose clocks are off by an hour still exclude each other (server clock only)', async (t) => {
  await contend(t, 1, [{ CLOCK_SKEW_MS: '3600000' }, { CLOCK_SKEW_MS: '-3600000' }, {}]);
});
