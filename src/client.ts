import type { Client } from './scripts.js';

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
