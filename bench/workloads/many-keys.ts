/** W6: one process, many concurrent acquire/release pairs, each worker on a key of its own. */
import { now } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, ManyResult } from '../protocol.js';
import { percentile } from '../stats.js';

export type ManyFigures = { pairs: number; pairsPerSec: number; pairP50: number; commandsPerPair: number };

export async function manyKeys(ctx: Ctx, lib: LibId): Promise<ManyFigures> {
  const { concurrency, seconds } = ctx.cfg.many;
  const [client] = ctx.pool.take(1);
  const startAt = now() + 300;
  const until = startAt + seconds * 1000;
  const r = await client!.call<ManyResult>(
    { op: 'many', spec: spec(ctx, 'w6', lib), concurrency, startAt, until },
    until - now() + 60_000,
  );
  return {
    pairs: r.pairs,
    // Pairs still running at `until` finish after it: divide by the time actually taken.
    pairsPerSec: (r.pairs / r.elapsedMs) * 1000,
    pairP50: percentile(r.pairMs, 0.5),
    commandsPerPair: r.sent / r.pairs,
  };
}
