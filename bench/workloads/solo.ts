/** W1: one client, sequential acquire+release pairs on a mutex, PINGs interleaved. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, SoloResult } from '../protocol.js';
import { commandStats, scriptCost, statsDelta } from '../redis-info.js';
import { percentile } from '../stats.js';

export type SoloRound = SoloResult & { scriptCalls: number; scriptUsec: number };

export type SoloFigures = {
  pairs: number;
  pairsPerSec: number;
  pairP50: number;
  pairP99: number;
  pingP50: number;
  /** Commands the client sent per pair: the round trips a pair costs. */
  commandsPerPair: number;
  /** Redis CPU per script call (EVALSHA), µs. */
  scriptUsec: number;
};

export async function soloRound(ctx: Ctx, lib: LibId, seconds: number): Promise<SoloRound> {
  const [client] = ctx.pool.take(1);
  const before = await commandStats(ctx.admin);
  const r = await client!.call<SoloResult>(
    { op: 'solo', spec: spec(ctx, 'w1', lib), warmup: ctx.cfg.solo.warmup, until: now() + seconds * 1000 },
    seconds * 1000 + 60_000,
  );
  const cost = scriptCost(statsDelta(before, await commandStats(ctx.admin)));
  return { ...r, scriptCalls: cost.calls, scriptUsec: cost.usec };
}

export function soloFigures(rounds: readonly SoloRound[]): SoloFigures {
  const pairs = rounds.flatMap((r) => r.pairs);
  const pings = rounds.flatMap((r) => r.pings);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    pairs: pairs.length,
    // Time spent in pairs only: the interleaved PINGs are not the library's cost.
    pairsPerSec: (pairs.length / sum(pairs)) * 1000,
    pairP50: percentile(pairs, 0.5),
    pairP99: percentile(pairs, 0.99),
    pingP50: percentile(pings, 0.5),
    commandsPerPair: sum(rounds.map((r) => r.sent)) / pairs.length,
    scriptUsec: sum(rounds.map((r) => r.scriptUsec)) / sum(rounds.map((r) => r.scriptCalls)),
  };
}
