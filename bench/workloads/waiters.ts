/**
 * W4/W5 setup: a holder in a pool client, and many waiters spread over fresh client
 * processes. The waiters are ended by killing their processes, the same way for
 * every library, because redlock's acquire cannot be cancelled.
 */
import { eventually } from '../../test/helpers/eventually.js';
import { keysOf } from '../../test/helpers/keys.js';
import { sleep } from '../clock.js';
import type { Ctx } from '../context.js';
import { type Client, killAll, startClients } from '../pool.js';
import type { LockSpec } from '../protocol.js';

export type Waiters = { holder: Client; fillers: Client[]; stop(): Promise<void> };

export async function holdAndQueue(ctx: Ctx, spec: LockSpec, total: number, processes: number): Promise<Waiters> {
  const [holder] = ctx.pool.take(1);
  await holder!.call({ op: 'hold', spec }, 30_000);
  return queue(ctx, holder!, spec, total, processes);
}

export async function queue(
  ctx: Ctx,
  holder: Client,
  spec: LockSpec,
  total: number,
  processes: number,
): Promise<Waiters> {
  // Numbered after the pool, so their samples never mix with a pool client's.
  const fillers = await startClients(processes, ctx.url, 100);
  const stop = async () => {
    await killAll(fillers);
    await holder.call({ op: 'unhold' }, 30_000).catch(() => {});
    await ctx.admin.flushall();
  };
  try {
    await Promise.all(
      fillers.map((f, i) =>
        f.call({ op: 'wait', spec, count: Math.floor(total / processes) + (i < total % processes ? 1 : 0) }, 30_000),
      ),
    );
    await settled(ctx, spec, total);
  } catch (error) {
    await stop();
    throw error;
  }
  return { holder, fillers, stop };
}

/**
 * This library's queue can be counted; the peers keep no queue, so for them we wait
 * long enough for every waiter to have polled at least once (redlock: 200 ± 100 ms).
 */
async function settled(ctx: Ctx, spec: LockSpec, total: number): Promise<void> {
  if (spec.lib !== 'fair') {
    await sleep(500);
    return;
  }
  const count = () => ctx.admin.zcard(keysOf(spec.key).waiters);
  const queued = await eventually(count, (n) => n >= total, { within: 60_000, every: 50 });
  if (queued < total) throw new Error(`queue never reached ${total} waiters`);
}
