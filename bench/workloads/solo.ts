/** W1: one client, sequential acquire+release pairs on a mutex, PINGs interleaved. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, SoloResult } from '../protocol.js';
import { clientCommandsUsec, commandStats, scriptCost, statsDelta } from '../redis-info.js';
import { percentile } from '../stats.js';

export type SoloRound = SoloResult & {
  /** Pairs Redis saw in the commandstats window: the warm-up's and the measured ones. */
  pairsRun: number;
  scriptCalls: number;
  scriptUsec: number;
  /** Redis CPU of every command the client sent (scripts and plain commands), µs. */
  commandUsec: number;
};

export type SoloFigures = {
  pairs: number;
  pairsPerSec: number;
  pairP50: number;
  pairP99: number;
  pingP50: number;
  /** Commands the client sent per pair: the round trips a pair costs. */
  commandsPerPair: number;
  /** Redis CPU per script call (EVALSHA/EVAL), µs. */
  scriptUsec: number;
  /** Redis CPU in scripts per acquire+release pair, µs. */
  scriptUsecPerPair: number;
  /** Redis CPU per pair over every command the client sent (a plain SET NX too), µs. */
  commandUsecPerPair: number;
  /** Client (Node) CPU per pair, µs: the median of every round's chunks. */
  cpuUsecPerPair: number;
};

export async function soloRound(ctx: Ctx, lib: LibId, seconds: number): Promise<SoloRound> {
  const [client] = ctx.pool.take(1);
  const { warmup, cpuPairs, cpuChunks } = ctx.cfg.solo;
  const before = await commandStats(ctx.admin);
  const r = await client!.call<SoloResult>(
    { op: 'solo', spec: spec(ctx, 'w1', lib), warmup, until: now() + seconds * 1000, cpuPairs, cpuChunks },
    seconds * 1000 + 60_000,
  );
  const stats = statsDelta(before, await commandStats(ctx.admin));
  const cost = scriptCost(stats);
  return {
    ...r,
    // The CPU chunks' pairs ran inside the commandstats window too.
    pairsRun: warmup + r.pairs.length + Math.ceil(cpuPairs / cpuChunks) * cpuChunks,
    scriptCalls: cost.calls,
    scriptUsec: cost.usec,
    commandUsec: clientCommandsUsec(stats, r.sentByName),
  };
}

export function soloFigures(rounds: readonly SoloRound[]): SoloFigures {
  const pairs = rounds.flatMap((r) => r.pairs);
  const pings = rounds.flatMap((r) => r.pings);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const pairsRun = sum(rounds.map((r) => r.pairsRun));
  return {
    pairs: pairs.length,
    // Time spent in pairs only: the interleaved PINGs are not the library's cost.
    pairsPerSec: (pairs.length / sum(pairs)) * 1000,
    pairP50: percentile(pairs, 0.5),
    pairP99: percentile(pairs, 0.99),
    pingP50: percentile(pings, 0.5),
    commandsPerPair: sum(rounds.map((r) => r.sent)) / pairs.length,
    scriptUsec: sum(rounds.map((r) => r.scriptUsec)) / sum(rounds.map((r) => r.scriptCalls)),
    // Warm-up pairs ran inside the same commandstats window, so they count in the divisor.
    scriptUsecPerPair: sum(rounds.map((r) => r.scriptUsec)) / pairsRun,
    commandUsecPerPair: sum(rounds.map((r) => r.commandUsec)) / pairsRun,
    cpuUsecPerPair: percentile(
      rounds.flatMap((r) => r.cpuUsecPerPair),
      0.5,
    ),
  };
}
