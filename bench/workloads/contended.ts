/** W2 (mutex) and W3 (semaphore): processes that acquire, busy-hold and release in a loop. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { ContendResult, LibId, Sample } from '../protocol.js';
import { commandStats, scriptCost, statsDelta } from '../redis-info.js';
import { handoffs, jain, max, maxConcurrent, overtakes, percentile } from '../stats.js';

export type ContendShape = { permits: number; processes: number; holdMs: number; seconds: number; warmupSeconds: number };

export type ContendFigures = {
  acquisitions: number;
  perSec: number;
  waitP50: number;
  waitP99: number;
  waitMax: number;
  handoffP50: number;
  handoffP99: number;
  /** Share of acquisitions granted after a request made ≥ 1 ms later. */
  overtakenShare: number;
  /** Most later requests granted ahead of one acquisition. */
  worstOvertakes: number;
  jain: number;
  maxConcurrent: number;
  commandsPerAcquisition: number;
  /** Redis CPU per script call (EVALSHA), µs. */
  scriptUsec: number;
  /** Every wait in the window, for the chart. */
  waits: number[];
};

/** How long stragglers may take to finish their last acquisition after the window. */
const drainMs = 60_000;

export async function contended(ctx: Ctx, lib: LibId, shape: ContendShape, name: string): Promise<ContendFigures> {
  const clients = ctx.pool.take(shape.processes);
  // Time for every client to connect before the common start.
  const startAt = now() + 500;
  const from = startAt + shape.warmupSeconds * 1000;
  const until = from + shape.seconds * 1000;
  const s = spec(ctx, name, lib, shape.permits);
  const before = await commandStats(ctx.admin);
  const results = await Promise.all(
    clients.map((c) =>
      c.call<ContendResult>({ op: 'contend', spec: s, holdMs: shape.holdMs, startAt, until }, until - now() + drainMs),
    ),
  );
  const cost = scriptCost(statsDelta(before, await commandStats(ctx.admin)));
  const samples: Sample[] = results.flatMap((r) => r.samples);
  const inWindow = samples.filter((x) => x.req >= from && x.req <= until);
  const waits = inWindow.map((x) => x.grant - x.req);
  const granted = samples.filter((x) => x.grant >= from && x.grant <= until);
  const perProcess = clients.map((c) => granted.filter((x) => x.proc === c.proc).length);
  const hand = handoffs(samples, from, until);
  const over = overtakes(samples, from, until);
  const sent = results.reduce((a, r) => a + r.sent, 0);
  return {
    acquisitions: granted.length,
    perSec: granted.length / shape.seconds,
    waitP50: percentile(waits, 0.5),
    waitP99: percentile(waits, 0.99),
    waitMax: max(waits),
    handoffP50: percentile(hand, 0.5),
    handoffP99: percentile(hand, 0.99),
    overtakenShare: over.share,
    worstOvertakes: over.worst,
    jain: jain(perProcess),
    maxConcurrent: maxConcurrent(samples),
    commandsPerAcquisition: sent / samples.length,
    scriptUsec: cost.usecPerCall,
    waits,
  };
}
