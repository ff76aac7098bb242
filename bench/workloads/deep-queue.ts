/**
 * W4: the same closed loop (acquire, release at once, acquire again) with 10 and
 * with 10,000 waiters on one key: per-operation latency must not grow with depth.
 */
import { now, sleep } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId, Sample, WaitResult } from '../protocol.js';
import { keysMemory, usedMemory } from '../redis-info.js';
import { handoffs, percentile } from '../stats.js';
import { queue } from './waiters.js';

export type DepthFigures = {
  depth: number;
  /** acquire() call → "queued" reply (this library only). */
  enqueueP50: number;
  enqueueP99: number;
  /** Previous holder's release call → next holder's grant. */
  handoffP50: number;
  handoffP99: number;
  handoffsPerSec: number;
  /** Redis memory of the key's data per waiter (MEMORY USAGE delta). */
  keyBytesPerWaiter: number;
  /** INFO used_memory delta per waiter: includes connections, pub/sub, allocator noise. */
  usedBytesPerWaiter: number;
};

export async function deepQueue(ctx: Ctx, lib: LibId): Promise<DepthFigures[]> {
  const out: DepthFigures[] = [];
  for (const depth of ctx.cfg.deep.depths) out.push(await atDepth(ctx, lib, depth));
  return out;
}

async function atDepth(ctx: Ctx, lib: LibId, depth: number): Promise<DepthFigures> {
  const { processes, seconds } = ctx.cfg.deep;
  const s = spec(ctx, 'w4', lib);
  const [holder] = ctx.pool.take(1);
  await holder!.call({ op: 'hold', spec: s }, 30_000);
  const keysBefore = await keysMemory(ctx.admin, s.key);
  const usedBefore = await usedMemory(ctx.admin);
  const waiters = await queue(ctx, holder!, s, depth, processes);
  try {
    const keyBytes = (await keysMemory(ctx.admin, s.key)) - keysBefore;
    const usedBytes = (await usedMemory(ctx.admin)) - usedBefore;
    // The holder's release starts the loop; the first moments are left out as warm-up.
    await holder!.call({ op: 'unhold' }, 30_000);
    const from = now() + Math.min(500, seconds * 200);
    await sleep(seconds * 1000);
    const to = now();
    const results = await Promise.all(waiters.fillers.map((f) => f.call<WaitResult>({ op: 'collect' }, 30_000)));
    const samples: Sample[] = results.flatMap((r) => r.samples);
    const enqueue = samples
      .filter((x) => x.req >= from && x.req <= to && Number.isFinite(x.queued))
      .map((x) => x.queued - x.req);
    const hand = handoffs(samples, from, to);
    return {
      depth,
      enqueueP50: percentile(enqueue, 0.5),
      enqueueP99: percentile(enqueue, 0.99),
      handoffP50: percentile(hand, 0.5),
      handoffP99: percentile(hand, 0.99),
      handoffsPerSec: (hand.length / (to - from)) * 1000,
      keyBytesPerWaiter: keyBytes / depth,
      usedBytesPerWaiter: usedBytes / depth,
    };
  } finally {
    await waiters.stop();
  }
}
