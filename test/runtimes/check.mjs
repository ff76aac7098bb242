/**
 * The library on another runtime than Node.js (Bun, Deno), as a user there gets it: run
 * by .ci/runtimes from a scratch project where `redis-fair-semaphore` is the packed
 * package and `ioredis` and `redis` are the versions the repo tests with. Plain ESM that
 * imports nothing else (no test framework), so that every runtime runs this same file.
 *
 * Checks, against the private Redis at $REDIS_URL:
 *   1. the README's quick start in spirit, on ioredis, then on node-redis;
 *   2. on each client, a FIFO run whose wake-ups must all be pushed: the grant order is
 *      the arrival order, and Redis ran exactly the script calls the run asked for, so
 *      no waiter found its grant by a heartbeat;
 *   3. that the process then exits by itself (the clients closed, nothing of the
 *      library keeps it alive): .ci/runtimes gives it a deadline.
 * Any mismatch prints `FAIL <why>` and exits 1; success prints `PASS <summary>`.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Mutex, Semaphore } from 'redis-fair-semaphore';

const runtime =
  typeof globalThis.Bun !== 'undefined'
    ? `bun ${globalThis.Bun.version}`
    : typeof globalThis.Deno !== 'undefined'
      ? `deno ${globalThis.Deno.version.deno}`
      : `node ${process.versions.node}`;
// Keys of their own per runtime: every runtime's run uses the same Redis, one after the other.
const keyPrefix = `runtimes:${runtime.split(' ')[0]}`;

function fail(message) {
  console.error(`FAIL ${message}`);
  // Clients may still be open after a failed step: do not wait for them.
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

const isFencingToken = (n) => Number.isSafeInteger(n) && n > 0;

/**
 * `promise`, or a failure saying `what` (a string, or a function that says it then) did
 * not happen within `ms`. The timer goes once settled.
 */
function within(promise, ms, what) {
  const timer = setTimeout(() => fail(`${typeof what === 'function' ? what() : what}: not within ${ms} ms`), ms);
  return promise.finally(() => clearTimeout(timer));
}

process.on('unhandledRejection', (error) => fail(`unhandled rejection: ${error?.stack ?? error}`));

const url = process.env.REDIS_URL;
// No default: this must only ever talk to the server .ci/runtimes started for it.
check(url, 'REDIS_URL is not set (run this through .ci/runtimes)');
console.log(`  runtime: ${runtime}`);

/**
 * The quick start on `redis`: a Semaphore with 3 permits taken by 4 `use()`s at once
 * (the first three must be inside together, the fourth waits for one of them to leave),
 * then a Mutex `use()`; every fencing token a distinct positive integer.
 */
async function quickStart(redis, client) {
  const calls = new Semaphore(redis, `${keyPrefix}:${client}:partner-api`, { permits: 3 });
  let inside = 0;
  let most = 0;
  let threeInside;
  const allThree = new Promise((resolve) => (threeInside = resolve));
  const work = async (lease) => {
    check(
      lease.signal instanceof AbortSignal && !lease.signal.aborted,
      `${client}: a fresh lease's signal is not a live AbortSignal`,
    );
    inside++;
    most = Math.max(most, inside);
    if (inside === 3) threeInside();
    // Each of the first three stays until all three are in: proof that 3 permits were granted at once.
    await allThree;
    inside--;
    return lease.fencingToken;
  };
  const fences = await within(
    Promise.all(Array.from({ length: 4 }, () => calls.use(work, { timeout: 5_000 }))),
    5_000,
    `${client}: 4 use() of a semaphore with 3 permits`,
  );
  check(most === 3, `${client}: ${most} use() callbacks ran at once, expected exactly 3 (permits: 3)`);
  check(fences.every(isFencingToken), `${client}: fencing tokens ${fences} are not all positive integers`);
  check(new Set(fences).size === 4, `${client}: fencing tokens ${fences} are not distinct`);

  const fence = await within(
    new Mutex(redis, `${keyPrefix}:${client}:nightly-report`).use(async (lease) => lease.fencingToken),
    5_000,
    `${client}: Mutex use()`,
  );
  check(isFencingToken(fence), `${client}: the mutex's fencing token ${fence} is not a positive integer`);
  console.log(
    `  ok  quick start on ${client}: 4 use() on 3 permits (3 at once), Mutex use(), fencing tokens ${[...fences, fence].join(', ')}`,
  );
}

/** The script calls (EVALSHA and EVAL) Redis has run so far, read through `admin`. */
async function scriptCalls(admin) {
  const stats = await admin.info('commandstats');
  const calls = (name) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { evalsha: calls('evalsha'), eval: calls('eval') };
}

/** The next 'queued' diagnostics event for `key` (published when an acquire's first reply says it waits). */
function nextQueued(key) {
  return new Promise((resolve) => {
    const onQueued = (event) => {
      if (event.key !== key) return;
      unsubscribe('redis-fair-semaphore:queued', onQueued);
      resolve(event);
    };
    subscribe('redis-fair-semaphore:queued', onQueued);
  });
}

const waiterCount = 5;
// A heartbeat (and a lease refresh) comes every ttl / 3 = 10 s: none can fall inside a
// run that takes milliseconds, so every grant below must come from a pushed message.
const ttl = 30_000;

/**
 * One holder, then `waiterCount` waiters queued one at a time (each seen queued at its
 * position before the next is sent), then the holder releases and every waiter releases
 * as soon as it is granted: a chain of hand-overs, each one pushed to the next waiter.
 */
async function fifo(redis, client, admin) {
  const key = `${keyPrefix}:${client}:fifo`;
  const semaphore = new Semaphore(redis, key, { permits: 1, ttl });

  // Warm-up, not counted. It loads every script the run uses into Redis (else the first
  // EVALSHA of each is answered NOSCRIPT and sent again as EVAL: two calls for one), and
  // subscribes this client to the key's wake-up channel, which then stays subscribed for
  // 30 s after its last waiter (lingerMs in src/timing.ts). By design, a waiter that finds
  // that subscription not yet live re-checks once it is (a grant published before then
  // went unheard): one more script call, for the first waiters on a channel only. In the
  // counted run below, which takes milliseconds, every waiter finds it live.
  const first = await semaphore.acquire();
  const queued = nextQueued(key);
  const second = semaphore.acquire();
  await within(queued, 5_000, `${client}: the warm-up waiter to be queued`);
  await semaphore.status();
  await first.release();
  await (await within(second, 5_000, `${client}: the warm-up waiter to be granted by the holder's release`)).release();

  const before = await scriptCalls(admin);
  const startedAt = performance.now();
  const holder = await semaphore.acquire();
  const order = [];
  const tokens = [];
  const granted = [];
  for (let i = 0; i < waiterCount; i++) {
    const queuedNow = nextQueued(key);
    granted.push(
      semaphore.acquire().then(async (lease) => {
        order.push(i);
        await lease.release();
      }),
    );
    const event = await within(queuedNow, 5_000, `${client}: waiter ${i} to be queued`);
    check(event.position === i, `${client}: waiter ${i} was queued at position ${event.position}, expected ${i}`);
    tokens.push(event.token);
  }
  const status = await semaphore.status();
  check(
    status.held === 1 && status.holders.length === 1,
    `${client}: status() shows ${status.held} held, expected 1 (the holder)`,
  );
  const waiting = status.waiters.map((waiter) => waiter.token);
  check(
    status.waiting === waiterCount && waiting.join() === tokens.join(),
    `${client}: status() shows ${status.waiting} waiting [${waiting}], expected the ${waiterCount} queued [${tokens}]`,
  );
  await holder.release();
  await within(
    Promise.all(granted),
    5_000,
    () => `${client}: the chain of ${waiterCount} hand-overs (granted so far, in order: [${order}])`,
  );
  const elapsed = performance.now() - startedAt;
  const after = await scriptCalls(admin);

  const arrival = Array.from({ length: waiterCount }, (_, i) => i);
  check(
    order.join() === arrival.join(),
    `${client}: waiters were granted in the order [${order}], expected their arrival order [${arrival}]`,
  );
  // The holder's acquire and release, each waiter's acquire and release, one status():
  // anything more is a script call nobody asked for, a heartbeat finding a grant.
  const expected = 2 + 2 * waiterCount + 1;
  const ran = after.evalsha - before.evalsha + (after.eval - before.eval);
  check(
    ran === expected,
    `${client}: Redis ran ${ran} script calls (EVALSHA ${after.evalsha - before.evalsha}, EVAL ${after.eval - before.eval}), ` +
      `expected ${expected} (${waiterCount + 1} acquires, ${waiterCount + 1} releases, 1 status)` +
      (ran > expected ? ': a waiter heartbeated or re-checked, so a wake-up was not pushed, or was not heard' : ''),
  );
  console.log(
    `  ok  FIFO on ${client}: ${waiterCount} waiters granted in arrival order by pushed wake-ups ` +
      `(${ran} script calls, as many as asked for) in ${elapsed.toFixed(0)} ms`,
  );
}

try {
  // Admin commands (INFO) on a connection of their own, which the library never sees.
  const admin = new Redis(url);

  const ioredis = new Redis(url);
  await quickStart(ioredis, 'ioredis');
  await fifo(ioredis, 'ioredis', admin);
  // The library keeps no connection of its own alive: closing ours must let the process exit.
  await ioredis.quit();

  // The README's node-redis example: an error listener, connect() before use, close() at the end.
  const nodeRedis = createClient({ url });
  nodeRedis.on('error', (error) => console.error('  redis:', error.message));
  await nodeRedis.connect();
  await quickStart(nodeRedis, 'node-redis');
  await fifo(nodeRedis, 'node-redis', admin);
  await nodeRedis.close();

  await admin.quit();
} catch (error) {
  fail(error?.stack ?? String(error));
}
// Nothing more to do: from here the process must end by itself (.ci/runtimes's deadline).
console.log(`PASS quick start and FIFO with pushed wake-ups, on ioredis and node-redis`);
