/**
 * W7, open loop: requests arrive at random (Poisson) from several processes, each one
 * acquire → hold by sleeping → release, on a semaphore, at set shares of its capacity.
 * Unlike W2/W3, a late grant does not slow the arrivals down: queues form as in a service
 * whose callers do not wait for one another.
 */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, OpenPhase, OpenResult } from '../protocol.js';
import { max, maxConcurrent, type Overtakes, overtakes, percentile } from '../stats.js';

/** One load level of one round; rounds of one library are merged level by level. */
export type OpenLevelRound = {
  load: number;
  seconds: number;
  waits: number[];
  holds: number[];
  overtakes: Overtakes;
  maxConcurrent: number;
  /** The same requests through an ideal FIFO semaphore (no overhead at all): see idealFifo. */
  idealWaits: number[];
};

export type OpenFigures = {
  /** Share of the capacity (permits ÷ hold) the arrival rate was set to. */
  load: number;
  /** Requests made in the measuring windows; every one completed (none is dropped). */
  requests: number;
  /** Requests made per second in the windows: the rate the Poisson draws actually gave. */
  perSec: number;
  waitP50: number;
  waitP99: number;
  waitMax: number;
  /** Requests granted after a request made ≥ 1 ms later (stats.overtakes), and their share. */
  overtaken: number;
  overtakenShare: number;
  worstOvertakes: number;
  /** Grant → release call: the sleep as it really took (timers fire late, never early). */
  holdP50: number;
  maxConcurrent: number;
  /** Wait p50 / p99 an ideal FIFO semaphore would have given these very requests. */
  idealP50: number;
  idealP99: number;
};

/**
 * The waits of an ideal FIFO semaphore with `permits` permits on the same requests:
 * each is served in arrival order as soon as a permit is free, for the hold it really
 * had, with no time lost to Redis, messages or clients. No queue discipline does better
 * on the tail for a given arrival sequence, so it is the floor a fair lock can reach.
 */
export function idealFifo(requests: readonly { req: number; hold: number }[], permits: number): number[] {
  const order = requests.map((r, i) => ({ ...r, i })).sort((a, b) => a.req - b.req);
  const freeAt = new Array<number>(permits).fill(Number.NEGATIVE_INFINITY);
  const waits = new Array<number>(requests.length);
  for (const r of order) {
    // The permit that comes free first; permits is small, so a scan is fine.
    let k = 0;
    for (let j = 1; j < permits; j++) if (freeAt[j]! < freeAt[k]!) k = j;
    const start = Math.max(r.req, freeAt[k]!);
    freeAt[k] = start + r.hold;
    waits[r.i] = start - r.req;
  }
  return waits;
}

/** How long the requests still waiting at the end may take to be served. */
const drainMs = 120_000;

export function capacityPerSec(permits: number, holdMs: number): number {
  return permits / (holdMs / 1000);
}

export async function openRound(ctx: Ctx, lib: LibId): Promise<OpenLevelRound[]> {
  const o = ctx.cfg.open;
  const clients = ctx.pool.take(o.processes);
  // Time for every client to connect before the common start.
  const startAt = now() + 500;
  const levelMs = (o.warmupSeconds + o.seconds) * 1000;
  // Levels follow one another without a pause; each one's warm-up lets the queue settle at its rate.
  const levels = o.loads.map((load, i) => ({
    load,
    from: startAt + i * levelMs + o.warmupSeconds * 1000,
    until: startAt + (i + 1) * levelMs,
  }));
  const perProcess = (load: number) => (load * capacityPerSec(o.permits, o.holdMs)) / o.processes;
  const phases: OpenPhase[] = levels.map((l, i) => ({
    perSec: perProcess(l.load),
    until: i === levels.length - 1 ? l.until + o.cooldownSeconds * 1000 : l.until,
  }));
  const end = phases.at(-1)?.until ?? startAt;
  const s = spec(ctx, 'w7', lib, o.permits);
  const results = await Promise.all(
    clients.map((c) =>
      c.call<OpenResult>({ op: 'open', spec: s, holdMs: o.holdMs, startAt, phases }, end - now() + drainMs),
    ),
  );
  const samples = results.flatMap((r) => r.samples);
  const ideal = idealFifo(
    samples.map((x) => ({ req: x.req, hold: x.rel - x.grant })),
    o.permits,
  );
  return levels.map((l) => {
    const inWindow = (x: { req: number }) => x.req >= l.from && x.req <= l.until;
    const measured = samples.filter(inWindow);
    return {
      load: l.load,
      seconds: (l.until - l.from) / 1000,
      waits: measured.map((x) => x.grant - x.req),
      holds: measured.map((x) => x.rel - x.grant),
      // Later requests of any level (and of the cool-down) count as overtakers.
      overtakes: overtakes(samples, l.from, l.until),
      maxConcurrent: maxConcurrent(measured),
      idealWaits: ideal.filter((_, i) => inWindow(samples[i]!)),
    };
  });
}

export function openFigures(rounds: readonly OpenLevelRound[][]): OpenFigures[] {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const levels = rounds[0] ?? [];
  return levels.map((first, i) => {
    const at = rounds.flatMap((r) => r[i] ?? []);
    const waits = at.flatMap((l) => l.waits);
    const overtaken = sum(at.map((l) => l.overtakes.overtaken));
    return {
      load: first.load,
      requests: waits.length,
      perSec: waits.length / sum(at.map((l) => l.seconds)),
      waitP50: percentile(waits, 0.5),
      waitP99: percentile(waits, 0.99),
      waitMax: max(waits),
      overtaken,
      overtakenShare: overtaken / sum(at.map((l) => l.overtakes.considered)),
      worstOvertakes: Math.max(...at.map((l) => l.overtakes.worst)),
      holdP50: percentile(
        at.flatMap((l) => l.holds),
        0.5,
      ),
      maxConcurrent: Math.max(...at.map((l) => l.maxConcurrent)),
      idealP50: percentile(
        at.flatMap((l) => l.idealWaits),
        0.5,
      ),
      idealP99: percentile(
        at.flatMap((l) => l.idealWaits),
        0.99,
      ),
    };
  });
}
