/**
 * A contender process: acquire → enter (fenced) → hold → write (fenced) → hold → leave
 * → release, until the orchestrator says stop. It reports every step over IPC and
 * never trusts itself: the resource process decides what counts.
 */
import { Redis } from 'ioredis';
import { Mutex, Semaphore, type Lease } from '../../src/index.js';
import { env } from './env.js';
import type { ClientMessage, ToClient } from './protocol.js';
import { rng } from './prng.js';

const permits = Number(env('CHAOS_PERMITS'));
const ttl = Number(env('CHAOS_TTL'));
const timeout = Number(env('CHAOS_TIMEOUT'));
const random = rng(Number(env('CHAOS_SEED')));
/** The share of acquisitions that take 2 permits (the resized run's), so a limit of 1 refuses some. */
const heavy = Number(env('CHAOS_HEAVY'));

const send = (message: ClientMessage) => process.send?.(message);
const me = env('CHAOS_ID');
/** With --verbose, each step goes to stderr with the wall time, to line up with faults. */
const trace = process.env['CHAOS_VERBOSE'] ? (what: string) => console.error(`${Date.now()} c${me} ${what}`) : () => {};

process.on('unhandledRejection', (error) => send({ t: 'unhandled', message: String(error) }));

// maxRetriesPerRequest: null, so a killed connection delays commands instead of failing them.
const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
redis.on('error', () => {});
const lockOn = (client: Redis) =>
  permits === 1
    ? new Mutex(client, env('CHAOS_KEY'), { ttl })
    : new Semaphore(client, env('CHAOS_KEY'), { permits, ttl });
const lock = lockOn(redis);
// A second connection, standing for a worker elsewhere that takes a lease over by its id.
const workerRedis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
workerRedis.on('error', () => {});
const worker = lockOn(workerRedis);

let stopping = false;
let seq = 0;
const replies = new Map<number, (ok: boolean) => void>();

// An orchestrator that is gone cannot count anything: stop rather than run on alone.
let finished = false;
process.once('disconnect', () => {
  if (!finished) process.exit(1);
});
process.on('message', (m: ToClient) => {
  if (m.t === 'stop') stopping = true;
  else replies.get(m.seq)?.(m.ok);
});

/** A fenced request to the resource; resolves with whether it accepted the token. */
function ask(
  message: { t: 'enter'; lease: string; token: string; weight: number } | { t: 'write'; lease: string; token: string },
): Promise<boolean> {
  const id = ++seq;
  return new Promise((resolve) => {
    replies.set(id, (ok) => {
      replies.delete(id);
      resolve(ok);
    });
    send({ ...message, seq: id });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Hands a fixed-term lease over as a scheduler would to a worker: by its id, on the
 * worker's own connection. The worker extends the term to cover a short hold, or
 * keeps a long one refreshed; killed or stalled in between, the permit comes back when
 * the term (or the ttl) ends. Undefined if the lease could not be taken over: it was
 * then given back.
 */
async function takeOver(lease: Lease, hold: number): Promise<Lease | undefined> {
  try {
    const handle = await worker.lease(lease.id);
    if (hold > ttl / 2) handle.startAutoRefresh();
    else await handle.extend(ttl);
    send({ t: 'handover', ok: true });
    return handle;
  } catch (error) {
    send({ t: 'handover', ok: false, error: (error as Error).name });
    trace(`takeover of ${lease.fencingToken} failed: ${String(error)}`);
    await lease.release().catch(() => {});
    return undefined;
  }
}

async function once(n: number): Promise<void> {
  const id = ++seq;
  // Mostly short holds; one in ten outlasts a refresh (ttl / 3) or the ttl itself,
  // so refreshes, and losses found by them, happen inside critical sections.
  const hold = random.next() < 0.1 ? random.int(150, 2 * ttl) : random.int(2, 30);
  const handover = random.next() < 0.25;
  // Drawn only when asked for, so that the other runs replay as before.
  const weight = heavy > 0 && random.next() < heavy ? 2 : 1;
  send({ t: 'acquiring', seq: id, timeout });
  let lease: Lease;
  try {
    const taken = await lock.acquire({ timeout, autoRefresh: !handover, weight });
    const handle = handover ? await takeOver(taken, hold) : taken;
    if (!handle) {
      send({ t: 'acquired', seq: id });
      return;
    }
    lease = handle;
  } catch (error) {
    const e = error as Error;
    send({ t: 'acquireFailed', seq: id, name: e.name, message: e.message });
    // Back off a little so a Redis outage is not a busy loop.
    await sleep(random.int(5, 50));
    return;
  }
  send({ t: 'acquired', seq: id });
  const name = `${me}-${n}`;
  trace(`granted ${name} token ${lease.fencingToken}`);
  lease.signal.addEventListener('abort', () => {
    trace(`${name} aborted: ${(lease.signal.reason as Error).name}`);
    if ((lease.signal.reason as Error).name === 'LeaseLostError') send({ t: 'lost', lease: name });
  });
  try {
    const token = String(lease.fencingToken);
    // The weight the lease says it holds: a handle taken over by id reads it from the id.
    if (await ask({ t: 'enter', lease: name, token, weight: lease.weight })) {
      trace(`${name} entered, holding ${hold} ms`);
      await sleep(hold / 2);
      // A real user stops once the lease is lost; skipping here is that check.
      if (lease.held) await ask({ t: 'write', lease: name, token });
      await sleep(hold / 2);
      send({ t: 'leave', lease: name });
      trace(`${name} left`);
    }
  } finally {
    await lease.release().catch(() => {});
    trace(`${name} released`);
  }
}

send({ t: 'ready' });
for (let n = 0; !stopping; n++) await once(n);
await redis.quit().catch(() => {});
await workerRedis.quit().catch(() => {});
send({ t: 'done' });
finished = true;
process.disconnect?.();
