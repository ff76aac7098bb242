import type { Lease } from './lease.js';
import {
  orDefault,
  requireBoolean,
  requireCount,
  requireLabel,
  requireObject,
  requireSignal,
  requireTimeout,
  describe,
} from './validate.js';

/** Options of `new Semaphore(redis, key, options)`. */
export type SemaphoreOptions = {
  /**
   * How many permits the semaphore has: an integer from 1 to 2^53 - 1. Every process
   * using the key must pass the same number (a different one brings a `SemaphoreWarning`).
   */
  readonly permits: number;
  /**
   * Milliseconds a holder keeps its permits, and a waiter its place, without a refresh:
   * an integer from 3 to 2^31 - 1. Leases refresh themselves every `ttl / 3`, so this
   * only bounds how long a dead process blocks others; a lease acquired with
   * `autoRefresh: false` is held for exactly this long unless extended.
   * @default 10000
   */
  readonly ttl?: number;
  /**
   * Prefix of every Redis key and channel the semaphore uses; without `{` or `}`.
   * @default 'rfs'
   */
  readonly prefix?: string;
  /**
   * Grants count only once this many replicas have them (Redis `WAIT`), so a failover
   * to one of them keeps the grant. Costs one round trip per grant. Not for Cluster
   * clients. An integer from 0 to 1000.
   * @default 0
   */
  readonly replicas?: number;
  /**
   * Milliseconds to wait for `replicas` to confirm a grant before giving it back and
   * rejecting with `NotReplicatedError`: an integer from 1 to 2^31 - 1.
   * @default 1000
   */
  readonly replicaTimeout?: number;
  /**
   * Most tickets that may wait on the key at once (counted in Redis, across all
   * processes); a further acquire rejects with `QueueFullError`. An integer from 1, or
   * `Infinity` for no cap.
   * @default 100000
   */
  readonly maxWaiters?: number;
  /**
   * Shown by `status()` and the CLI beside this semaphore's holders and waiters, so an
   * operator can tell who holds a permit (a host, a job name). 1 to 64 characters:
   * letters, digits, space and `_.:@,=+#()[]-`. An acquire's own `label` replaces it.
   * Tickets without a label cost Redis nothing for it.
   * @default undefined
   */
  readonly label?: string;
};

/** Options of `new Mutex(redis, key, options)`: a semaphore with one permit. */
export type MutexOptions = Omit<SemaphoreOptions, 'permits'>;

/** Options of `acquire()`, `tryAcquire()` and `use()`. */
export type AcquireOptions = {
  /**
   * Give up after this many milliseconds of waiting, with an `AcquireTimeoutError`:
   * from 0 to 2^31 - 1, or `Infinity`. `0` means: only if it is granted on the first
   * try (without jumping the queue).
   * @default Infinity
   */
  readonly timeout?: number;
  /** Aborting it gives up the wait; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Permits this acquisition takes at once: an integer from 1 to `permits`.
   * @default 1
   */
  readonly weight?: number;
  /** This acquisition's label in `status()` (see `SemaphoreOptions.label`); replaces the semaphore's. */
  readonly label?: string;
  /**
   * `false` gives the lease a fixed term instead of refreshing it every `ttl / 3`: it
   * is held for `ttl` from the grant unless extended (`lease.extend(ms)`) or released,
   * and its `signal` aborts when the term ends. For leases handed to another process
   * (`lease.id`, `semaphore.lease(id)`), or that must outlive this one.
   * @default true
   */
  readonly autoRefresh?: boolean;
};

/** Options of `use()`: those of `acquire()`, plus single-flight skipping. */
export type UseOptions = AcquireOptions & {
  /**
   * Checked before queueing and again once the lease is granted. When it returns
   * true, `fn` runs without a lease (`null`): someone else already did the work.
   */
  readonly skip?: () => boolean | Promise<boolean>;
};

/** What `use(fn)` calls: the lease, or `null` when `skip` said the work is done. */
export type UseCallback<T, L extends Lease | null> = (lease: L) => T | Promise<T>;

export const defaults = {
  ttl: 10_000,
  replicas: 0,
  replicaTimeout: 1_000,
  maxWaiters: 100_000,
  prefix: 'rfs',
  timeout: Number.POSITIVE_INFINITY,
  weight: 1,
  autoRefresh: true,
  /** How many waiters `status()` lists. */
  statusLimit: 100,
} as const;

/** Acquire options with defaults applied, checked against the semaphore's permits. */
export type ResolvedAcquire = {
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
  readonly weight: number;
  readonly label: string | undefined;
  readonly autoRefresh: boolean;
};

/** `label`: the semaphore's own, which an acquire's replaces. */
export function resolveAcquire(options: unknown, permits: number, label?: string): ResolvedAcquire {
  const o = requireObject('options', options);
  const weight = requireCount('weight', orDefault(o['weight'], defaults.weight));
  if (weight > permits) {
    throw new RangeError(`Expected \`weight\` to be at most permits (${permits}), got ${describe(weight)}`);
  }
  return {
    timeout: requireTimeout(orDefault(o['timeout'], defaults.timeout)),
    signal: requireSignal(o['signal']),
    weight,
    label: o['label'] === undefined ? label : requireLabel(o['label']),
    autoRefresh: requireBoolean('autoRefresh', orDefault(o['autoRefresh'], defaults.autoRefresh)),
  };
}
