import type { Adapter } from './adapters/adapter.js';
import { warn } from './warnings.js';

const checked = new WeakSet<Adapter>();

/**
 * Warns once per client when Redis may evict the semaphore's keys under memory
 * pressure: an evicted holder or fence would break mutual exclusion silently.
 * Runs beside the first acquire, never in its path; a Redis that forbids CONFIG is left alone.
 */
export function checkEvictionPolicy(adapter: Adapter, key: string): void {
  if (checked.has(adapter)) return;
  checked.add(adapter);
  adapter.configGet('maxmemory-policy').then(
    (policy) => {
      if (policy !== undefined && policy !== 'noeviction') {
        warn(
          'RFS_EVICTION_POLICY',
          `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict the keys of semaphore ` +
            `"${key}" and let two holders in. Set maxmemory-policy to noeviction.`,
        );
      }
    },
    () => {},
  );
}
