/** W2 (mutex) and W3 (semaphore): processes that acquire, busy-hold and release in a loop. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { ContendResult, LibId, Sample } from '../protocol.js';
import { commandStats, scriptCost, statsDelta } from '../redis-info.js';
import { handoffs, jain, max, maxConcurrent, type Overtakes, overtakes, percentile } from '../stats.js';

export type ContendShape = { permits: number; processes: number; holdMs: number; warmupSeconds: number };

/** What one round yields; rounds of one library are merged into its figures. */
export type ContendRound = {
  seconds: number;
  granted: number;
  waits: number[];
  /** acquire() call → its first command written: time the client process lost before asking. */
  sendDelays: number[];
  handoffs: number[];
  clientOrder: Overtakes;
  /** Only for a library with fencing tokens (this one): Redis's grant order. */
  redisOrder: Overtakes | null;
  /** Redis's grant order against when each request left its process. */
  redisOrderBySend: Overtakes | null;
  perProcess: number[];
  maxConcurrent: number;
  sent: number;
  acquisitions: number;
  scriptCalls: number;
  scriptUsec: number;
};

export type ContendFigures = {
  acquisitions: number;
  perSec: number;
  waitP50: number;
  waitP99: number;
  waitMax: number;
  handoffP50: number;
  handoffP99: number;
  sendDelayP99: number;
  sendDelayMax: number;
  /** Share of acquisitions granted after a request made ≥ 1 ms later. */
  overtakenShare: number;
  /** Most later requests granted ahead of one acquisition. */
  worstOvertakes: number;
  /**
   * The same in Redis's grant order (fencing tokens; this library only), by call
   * time and by send time: tells the queue apart from clients slow to send or to see a grant.
   */
  redisOrderOvertakenShare: number;
  redisOrderBySendOvertakenShare: number;
  jain: number;
  maxConcurrent: number;
  commandsPerAcquisition: number;
  /** Redis CPU per script call (EVALSHA), µs. */
  scriptUsec: number;
  /** Every wait in the windows, for the chart. */
  waits: number[];
};

/** How long stragglers may take to finish their last acquisition after the window. */
const drainMs = 60_000;

export async function contendRound(
  ctx: Ctx,
  lib: LibId,
  shape: ContendShape,
  seconds: number,
  name: string,
): Promise<ContendRound> {
  const clients = ctx.pool.take(shape.processes);
  // Time for every client to connect before the common start.
  const startAt = now() + 500;
  const from = startAt + shape.warmupSeconds * 1000;
  const until = from + seconds * 1000;
  const s = spec(ctx, name, lib, shape.permits);
  const before = await commandStats(ctx.admin);
  const results = await Promise.all(
    clients.map((c) =>
      c.call<ContendResult>({ op: 'contend', spec: s, holdMs: shape.holdMs, startAt, until }, until - now() + drainMs),
    ),
  );
  const cost = scriptCost(statsDelta(before, await commandStats(ctx.admin)));
  const samples: Sample[] = results.flatMap((r) => r.samples);
  const granted = samples.filter((x) => x.grant >= from && x.grant <= until);
  const fenced = samples.every((x) => Number.isFinite(x.fence));
  return {
    seconds,
    granted: granted.length,
    waits: samples.filter((x) => x.req >= from && x.req <= until).map((x) => x.grant - x.req),
    // Send times are hooked on ioredis only: a node-redis client's samples have none (NaN, null after IPC).
    sendDelays: samples
      .filter((x) => x.req >= from && x.req <= until && typeof x.sent === 'number' && Number.isFinite(x.sent))
      .map((x) => x.sent - x.req),
    handoffs: handoffs(samples, from, until),
    clientOrder: overtakes(samples, from, until),
    redisOrder: fenced ? overtakes(samples, from, until, (x) => x.fence) : null,
    redisOrderBySend: fenced
      ? overtakes(
          samples,
          from,
          until,
          (x) => x.fence,
          (x) => x.sent,
        )
      : null,
    perProcess: clients.map((c) => granted.filter((x) => x.proc === c.proc).length),
    maxConcurrent: maxConcurrent(samples),
    sent: results.reduce((a, r) => a + r.sent, 0),
    acquisitions: samples.length,
    scriptCalls: cost.calls,
    scriptUsec: cost.usec,
  };
}

export function contendFigures(rounds: readonly ContendRound[]): ContendFigures {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const waits = rounds.flatMap((r) => r.waits);
  const hand = rounds.flatMap((r) => r.handoffs);
  const share = (pick: (r: ContendRound) => Overtakes | null) => {
    const all = rounds.map(pick);
    if (all.some((o) => o === null)) return Number.NaN;
    const o = all as Overtakes[];
    return sum(o.map((x) => x.overtaken)) / sum(o.map((x) => x.considered));
  };
  // Per-process counts add up over rounds: the same processes ran every round.
  const perProcess = rounds[0]?.perProcess.map((_, i) => sum(rounds.map((r) => r.perProcess[i] ?? 0))) ?? [];
  const granted = sum(rounds.map((r) => r.granted));
  return {
    acquisitions: granted,
    perSec: granted / sum(rounds.map((r) => r.seconds)),
    waitP50: percentile(waits, 0.5),
    waitP99: percentile(waits, 0.99),
    waitMax: max(waits),
    handoffP50: percentile(hand, 0.5),
    handoffP99: percentile(hand, 0.99),
    sendDelayP99: percentile(
      rounds.flatMap((r) => r.sendDelays),
      0.99,
    ),
    sendDelayMax: max(rounds.flatMap((r) => r.sendDelays)),
    overtakenShare: share((r) => r.clientOrder),
    worstOvertakes: Math.max(...rounds.map((r) => r.clientOrder.worst)),
    redisOrderOvertakenShare: share((r) => r.redisOrder),
    redisOrderBySendOvertakenShare: share((r) => r.redisOrderBySend),
    jain: jain(perProcess),
    maxConcurrent: Math.max(...rounds.map((r) => r.maxConcurrent)),
    commandsPerAcquisition: sum(rounds.map((r) => r.sent)) / sum(rounds.map((r) => r.acquisitions)),
    scriptUsec: sum(rounds.map((r) => r.scriptUsec)) / sum(rounds.map((r) => r.scriptCalls)),
    waits,
  };
}
