/** W6: one process, many concurrent acquire/release pairs, each worker on a key of its own. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, ManyResult } from '../protocol.js';
import { percentile } from '../stats.js';

export type ManyFigures = { pairs: number; pairsPerSec: number; pairP50: number; commandsPerPair: number };

export async function manyRound(ctx: Ctx, lib: LibId, seconds: number): Promise<ManyResult> {
  const [client] = ctx.pool.take(1);
  const startAt = now() + 300;
  const until = startAt + seconds * 1000;
  return client!.call<ManyResult>(
    { op: 'many', spec: spec(ctx, 'w6', lib), concurrency: ctx.cfg.many.concurrency, startAt, until },
    until - now() + 60_000,
  );
}

export function manyFigures(rounds: readonly ManyResult[]): ManyFigures {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const pairs = sum(rounds.map((r) => r.pairs));
  return {
    pairs,
    // Pairs still running at `until` finish after it: divide by the time actually taken.
    pairsPerSec: (pairs / sum(rounds.map((r) => r.elapsedMs))) * 1000,
    pairP50: percentile(
      rounds.flatMap((r) => r.pairMs),
      0.5,
    ),
    commandsPerPair: sum(rounds.map((r) => r.sent)) / pairs,
  };
}
