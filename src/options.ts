import type { Lease } from './lease.js';
import { maxTimerDelay } from './timing.js';

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
} as const;


/**
 * An option's value, or its default when it was left out. Only `undefined` means left
 * out: a `null` is passed on, to be refused as the wrong type.
 */
export function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${String(value)} (${typeof value})`;
  }
  if (value === null) return 'null';
  return typeof value;
}

export function requireKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`Expected \`key\` to be a non-empty string, got ${describe(key)}`);
  }
  // A `}` would end the hash tag early and let two different keys share one name (keys.ts).
  return requireText('key', key, '}');
}

export function requirePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describe(prefix)}`);
  }
  // Braces in the prefix would move the hash tag off the key and let names alias (keys.ts).
  return requireText('prefix', prefix, '{}');
}

/**
 * Refuses `forbidden` characters and lone surrogates: Redis gets UTF-8, where every
 * lone surrogate becomes the same replacement character, so two keys would be one.
 */
function requireText(name: string, value: string, forbidden: string): string {
  const bad = [...forbidden].find((c) => value.includes(c));
  if (bad !== undefined) {
    throw new RangeError(`Expected \`${name}\` without "${bad}", got ${describe(value)}`);
  }
  if (!value.isWellFormed()) {
    throw new RangeError(`Expected \`${name}\` to be well-formed Unicode (no lone surrogates), got ${describe(value)}`);
  }
  return value;
}

export function requireCount(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be an integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Expected \`${name}\` to be an integer from 1 to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function requireReplicas(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`replicas\` to be an integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > 1_000) {
    throw new RangeError(`Expected \`replicas\` to be an integer from 0 to 1000, got ${describe(value)}`);
  }
  return value;
}

export function requireMaxWaiters(value: unknown): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return requireCount('maxWaiters', value);
}

export function requireTtl(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`ttl\` to be a number of milliseconds, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 3 || value > maxTimerDelay) {
    throw new RangeError(`Expected \`ttl\` to be an integer from 3 to ${maxTimerDelay} (ms), got ${describe(value)}`);
  }
  return value;
}

export function requireTimeout(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`timeout\` to be a number of milliseconds, got ${describe(value)}`);
  }
  if (value < 0 || (value > maxTimerDelay && value !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(
      `Expected \`timeout\` to be from 0 to ${maxTimerDelay} (ms) or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

export function requireSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(value)}`);
  }
  return value;
}

export function requireBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

export function requireFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value as F;
}

export function requireObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

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

/** Most characters a label may have. */
export const maxLabelLength = 64;
const labelCharacters = /^[A-Za-z0-9 _.:@,=+#()[\]-]+$/;

/**
 * A label travels inside the ticket's token (tokens.ts), so it may not contain the
 * token's separators (`~`, `*`, `/`, `|`): letters, digits, space and `_.:@,=+#()[]-`.
 */
export function requireLabel(value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`label\` to be a string, got ${describe(value)}`);
  }
  if (value.length === 0 || value.length > maxLabelLength || !labelCharacters.test(value)) {
    throw new RangeError(
      `Expected \`label\` to be 1 to ${maxLabelLength} characters of letters, digits, space and _.:@,=+#()[]-, got ${describe(value)}`,
    );
  }
  return value;
}
