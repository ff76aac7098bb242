import { isIoredis } from './adapters/ioredis.js';
import { destroyedMessage, isNodeRedis } from './adapters/node-redis.js';
import type { Adapter } from './adapters/adapter.js';
import type { SemaphoreContext } from './context.js';
import { ClientClosedError } from './errors.js';
import type { Client } from './scripts.js';

/** Duck-typed, so a second copy of either package in node_modules still counts. */
export function requireClient(client: unknown): Client {
  if (typeof client !== 'object' || client === null || !(isIoredis(client) || isNodeRedis(client))) {
    throw new TypeError(
      'Expected `redis` to be an ioredis Redis or Cluster client, or a node-redis (`redis` package) client from ' +
        `createClient(), createCluster() or createSentinel(), got ${client === null ? 'null' : typeof client}`,
    );
  }
  return client;
}

/**
 * What each client says of a command it dropped because it was closed: ioredis 5 and 6
 * ("Connection is closed."), node-redis 4 and 5 (closed, or destroyed while in flight).
 */
const droppedMessages = new Set(['Connection is closed.', 'The client is closed', destroyedMessage]);

/** A command dropped because the client was closed meanwhile fails as a call made after would: ClientClosedError. */
export function closedError(adapter: Adapter, key: string, error: unknown): unknown {
  const dropped = error instanceof Error && droppedMessages.has(error.message);
  return dropped && adapter.closed() ? new ClientClosedError(key, { cause: error }) : error;
}

const checked = new WeakSet<Client>();

/**
 * Warns once per client when Redis may evict the semaphore's keys under memory
 * pressure: an evicted holder or fence would break mutual exclusion silently.
 * Runs beside the first acquire, never in its path; a Redis that forbids CONFIG is left alone.
 */
export function checkEvictionPolicy(ctx: SemaphoreContext): void {
  if (checked.has(ctx.client)) return;
  checked.add(ctx.client);
  const key = ctx.key;
  ctx.adapter.configGet('maxmemory-policy').then(
    (policy) => {
      if (policy !== undefined && policy !== 'noeviction') {
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
