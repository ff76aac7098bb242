/**
 * W8, the holder's margin (issue 21): a holder cut off from Redis at a random moment
 * must be told its lock is over before Redis can grant it to anyone else. Each run puts
 * one holder behind the partition proxy of test/helpers/proxy.ts (its every connection
 * goes through it), queues a contender on a direct connection, and at a random moment of
 * the lease (uniform over one ttl, so at any point between refreshes) cuts the holder
 * off in one of five ways. Then:
 *
 *   margin = the holder's expiry in Redis − the moment the holder is told
 *
 * The expiry is read every 2 ms until the contender is granted (the latest read: a
 * refresh that lands after the cut moves it), on Redis's clock, which TIME round trips
 * map onto this process's. It is when Redis frees the lock on its own: the earliest a
 * contender can be granted while the holder is silent, so the margin is the holder's
 * worst case. (A holder told first gives the permits back at once; where that release
 * gets through, in the 'hold down' and 'delay' cuts, Redis frees them sooner, but only
 * after the holder was told.) A holder told after that moment has a negative margin; one
 * never told (within a ttl after the contender's grant) counts as such; a lock that
 * outlived 3 ttls of the cut measures nothing (a short delay) and counts apart.
 *
 * Everything runs in this process, so a timer here is as late as the holder's own: a
 * probe timer firing every 2 ms meanwhile says how late they were.
 */
import { Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { Redis as IORedis } from 'ioredis';
import { createClient } from 'redis';
import { Mutex as RsMutex } from 'redis-semaphore';
import { Mutex, type RedisClient } from '../../src/index.js';
import { holderAllowance } from '../../src/timing.js';
import { rng } from '../../test/chaos/prng.js';
import { expiryOf } from '../../test/helpers/keys.js';
import { type PartitionProxy, startProxy } from '../../test/helpers/proxy.js';
import { now, sleep } from '../clock.js';
import type { Ctx } from '../context.js';
import { openLock } from '../libs.js';
import type { LibId } from '../protocol.js';
import { max, percentile } from '../stats.js';

/** How the holder is cut off: both ways held or dropped, one way held, both ways slowed. */
const kinds = ['hold', 'drop', 'hold up', 'hold down', 'delay'] as const;
type Kind = (typeof kinds)[number];

/** One run: `margin` in ms when the holder was told; the kind and the ttl for the breakdown. */
type Run = {
  kind: Kind;
  ttl: number;
  outcome: 'told' | 'never told' | 'held on' | 'lost before the cut';
  /** The holder's expiry in Redis − told, ms (told runs only): negative when told after it. */
  margin?: number;
  /** The contender's grant heard − told, ms (told runs only). */
  heard?: number;
  /** When the holder was told, on this process's clock (told runs only). */
  toldAt?: number;
  /** The TIME round trip that mapped Redis's clock onto this process's: the mapping is good to half of it. */
  roundTrip?: number;
};

/** A probe timer's firing: when, and how late. */
type Tick = { at: number; late: number };

/** `unhandled`: rejections nobody handled while the library ran (a peer's timer rejecting on a closed connection). */
export type MarginRound = { runs: Run[]; ticks: Tick[]; unhandled: number };

export type MarginFigures = {
  runs: number;
  /** Told before the holder's expiry in Redis (margin > 0), told after it, never told, lock held on. */
  toldFirst: number;
  toldLate: number;
  neverTold: number;
  heldOn: number;
  /** Runs where the library lost the lock before the cut (no partition involved): left out. */
  lostBeforeCut: number;
  /** Margins of the told runs, ms. */
  min: number;
  p1: number;
  p50: number;
  max: number;
  /** The least of (margin − the allowance at that run's ttl): how much of the allowance was used up. */
  minOverAllowance: number;
  /**
   * The most of the allowance a run used beyond the timer lateness seen when its holder
   * was told (the probe's firings within 3 ms of that moment): allowance − margin − lateness
   * then. At most 0 is the target; the allowance itself also budgets 2 ms for the
   * two clocks read in whole milliseconds.
   */
  usedBeyondLateness: number;
  /** The allowance at each ttl used, ms (the library's own; 0 for the peers, which have none). */
  allowances: Record<string, number>;
  /** The contender's grant as heard, after the holder was told: p50 and min, ms. */
  heardP50: number;
  heardMin: number;
  /** The longest TIME round trip among the told runs' clock mappings: margins are good to half of it. */
  roundTripMax: number;
  /** This process's timer lateness meanwhile (2 ms probe): p50, p99, max, ms. */
  lateP50: number;
  lateP99: number;
  lateMax: number;
  /** The least margin per kind (told runs), ms. */
  byKind: Partial<Record<Kind, number>>;
  /** Unhandled rejections while the library ran (a process without a handler would have crashed). */
  unhandled: number;
};

/**
 * The library whose round ran last: an unhandled rejection is counted against it (a
 * peer's refresh timer rejects so when its connection closes, even after its round)
 * instead of ending the benchmark. Before W8 one still ends it, as it should.
 */
let running: { unhandled: number; first?: unknown } | undefined;
let listening = false;

function countUnhandled(): void {
  if (listening) return;
  listening = true;
  process.on('unhandledRejection', (reason) => {
    if (!running) throw reason;
    running.unhandled += 1;
    running.first ??= reason;
  });
}

/** A held lock, as each library tells its holder it is over, and where Redis keeps its expiry. */
type Held = {
  /** Resolves when the library tells the holder the lock is lost. */
  told: Promise<void>;
  /** The lock's expiry in Redis (ms, Redis's clock), or null once it is gone. */
  expiry(): Promise<number | null>;
  /** Ends the hold, whatever its state; never rejects. */
  end(): Promise<void>;
};

// The peers keep a plain key holding the holder's value: its expiry while the value is still the holder's.
const expiryIfMine = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRETIME', KEYS[1]) end
return false`;

async function peerExpiry(direct: Redis, key: string, value: string): Promise<number | null> {
  const at = (await direct.eval(expiryIfMine, 1, key, value)) as number | null;
  return at === null ? null : Number(at);
}

type Connected = {
  client: RedisClient;
  /** Resolves at the client's next 'ready': after a reset, once it has reconnected. */
  reconnected(): Promise<void>;
  close(): Promise<void>;
};

function readyOrGiveUp(client: { once(event: 'ready', listener: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const late = setTimeout(
      () => reject(new Error("W8: the holder's client did not reconnect within 10 s of a reset")),
      10_000,
    );
    client.once('ready', () => {
      clearTimeout(late);
      resolve();
    });
  });
}

async function connectVia(lib: LibId, url: string): Promise<Connected> {
  if (lib === 'fair-node-redis') {
    const client = createClient({ url });
    client.on('error', () => {});
    await client.connect();
    // close() lets the commands in flight finish; destroy() with a write still queued meets a reset socket unheard.
    return {
      client: client as unknown as RedisClient,
      reconnected: () => readyOrGiveUp(client),
      close: () => client.close().catch(() => {}),
    };
  }
  // The library's errors on a reset connection are the holder's to hear, not the console's.
  const client = new IORedis(url);
  client.on('error', () => {});
  return {
    client,
    reconnected: () => readyOrGiveUp(client),
    close: async () => {
      await client.quit().catch(() => {});
    },
  };
}

/** Takes the lock through `via` (the proxied connection), as each library's holder would, with its lease kept alive. */
async function hold(lib: LibId, via: RedisClient, direct: Redis, key: string, ttl: number): Promise<Held> {
  let tell!: () => void;
  const told = new Promise<void>((resolve) => {
    tell = resolve;
  });
  switch (lib) {
    case 'fair':
    case 'fair-node-redis': {
      const lease = await new Mutex(via, key, { ttl }).acquire();
      lease.signal.addEventListener('abort', tell, { once: true });
      return {
        told,
        expiry: () => expiryOf(direct, key, lease),
        end: async () => void (await lease.release().catch(() => false)),
      };
    }
    case 'redis-semaphore': {
      // Its default refresh (every 80 % of the lock's ttl); onLockLost is how it tells the holder.
      const lock = new RsMutex(via as Redis, key, { lockTimeout: ttl, acquireTimeout: 10_000, onLockLost: tell });
      await lock.acquire();
      return {
        told,
        expiry: () => peerExpiry(direct, `mutex:${key}`, lock.identifier),
        end: async () => void (await lock.release().catch(() => undefined)),
      };
    }
    case 'redlock': {
      // using() extends the lock on its own and aborts its signal when it cannot.
      const redlock = new Redlock([via as Redis], { retryCount: 0 });
      let finish!: () => void;
      const routineEnds = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const value = new Promise<string>((resolve, reject) => {
        redlock
          .using([key], ttl, async (signal, context) => {
            signal.addEventListener('abort', tell, { once: true });
            resolve(context.lock.value);
            await routineEnds;
          })
          .catch(reject);
      });
      const lockValue = await value;
      return {
        told,
        expiry: () => peerExpiry(direct, key, lockValue),
        end: async () => finish(),
      };
    }
  }
}

/**
 * Cuts the holder off; returns how to heal (a drop ends in a reset: a connection that
 * lost bytes is unusable), which resolves once the holder's client can be used again.
 */
function cut(proxy: PartitionProxy, via: Connected, kind: Kind, ttl: number, rand: () => number): () => Promise<void> {
  switch (kind) {
    case 'hold':
      proxy.hold();
      return async () => proxy.heal();
    case 'drop':
      proxy.drop();
      return async () => {
        const reconnected = via.reconnected();
        proxy.reset();
        proxy.heal();
        await reconnected;
      };
    case 'hold up':
      proxy.hold('up');
      return async () => proxy.heal();
    case 'hold down':
      proxy.hold('down');
      return async () => proxy.heal();
    case 'delay':
      // Half a ttl to one and a half each way: a refresh's answer comes back one to three ttls late.
      proxy.delay(ttl * (0.5 + rand()));
      return async () => proxy.heal();
  }
}

/**
 * Redis's clock minus this process's, from the shortest of three TIME round trips: a
 * reply read late (this process busy) would skew the mapping by half the delay, always
 * in the margin's favour. The error left is half that round trip, returned with it.
 */
async function clockOffset(direct: Redis): Promise<{ offset: number; roundTrip: number }> {
  let best = { offset: 0, roundTrip: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 3; i++) {
    const before = now();
    const [seconds, micros] = await direct.time();
    const after = now();
    if (after - before < best.roundTrip) {
      best = {
        offset: Number(seconds) * 1000 + Number(micros) / 1000 - (before + after) / 2,
        roundTrip: after - before,
      };
    }
  }
  return best;
}

let keys = 0;

/** One holder's connection through a proxy, kept from run to run as an application keeps its client. */
type Line = { proxy: PartitionProxy; via: Connected };

async function oneRun(
  ctx: Ctx,
  lib: LibId,
  line: Line,
  direct: Redis,
  ttl: number,
  kind: Kind,
  rand: () => number,
): Promise<Run> {
  const key = `bench-w8-${lib}-${process.pid}-${++keys}`;
  const { proxy, via } = line;
  let heal: (() => Promise<void>) | undefined;
  let held: Held | undefined;
  try {
    held = await hold(lib, via.client, direct, key, ttl);
    let toldAt: number | undefined;
    void held.told.then(() => {
      toldAt = now();
    });
    const contender = openLock(direct, { lib, key, permits: 1, ttl: ctx.cfg.ttl }).acquire();
    await sleep(rand() * ttl);
    const { offset, roundTrip } = await clockOffset(direct);
    // A library can lose the lock with no partition at all (redlock's extension coming too
    // late on a busy machine, a contender taking it meanwhile): such a run measures no cut.
    if (toldAt !== undefined) return { kind, ttl, outcome: 'lost before the cut' };
    heal = cut(proxy, via, kind, ttl, rand);
    // Until the contender is granted (or the lock outlives 3 ttls): the holder's latest expiry in Redis.
    let freedAt = Number.NEGATIVE_INFINITY;
    let grantedAt: number | undefined;
    const granted = contender.then((lock) => {
      grantedAt = now();
      return lock;
    });
    // Its failure is the run's (thrown where it is awaited), never an unhandled rejection meanwhile.
    granted.catch(() => {});
    const giveUp = now() + 3 * ttl;
    while (grantedAt === undefined && now() < giveUp) {
      const expiry = await held.expiry();
      if (expiry !== null) freedAt = Math.max(freedAt, expiry - offset);
      await sleep(2);
    }
    if (grantedAt === undefined) {
      // The lock outlived the cut (a delay shorter than the lease's slack, or a peer whose refreshes land while it hears nothing).
      await heal();
      heal = undefined;
      await held.end();
      held = undefined;
      await (await granted).release();
      return { kind, ttl, outcome: 'held on' };
    }
    // Told late, or not at all: give the holder one more ttl to hear of it.
    await Promise.race([held.told, sleep(ttl)]);
    await (await granted).release();
    if (toldAt === undefined) return { kind, ttl, outcome: 'never told' };
    // Gone at the first read after the cut: lost just before it, as above.
    if (!Number.isFinite(freedAt)) return { kind, ttl, outcome: 'lost before the cut' };
    return { kind, ttl, outcome: 'told', margin: freedAt - toldAt, heard: grantedAt - toldAt, toldAt, roundTrip };
  } finally {
    try {
      await heal?.();
    } finally {
      await held?.end();
    }
  }
}

/**
 * A first client, proxy and lock of each kind load and compile their modules, which
 * stalls this process (a node-redis client's first connect, ~100 ms here): done before
 * the cuts, so that a stall of the harness's own is not measured as the holder's.
 */
async function warmUp(ctx: Ctx, lib: LibId, direct: Redis): Promise<void> {
  const proxy = await startProxy(Number(new URL(ctx.url).port));
  try {
    const via = await connectVia(lib, proxy.url);
    try {
      const key = `bench-w8-warm-${lib}-${process.pid}`;
      const held = await hold(lib, via.client, direct, key, 1_000);
      await held.expiry();
      await held.end();
      await (await openLock(direct, { lib, key, permits: 1, ttl: ctx.cfg.ttl }).acquire()).release();
    } finally {
      await via.close();
    }
  } finally {
    await proxy.close();
  }
}

/** `runs` cuts, `parallel` at a time, for one library; the timer probe runs meanwhile. */
export async function marginRound(ctx: Ctx, lib: LibId): Promise<MarginRound> {
  const { runs: count, parallel, ttls, seed } = ctx.cfg.margin;
  const rand = rng(seed).next;
  const direct = new IORedis(ctx.url);
  const ticks: Tick[] = [];
  countUnhandled();
  const counted: { unhandled: number; first?: unknown } = { unhandled: 0 };
  running = counted;
  let probing = true;
  let probe: Promise<void> | undefined;
  const runs: Run[] = [];
  // Each worker keeps one proxy and one client for its runs, made before the probe starts:
  // a new client per run would measure client creation (a node-redis client's costs this
  // process 20–50 ms).
  const lines: Line[] = [];
  try {
    await warmUp(ctx, lib, direct);
    for (let i = 0; i < parallel; i++) {
      const proxy = await startProxy(Number(new URL(ctx.url).port));
      try {
        lines.push({ proxy, via: await connectVia(lib, proxy.url) });
      } catch (error) {
        await proxy.close();
        throw error;
      }
    }
    probe = (async () => {
      while (probing) {
        const due = performance.now() + 2;
        await sleep(2);
        ticks.push({ at: now(), late: performance.now() - due });
      }
    })();
    // Decided up front, so that the schedule depends on the seed alone.
    const plan = Array.from({ length: count }, (_, i) => ({
      ttl: ttls[i % ttls.length]!,
      kind: kinds[Math.floor(rand() * kinds.length)]!,
      rand: rng(Math.floor(rand() * 2 ** 32)).next,
    }));
    let next = 0;
    const worker = async (line: Line) => {
      for (let i = next++; i < plan.length; i = next++) {
        const p = plan[i]!;
        runs.push(await oneRun(ctx, lib, line, direct, p.ttl, p.kind, p.rand));
      }
    };
    // Every worker ends before the round does, even when one failed.
    const ended = await Promise.allSettled(lines.map(worker));
    for (const e of ended) if (e.status === 'rejected') throw e.reason;
  } finally {
    probing = false;
    await probe;
    for (const line of lines) {
      await line.via.close();
      await line.proxy.close();
    }
    direct.disconnect();
    // What the last run's closing set off settles before the next library's round; later
    // ones still count against this library until the next round begins.
    await sleep(100);
  }
  if (counted.first !== undefined) {
    process.stdout.write(
      `    ${lib}: ${counted.unhandled} unhandled rejection(s), the first: ${String(counted.first)}\n`,
    );
  }
  return { runs, ticks, unhandled: counted.unhandled };
}

export function marginFigures(lib: LibId, rounds: readonly MarginRound[]): MarginFigures {
  const runs = rounds.flatMap((r) => r.runs);
  const ticks = rounds.flatMap((r) => r.ticks);
  const lateness = ticks.map((t) => t.late);
  // The lateness of the timers that fired around a moment: the holder's own timer was among them.
  const lateAround = (at: number) => Math.max(0, ...ticks.filter((t) => Math.abs(t.at - at) <= 3).map((t) => t.late));
  const told = runs.filter((r) => r.outcome === 'told');
  const margins = told.map((r) => r.margin!);
  const ours = lib === 'fair' || lib === 'fair-node-redis';
  const allowance = (ttl: number) => (ours ? holderAllowance(ttl) : 0);
  const byKind: Partial<Record<Kind, number>> = {};
  for (const r of told) byKind[r.kind] = Math.min(byKind[r.kind] ?? Number.POSITIVE_INFINITY, r.margin!);
  const ttls = [...new Set(runs.map((r) => r.ttl))];
  return {
    runs: runs.length,
    toldFirst: margins.filter((m) => m > 0).length,
    toldLate: margins.filter((m) => m <= 0).length,
    neverTold: runs.filter((r) => r.outcome === 'never told').length,
    heldOn: runs.filter((r) => r.outcome === 'held on').length,
    lostBeforeCut: runs.filter((r) => r.outcome === 'lost before the cut').length,
    min: margins.length ? Math.min(...margins) : Number.NaN,
    p1: percentile(margins, 0.01),
    p50: percentile(margins, 0.5),
    max: max(margins),
    minOverAllowance: told.length ? Math.min(...told.map((r) => r.margin! - allowance(r.ttl))) : Number.NaN,
    usedBeyondLateness: told.length
      ? Math.max(...told.map((r) => allowance(r.ttl) - r.margin! - lateAround(r.toldAt!)))
      : Number.NaN,
    allowances: Object.fromEntries(ttls.map((ttl) => [String(ttl), allowance(ttl)])),
    heardP50: percentile(
      told.map((r) => r.heard!),
      0.5,
    ),
    heardMin: told.length ? Math.min(...told.map((r) => r.heard!)) : Number.NaN,
    roundTripMax: max(told.map((r) => r.roundTrip!)),
    lateP50: percentile(lateness, 0.5),
    lateP99: percentile(lateness, 0.99),
    lateMax: max(lateness),
    byKind,
    unhandled: rounds.reduce((sum, r) => sum + r.unhandled, 0),
  };
}
