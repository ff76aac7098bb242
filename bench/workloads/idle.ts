/** W5: many waiters blocked behind one holder; what does waiting cost Redis? */
import { sleep } from '../clock.js';
import { type Ctx, spec } from '../context.js';
import type { LibId } from '../protocol.js';
import { commandStats, statsDelta, totalCalls } from '../redis-info.js';
import { holdAndQueue } from './waiters.js';

export type IdleFigures = {
  waiters: number;
  /** Commands the waiting processes sent, per waiter per second. */
  clientCommandsPerWaiterSec: number;
  /** INFO commandstats calls per waiter per second, counting commands run inside scripts. */
  redisCallsPerWaiterSec: number;
};

export async function idle(ctx: Ctx, lib: LibId): Promise<IdleFigures> {
  const { processes, waiters: n, seconds, settleSeconds } = ctx.cfg.idle;
  const w = await holdAndQueue(ctx, spec(ctx, 'w5', lib), n, processes);
  try {
    // Let the start-up burst (connects, subscriptions, first polls) pass.
    await sleep(settleSeconds * 1000);
    const sentCount = () => Promise.all(w.fillers.map((f) => f.call<number>({ op: 'sent' }, 30_000)));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const sentBefore = sum(await sentCount());
    const statsBefore = await commandStats(ctx.admin);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const sentAfter = sum(await sentCount());
    const stats = statsDelta(statsBefore, await commandStats(ctx.admin));
    const elapsed = (performance.now() - t0) / 1000;
    return {
      waiters: n,
      clientCommandsPerWaiterSec: (sentAfter - sentBefore) / n / elapsed,
      redisCallsPerWaiterSec: totalCalls(stats) / n / elapsed,
    };
  } finally {
    await w.stop();
  }
}
