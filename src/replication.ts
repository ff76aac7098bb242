import { performance } from 'node:perf_hooks';
import type { SemaphoreContext } from './context.js';
import { LeaseLostError, NotReplicatedError } from './errors.js';

/**
 * Resolves once `ctx.replicas` replicas hold the grant of `token`. WAIT only covers
 * writes made on its own connection, and another client's script may have made the
 * grant; so a refresh goes first on ours. The two are sent back to back (one round
 * trip), and replication keeps order: once the refresh is confirmed, so is the grant.
 */
export async function confirmReplicated(ctx: SemaphoreContext, token: string, fence: number): Promise<number> {
  // The refresh renews the lease from when it was sent: the lease counts its ttl from here.
  const sentAt = performance.now();
  const [held, acknowledged] = await Promise.all([
    ctx.scripts.refresh(token, fence, ctx.ttl),
    // The constructor refused `replicas` where there is no wait.
    ctx.adapter.wait!(ctx.replicas, ctx.replicaTimeout),
  ]);
  if (held === undefined) throw new LeaseLostError(ctx.key, fence, 'it was gone before its replicas confirmed it');
  if (acknowledged < ctx.replicas) {
    throw new NotReplicatedError(ctx.key, ctx.replicas, acknowledged, ctx.replicaTimeout);
  }
  return sentAt;
}
