/** W1: one client, sequential acquire+release pairs on a mutex, PINGs interleaved. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, SoloResult } from '../protocol.js';
import { commandStats, scriptCost, statsDelta } from '../redis-info.js';
import { percentile } from '../stats.js';

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

export async function solo(ctx: Ctx, lib: LibId): Promise<SoloFigures> {
  const { warmup, seconds } = ctx.cfg.solo;
  const [client] = ctx.pool.take(1);
  const before = await commandStats(ctx.admin);
  const r = await client!.call<SoloResult>(
    { op: 'solo', spec: spec(ctx, 'w1', lib), warmup, until: now() + seconds * 1000 },
    seconds * 1000 + 60_000,
  );
  const cost = scriptCost(statsDelta(before, await commandStats(ctx.admin)));
  const busy = r.pairs.reduce((a, b) => a + b, 0);
  return {
    pairs: r.pairs.length,
    // Time spent in pairs only: the interleaved PINGs are not the library's cost.
    pairsPerSec: (r.pairs.length / busy) * 1000,
    pairP50: percentile(r.pairs, 0.5),
    pairP99: percentile(r.pairs, 0.99),
    pingP50: percentile(r.pings, 0.5),
    commandsPerPair: r.sent / r.pairs.length,
    scriptUsec: cost.usecPerCall,
  };
}
