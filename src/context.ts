import type { Adapter } from './adapters/adapter.js';
import type { Client } from './adapters/index.js';
import { SemaphoreError } from './errors.js';
import type { Keyspace } from './keys.js';
import type { Scripts } from './scripts.js';
import { noticeClosed, type WakeListener } from './wake.js';

/** What leases and pending acquisitions need of their semaphore. */
export type SemaphoreContext = {
  readonly client: Client;
  /** How the library talks to `client`. */
  readonly adapter: Adapter;
  readonly key: string;
  readonly permits: number;
  /** A Mutex: its one permit is fixed, whatever limit is stored for the key (tokens say so). */
  readonly fixed: boolean;
  readonly ttl: number;
  /** Replicas that must confirm each grant (0: none), and how long they may take. */
  readonly replicas: number;
  readonly replicaTimeout: number;
  /** Cap on tickets queued on the key; Infinity for none. */
  readonly maxWaiters: number;
  readonly space: Keyspace;
  readonly scripts: Scripts;
  listener(): WakeListener;
  /** This client's inbox channel for the semaphore (grants are published there), made once per listener. */
  inboxChannel(listener: WakeListener): string;
  /** This semaphore object's acquisitions still waiting, and the weight its leases hold. */
  readonly local: { waiting: number; held: number };
  /** Redis showed a holder that asked for other permits than ours. */
  otherPermits(permits: number): void;
};

/**
 * Errors Redis itself replied with (a script error, OOM; not a cluster that is
 * settling), errors of this library (another layout on the key) and unreadable replies
 * will not go away by retrying; anything else (socket closed, timeouts, reconnects) may.
 */
export function isPermanent(adapter: Adapter, error: unknown): boolean {
  return (
    error instanceof SemaphoreError ||
    error instanceof TypeError ||
    (adapter.isReplyError(error) && !passing.test((error as Error).message))
  );
}

/**
 * Replies that say "not now" rather than "no": a cluster settling (ioredis retries these
 * itself, node-redis hands them on), a replica loading its data or cut off from its master.
 */
const passing = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN) /;

/**
 * True once the user's client was closed for good: from the quit() or disconnect() call
 * on, before ioredis says 'end'. Its listener, and so its refreshing leases, end at once.
 */
export function clientEnded(ctx: SemaphoreContext): boolean {
  return noticeClosed(ctx.client, ctx.adapter);
}
