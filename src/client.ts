import type { Cluster } from 'ioredis';
import { ClientClosedError } from './errors.js';
import type { Client } from './scripts.js';

export function isCluster(client: Client): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** Duck-typed, so a second copy of ioredis in node_modules still counts as ioredis. */
export function requireClient(client: unknown): Client {
  const c = client as Partial<Record<'defineCommand' | 'duplicate' | 'evalsha', unknown>> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.defineCommand !== 'function' ||
    typeof c.duplicate !== 'function' ||
    typeof c.evalsha !== 'function'
  ) {
    throw new TypeError(
      `Expected \`redis\` to be an ioredis Redis or Cluster client, got ${c === null ? 'null' : typeof client}`,
    );
  }
  return client as Client;
}

/**
 * True from the moment quit() or disconnect() is called on `client` (or it ended: its
 * retry strategy gave up), though ioredis reports status "ready" until the socket closes.
 */
export function isClosed(client: Client): boolean {
  const { status, manuallyClosing } = client as unknown as { status?: string; manuallyClosing?: boolean };
  if (status === 'end') return true;
  // ioredis's own flag (5 and 6): quit() and disconnect() set it at the call, while a
  // connection that merely dropped passes 'close' and 'reconnecting' without it, and comes back.
  if (manuallyClosing !== true) return false;
  // A Redis clears it as it ends; a Cluster only once a later connect() is under way.
  return !isCluster(client) || status === 'disconnecting' || status === 'close';
}

/** ioredis's error, in 5 and 6 alike, for a command it dropped because its client closed. */
const connectionClosed = 'Connection is closed.';

/** A command dropped because the client was closed meanwhile fails as a call made after would: ClientClosedError. */
export function closedError(client: Client, key: string, error: unknown): unknown {
  const dropped = error instanceof Error && error.message === connectionClosed;
  return dropped && isClosed(client) ? new ClientClosedError(key, { cause: error }) : error;
}

const checked = new WeakSet<Client>();

/**
 * Warns once per client when Redis may evict the semaphore's keys under memory
 * pressure: an evicted holder or fence would break mutual exclusion silently.
 * Runs beside the first acquire, never in its path; a Redis that forbids CONFIG is left alone.
 */
export function checkEvictionPolicy(client: Client, key: string): void {
  if (checked.has(client)) return;
  checked.add(client);
  client.config('GET', 'maxmemory-policy').then(
    (reply) => {
      const policy = Array.isArray(reply) ? reply[1] : undefined;
      if (typeof policy === 'string' && policy !== 'noeviction') {
        process.emitWarning(
          `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict the keys of semaphore ` +
            `"${key}" and let two holders in. Set maxmemory-policy to noeviction.`,
          { type: 'SemaphoreWarning', code: 'RFS_EVICTION_POLICY' },
        );
      }
    },
    () => {},
  );
}
