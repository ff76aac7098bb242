/** Stable codes, one per error class, for callers that branch on `error.code`. */
export const ErrorCode = {
  acquireTimeout: 'ERR_SEMAPHORE_ACQUIRE_TIMEOUT',
  leaseLost: 'ERR_SEMAPHORE_LEASE_LOST',
  notReplicated: 'ERR_SEMAPHORE_NOT_REPLICATED',
  queueFull: 'ERR_SEMAPHORE_QUEUE_FULL',
  clientClosed: 'ERR_SEMAPHORE_CLIENT_CLOSED',
  layoutVersion: 'ERR_SEMAPHORE_LAYOUT_VERSION',
  weightExceedsLimit: 'ERR_SEMAPHORE_WEIGHT_EXCEEDS_LIMIT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error this library creates (input errors are plain `TypeError`/`RangeError`). */
export class SemaphoreError extends Error {
  override readonly name: string = 'SemaphoreError';
  readonly code: ErrorCode;
  /** The semaphore's key, as given to the constructor. */
  readonly key: string;

  constructor(code: ErrorCode, key: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.key = key;
  }
}

/** `acquire()` or `use()` waited `timeout` ms without its turn coming. Its ticket has left the queue. */
export class AcquireTimeoutError extends SemaphoreError {
  override readonly name = 'AcquireTimeoutError';
  readonly timeout: number;

  constructor(key: string, timeout: number) {
    super(
      ErrorCode.acquireTimeout,
      key,
      `Could not acquire semaphore "${key}" within ${timeout} ms; its ticket has left the queue. ` +
        'Raise `timeout`, add permits, or shorten what holders do.',
    );
    this.timeout = timeout;
  }
}

/**
 * The lease is no longer held: it expired before a refresh reached Redis, or Redis
 * lost it (restart, flush, failover). Stop the work that needed it.
 */
export class LeaseLostError extends SemaphoreError {
  override readonly name = 'LeaseLostError';
  readonly fencingToken: number;

  constructor(key: string, fencingToken: number, reason: string, options?: ErrorOptions) {
    super(
      ErrorCode.leaseLost,
      key,
      `Lost the lease on semaphore "${key}" (fencing token ${fencingToken}): ${reason}. ` +
        'Another process may hold it now; stop the work it protected.',
      options,
    );
    this.fencingToken = fencingToken;
  }
}

/**
 * With `replicas: n`, fewer than n replicas confirmed the grant within
 * `replicaTimeout`. The permit was given back; the acquire failed.
 */
export class NotReplicatedError extends SemaphoreError {
  override readonly name = 'NotReplicatedError';
  readonly replicas: number;
  readonly acknowledged: number;

  constructor(key: string, replicas: number, acknowledged: number, timeout: number) {
    super(
      ErrorCode.notReplicated,
      key,
      `Only ${acknowledged} of ${replicas} replicas confirmed the grant on semaphore "${key}" within ${timeout} ms; ` +
        'the permit was given back. Check replication, or lower `replicas`.',
    );
    this.replicas = replicas;
    this.acknowledged = acknowledged;
  }
}

/** The queue already holds `maxWaiters` tickets; this acquire was not queued. */
export class QueueFullError extends SemaphoreError {
  override readonly name = 'QueueFullError';
  readonly maxWaiters: number;

  constructor(key: string, maxWaiters: number) {
    super(
      ErrorCode.queueFull,
      key,
      `The queue of semaphore "${key}" is full (${maxWaiters} waiting); this acquire was not queued. ` +
        'Retry later, shed load, or raise `maxWaiters`.',
    );
    this.maxWaiters = maxWaiters;
  }
}

/**
 * The Redis client was closed (quit() or disconnect()): before the call (nothing was
 * sent), while its command was on its way (ioredis dropped it), or while an acquire was
 * waiting (its ticket expires within its ttl).
 */
export class ClientClosedError extends SemaphoreError {
  override readonly name = 'ClientClosedError';

  constructor(key: string, options?: ErrorOptions) {
    super(
      ErrorCode.clientClosed,
      key,
      `The Redis client of semaphore "${key}" is closed; nothing can be acquired with it. ` +
        'Keep the client open until every acquire settles and every lease is released.',
      options,
    );
  }
}

/**
 * The semaphore's key is in use with a data layout this version cannot share: version
 * 1 of this library still holds or waits on it (`layout` 1), or a newer version stored
 * settings this one does not know (`layout` 'newer'). Nothing was changed: sharing the
 * key would break mutual exclusion, or the settings.
 */
export class LayoutVersionError extends SemaphoreError {
  override readonly name = 'LayoutVersionError';
  readonly layout: 1 | 'newer';

  constructor(key: string, layout: 1 | 'newer' = 1) {
    super(
      ErrorCode.layoutVersion,
      key,
      layout === 1
        ? `Semaphore "${key}" is in use by processes running version 1 of redis-fair-semaphore, whose data ` +
            'layout this version (layout 3) cannot share; nothing was changed. Finish the rolling upgrade: ' +
            'the key works here as soon as no version 1 process holds or waits on it.'
        : `Semaphore "${key}" has settings stored by a newer version of redis-fair-semaphore, whose data ` +
            'layout this version (layout 3) cannot read; nothing was changed. Upgrade this process.',
    );
    this.layout = layout;
  }
}

/**
 * The acquisition asked for more permits than the limit stored in Redis
 * (`setPermits()`), so it could never be granted: refused before it queued, or taken
 * out of the line when the limit was lowered below its weight.
 */
export class WeightExceedsLimitError extends SemaphoreError {
  override readonly name = 'WeightExceedsLimitError';
  readonly weight: number;
  /** The limit stored for the key when the acquisition was refused. */
  readonly limit: number;

  constructor(key: string, weight: number, limit: number) {
    super(
      ErrorCode.weightExceedsLimit,
      key,
      `Cannot acquire ${weight} permits of semaphore "${key}": its limit stored in Redis is ${limit}, ` +
        'so this acquisition could never be granted; it is not in the queue. ' +
        'Take fewer permits, or raise the limit with setPermits().',
    );
    this.weight = weight;
    this.limit = limit;
  }
}
