/**
 * Waits for the replication states Redis announces to no client: a replica's link to
 * its master coming up, a replica taking over as master. Both are read from INFO.
 */
import type { Redis } from 'ioredis';
import { eventually } from './eventually.js';

/** Resolves once `redis` reports `line` in INFO replication; throws with its last report if it never does. */
async function reported(redis: Redis, line: string, poll: { within: number; every: number }): Promise<void> {
  // A client that follows a failover fails a call or two while it reconnects: not yet, rather than an error.
  const read = () => redis.info('replication').catch((error: unknown) => String(error));
  const info = await eventually(read, (text) => text.includes(line), poll);
  if (!info.includes(line)) throw new Error(`INFO replication lacks ${line} after ${poll.within} ms:\n${info}`);
}

/** Resolves once the replica `redis` has synced with its master (a first sync takes milliseconds). */
export function replicaLinked(redis: Redis): Promise<void> {
  return reported(redis, 'master_link_status:up', { within: 10_000, every: 20 });
}

/**
 * Resolves once `redis` (a replica, or a client that follows the master) reports
 * itself master: a failover comes after a node timeout or a sentinel's down-after
 * time, then an election.
 */
export function promoted(redis: Redis): Promise<void> {
  return reported(redis, 'role:master', { within: 30_000, every: 100 });
}
