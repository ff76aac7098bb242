/**
 * The resizer: a process of its own that, at seeded random moments while the clients
 * contend, stores a random limit on their key (1 to 5, or none, so that the callers'
 * permits decide again), pauses it and resumes it. Each change is told to the resource
 * twice, through the orchestrator: before it is made, with a server time that every
 * grant after it has a higher fencing token than, and once made, with a token that
 * every grant before it has at most (see settings.ts). It makes no change while the
 * orchestrator restarts Redis, and stores the settings again after a restart that
 * forgot them. Before it exits it leaves the key as it found it: no limit, not paused.
 *
 * With CHAOS_PLANT=1 it makes its changes on another key than the clients' (a
 * planted bug): Redis holds no client to them, and the resource must say so.
 */
import { Redis } from 'ioredis';
import { Semaphore } from '../../src/index.js';
import { env } from './env.js';
import { rng } from './prng.js';
import type { ResizerMessage, SettingsChange, ToResizer } from './protocol.js';

type Settings = { readonly limit: number | null; readonly paused: boolean };

const none: Settings = { limit: null, paused: false };
const random = rng(Number(env('CHAOS_SEED')));
const key = env('CHAOS_PLANT') === '1' ? `${env('CHAOS_KEY')}-elsewhere` : env('CHAOS_KEY');

const send = (message: ResizerMessage) => process.send?.(message);
process.on('unhandledRejection', (error) => send({ t: 'failed', message: `unhandled: ${String(error)}` }));

// maxRetriesPerRequest: null, so a killed connection delays a change instead of failing it.
const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
redis.on('error', () => {});
const semaphore = new Semaphore(redis, key, { permits: Number(env('CHAOS_PERMITS')) });

/** The settings as this process last made them, and as Redis holds them unless it forgot. */
let made = none;
/** A Redis restart forgot the settings: store them again before the next change. */
let forgotten = false;
let stopping = false;
let busy = false;
let hold: { readonly over: Promise<void>; readonly end: () => void } | undefined;
let changes = 0;
const noted = new Map<number, () => void>();

// An orchestrator that is gone cannot relay anything: stop rather than change on alone.
let finished = false;
process.once('disconnect', () => {
  if (!finished) process.exit(1);
});
process.on('message', (m: ToResizer) => {
  switch (m.t) {
    case 'noted':
      noted.get(m.id)?.();
      break;
    case 'hold': {
      let end = () => {};
      const over = new Promise<void>((resolve) => {
        end = resolve;
      });
      hold = { over, end };
      if (!busy) send({ t: 'holding' });
      break;
    }
    case 'carryOn':
      forgotten ||= m.forgotten;
      hold?.end();
      hold = undefined;
      break;
    case 'stop':
      stopping = true;
      break;
  }
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serverMicros(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1_000_000 + Number(micros);
}

function describe(s: Settings): string {
  return `${s.limit === null ? 'no limit' : `limit ${s.limit}`}, ${s.paused ? 'paused' : 'not paused'}`;
}

/** Makes one change, the resource told of it before and after. */
async function change(c: SettingsChange): Promise<void> {
  const id = ++changes;
  // The configure script runs after this TIME on the server, and every grant after it
  // later still: its fencing token (never below the server clock) is higher.
  const after = (await serverMicros()) - 1;
  // Not made until the orchestrator has relayed the notice: the resource then hears of
  // it before any grant the change allows (the orchestrator relays those too, later).
  await new Promise<void>((resolve) => {
    noted.set(id, resolve);
    send({ t: 'configuring', id, change: c, after });
  });
  noted.delete(id);
  if (c.t === 'limit') await semaphore.setPermits(c.limit);
  else if (c.t === 'pause') await semaphore.pause();
  else await semaphore.resume();
  // Tokens only grow while a server lives (and it is not restarted while a change is
  // under way), so the last token bounds every grant before the change on this server;
  // the clock bounds those of the servers before a restart.
  const status = await semaphore.status({ limit: 1 });
  send({ t: 'configured', id, upTo: Math.max(await serverMicros(), status.lastFencingToken) });
  made = c.t === 'limit' ? { ...made, limit: c.limit } : { ...made, paused: c.t === 'pause' };
  const shown: Settings = { limit: status.permitsSource === 'set' ? status.permits : null, paused: status.paused };
  if (shown.limit !== made.limit || shown.paused !== made.paused) {
    send({ t: 'mismatch', message: `made ${describe(made)}, but status() showed ${describe(shown)}` });
  }
}

/** Makes the changes in turn, none while held; the settings Redis forgot are stored again first. */
async function make(queue: SettingsChange[]): Promise<void> {
  for (;;) {
    if (hold) {
      await hold.over;
      continue;
    }
    if (forgotten) {
      forgotten = false;
      if (made.paused) queue.unshift({ t: 'pause' });
      if (made.limit !== null) queue.unshift({ t: 'limit', limit: made.limit });
      made = none;
    }
    const next = queue.shift();
    if (next === undefined) return;
    busy = true;
    try {
      await change(next);
    } catch (error) {
      // Its window stays open: the resource keeps both states possible from then on.
      send({ t: 'failed', message: `${next.t}: ${String(error)}` });
    } finally {
      busy = false;
      if (hold) send({ t: 'holding' });
    }
  }
}

/** Mostly a new limit (none one time in five), now and then a pause, which a later step likely ends. */
function draw(): SettingsChange {
  const r = random.next();
  if (made.paused ? r < 0.6 : r < 0.2) return { t: made.paused ? 'resume' : 'pause' };
  return { t: 'limit', limit: random.next() < 0.2 ? null : random.int(1, 5) };
}

send({ t: 'ready' });
while (!stopping) {
  await sleep(random.int(40, 250));
  if (!stopping) await make([draw()]);
}
// The key as the clients found it: their permits decide, nothing paused, nothing stored.
await make([{ t: 'limit', limit: null }, { t: 'resume' }]);
await redis.quit().catch(() => {});
finished = true;
process.disconnect?.();
