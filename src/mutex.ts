import type { Client } from './adapters/index.js';
import type { MutexOptions } from './options.js';
import { requireObject } from './validate.js';
import { fixedPermit, Semaphore } from './semaphore.js';

/**
 * A semaphore with one permit: at most one holder at a time, granted in arrival order.
 * A limit stored for its key (through a Semaphore) never gives a Mutex more than one.
 */
export class Mutex extends Semaphore {
  constructor(redis: Client, key: string, options?: MutexOptions) {
    const o = requireObject('options', options);
    if (o['permits'] !== undefined && o['permits'] !== 1) {
      throw new RangeError(
        `A Mutex has exactly one permit; got \`permits\` ${String(o['permits'])}. Use Semaphore instead.`,
      );
    }
    super(redis, key, { ...o, permits: 1, [fixedPermit]: true } as never);
  }

  /** A Mutex has one permit by definition: always rejects with a TypeError. Use a Semaphore to resize. */
  override setPermits(permits: number | null): Promise<void> {
    return Promise.reject(
      new TypeError(
        `A Mutex has exactly one permit; its limit cannot be set (got ${String(permits)}). Use Semaphore instead.`,
      ),
    );
  }
}
