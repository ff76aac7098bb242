import { performance } from 'node:perf_hooks';
import { Acquisition } from './acquisition.js';
import { adapterFor, type Client, requireClient } from './adapters/index.js';
import { clientEnded, type SemaphoreContext } from './context.js';
import { ClientClosedError, LeaseLostError } from './errors.js';
import { checkEvictionPolicy } from './eviction.js';
import { keyspace } from './keys.js';
import { goneFromRedis, Lease } from './lease.js';
import { decodeLeaseId } from './lease-id.js';
import {
  type AcquireOptions,
  defaults,
  type ResolvedAcquire,
  resolveAcquire,
  type SemaphoreOptions,
  type UseCallback,
  type UseOptions,
} from './options.js';
import { Scripts, type StatusReply } from './scripts.js';
import { publish, tracing } from './telemetry.js';
import { maxTimerDelay } from './timing.js';
import {
  orDefault,
  requireCount,
  requireFunction,
  requireKey,
  requireLabel,
  requireMaxWaiters,
  requireObject,
  requirePrefix,
  requireReplicas,
  requireTtl,
} from './validate.js';
import { listenerFor, type WakeListener } from './wake.js';
import { warn } from './warnings.js';

/**
 * Set by Mutex on the options it passes up: its one permit is fixed, so that a limit
 * stored for the key (setPermits() through a Semaphore) never lets two Mutex holders in.
 * Not exported from the package.
 */
export const fixedPermit = Symbol('fixedPermit');

/** What `status()` reports, read from Redis in one round trip. */
export type SemaphoreStatus = {
  readonly key: string;
  /**
   * The limit in force: the one stored in Redis (`setPermits()`), else the permits the
   * holders asked for (else the front waiter's), else this semaphore's own.
   */
  readonly permits: number;
  /** Where `permits` comes from: stored in Redis by `setPermits()`, or the callers' `permits` option. */
  readonly permitsSource: 'set' | 'callers';
  /** Nothing is granted while paused (`pause()`). */
  readonly paused: boolean;
  /** Permits free now (`permits - held`, never below 0; 0 while paused). */
  readonly available: number;
} & Omit<StatusReply, 'permits' | 'limit' | 'paused'>;

/**
 * A counting semaphore over Redis whose permits are granted strictly in the order
 * acquires reached Redis, shared by every process that uses the same key.
 */
export class Semaphore {
  /** The key given to the constructor. */
  readonly key: string;
  readonly permits: number;
  readonly ttl: number;
  readonly #ctx: SemaphoreContext;
  readonly #label: string | undefined;
  /** What `acquire()` without options resolves to. */
  readonly #defaults: ResolvedAcquire;
  #inbox: { readonly listener: WakeListener; readonly channel: string } | undefined;
  /** A permit-count warning is given once per semaphore object. */
  #warned = false;

  /**
   * @param redis The caller's ioredis `Redis` or `Cluster`, or node-redis client or cluster; the semaphore never closes it.
   * @param key Names the semaphore: every process using this key shares its permits.
   */
  constructor(redis: Client, key: string, options: SemaphoreOptions) {
    const client = requireClient(redis);
    const adapter = adapterFor(client);
    this.key = requireKey(key);
    const o = requireObject('options', options);
    if (o['permits'] === undefined) {
      throw new TypeError(
        'Expected `permits` to be an integer, got undefined: `new Semaphore(redis, key, { permits })`',
      );
    }
    this.permits = requireCount('permits', o['permits']);
    this.ttl = requireTtl(orDefault(o['ttl'], defaults.ttl));
    const replicas = requireReplicas(orDefault(o['replicas'], defaults.replicas));
    const replicaTimeout = requireCount(
      'replicaTimeout',
      orDefault(o['replicaTimeout'], defaults.replicaTimeout),
      maxTimerDelay,
    );
    if (replicas > 0 && !adapter.wait) {
      // WAIT must go on the connection that ran the script: a Cluster client would send
      // it to an arbitrary node, a node-redis sentinel to any connection of its pool.
      const which = adapter.topology === 'cluster' ? 'Cluster client' : 'node-redis sentinel';
      throw new TypeError(`\`replicas\` needs a client on one connection; with a ${which} it is not supported`);
    }
    const space = keyspace(requirePrefix(orDefault(o['prefix'], defaults.prefix)), this.key, adapter.keyPrefix);
    this.#label = o['label'] === undefined ? undefined : requireLabel(o['label']);
    this.#ctx = {
      client,
      adapter,
      key: this.key,
      permits: this.permits,
      fixed: (o as { [fixedPermit]?: unknown })[fixedPermit] === true,
      ttl: this.ttl,
      replicas,
      replicaTimeout,
      maxWaiters: requireMaxWaiters(orDefault(o['maxWaiters'], defaults.maxWaiters)),
      space,
      scripts: new Scripts(client, space, this.key),
      listener: () => listenerFor(client),
      inboxChannel: (listener) => {
        // A Map key built afresh for every acquire would be hashed afresh every time.
        if (this.#inbox?.listener !== listener) {
          this.#inbox = { listener, channel: space.channelPrefix + listener.tokens.inbox };
        }
        return this.#inbox.channel;
      },
      local: { waiting: 0, held: 0 },
      otherPermits: (permits) => this.#warnPermits(permits),
    };
    this.#defaults = resolveAcquire(undefined, this.permits, this.#label);
  }

  /** How many acquisitions made through this object are still waiting (no Redis round trip). */
  get localWaiting(): number {
    return this.#ctx.local.waiting;
  }

  /** The permits held by leases of this object not yet released or lost (no Redis round trip). */
  get localHeld(): number {
    return this.#ctx.local.held;
  }

  /**
   * Waits for its turn (FIFO) and resolves with a lease on `weight` permits.
   * Rejects with `AcquireTimeoutError` after `timeout` ms, or with `signal.reason`
   * when aborted; either way its ticket leaves the queue.
   */
  acquire(options?: AcquireOptions): Promise<Lease> {
    try {
      // No options, the common call: checked once, in the constructor.
      const resolved = options === undefined ? this.#defaults : resolveAcquire(options, this.permits, this.#label);
      resolved.signal?.throwIfAborted();
      this.#requireOpen();
      checkEvictionPolicy(this.#ctx.adapter, this.key);
      // One property read when nobody traces: the common case allocates nothing more.
      const trace = tracing.acquire;
      if (trace?.hasSubscribers) {
        const { weight, label, timeout, signal } = resolved;
        const context = { key: this.key, weight, label, timeout, signal };
        return trace.tracePromise(() => this.#run(resolved), context);
      }
      return this.#run(resolved);
    } catch (error) {
      // Bad input and a closed client reject, as from an async function.
      return Promise.reject(error);
    }
  }

  /** Never null: only a try resolves with null, and this is not one. */
  #run(resolved: ResolvedAcquire): Promise<Lease> {
    return new Acquisition(this.#ctx, resolved).run() as Promise<Lease>;
  }

  /**
   * Takes `weight` permits only if they are free now and nobody waits: it never
   * waits and never jumps the queue. One round trip.
   */
  async tryAcquire(options?: Pick<AcquireOptions, 'weight' | 'label' | 'autoRefresh'>): Promise<Lease | null> {
    const { weight, label, autoRefresh } = resolveAcquire(options, this.permits, this.#label);
    this.#requireOpen();
    checkEvictionPolicy(this.#ctx.adapter, this.key);
    return new Acquisition(this.#ctx, { weight, label, autoRefresh, timeout: 0, signal: undefined }, true).run();
  }

  /**
   * Acquires, runs `fn` with the lease, and always releases, returning what `fn`
   * returns. With `skip`, `fn` gets `null` instead of a lease when `skip()` is true
   * before queueing or once granted (the lease is then released first).
   */
  use<T>(fn: UseCallback<T, Lease>, options?: AcquireOptions): Promise<T>;
  use<T>(fn: UseCallback<T, Lease | null>, options: UseOptions & { skip: UseOptions['skip'] & {} }): Promise<T>;
  async use<T>(callback: UseCallback<T, Lease> | UseCallback<T, Lease | null>, options?: UseOptions): Promise<T> {
    // Only the `skip` overload ever passes null, and that overload's fn accepts it.
    const fn = requireFunction<UseCallback<T, Lease | null>>('fn', callback);
    const o = requireObject('options', options);
    const skip =
      o['skip'] === undefined ? undefined : requireFunction<() => boolean | Promise<boolean>>('skip', o['skip']);
    resolveAcquire(options, this.permits, this.#label);
    if (skip && (await skip())) return fn(null);
    const lease = await this.acquire(options);
    let result: T;
    try {
      if (skip && (await skip())) {
        await lease.release();
        return await fn(null);
      }
      result = await fn(lease);
    } catch (error) {
      // fn's own error matters more than a failed release; the lease expires within ttl anyway.
      await lease.release().catch(() => {});
      throw error;
    }
    await lease.release();
    return result;
  }

  /**
   * A handle on the lease that `id` names (`lease.id`, from any process), so that
   * this process can extend, release or refresh the same permits. The id must be of
   * this semaphore's key and prefix as Redis sees it (the client's keyPrefix, then
   * `prefix`), else a RangeError. One round trip: rejects with
   * `LeaseLostError` if Redis no longer holds the lease, and otherwise resolves with a
   * lease that has a fixed term, ending when the lease expires in Redis now, until
   * it is extended or `startAutoRefresh()` is called. Two handles on one lease act on
   * the same permits, and each knows only of the extensions it made itself.
   */
  async lease(id: string): Promise<Lease> {
    const d = decodeLeaseId(id);
    const { prefix, fullPrefix } = this.#ctx.space;
    if (d.key !== this.key || d.prefix !== fullPrefix) {
      const client = fullPrefix === prefix ? '' : ` after the client's keyPrefix "${this.#ctx.adapter.keyPrefix}"`;
      throw new RangeError(
        `Expected \`id\` to name a lease on semaphore "${this.key}" (prefix "${prefix}"${client}), ` +
          `got one on "${d.key}" (prefix "${d.prefix}" as Redis sees it)`,
      );
    }
    this.#requireOpen();
    const sentAt = performance.now();
    const left = await this.#ctx.scripts.refresh(d.token, d.fencingToken, 0);
    if (left === undefined) {
      throw new LeaseLostError(this.key, d.fencingToken, goneFromRedis);
    }
    // Permits that differ matter only while no limit is stored: asked only then (rare),
    // in a second round trip; if that fails, the handle is still good, and no warning goes.
    if (d.permits !== this.permits && !this.#warned) {
      const stored = await this.#ctx.scripts.status(1).then(
        (s) => s.limit !== undefined,
        () => true,
      );
      if (!stored) this.#warnPermits(d.permits);
    }
    return Lease.adopt(this.#ctx, d.token, d.weight, d.fencingToken, sentAt, left);
  }

  /** Who holds and who waits, from Redis. `limit` caps the waiters listed (default 100). */
  async status(options?: { readonly limit?: number }): Promise<SemaphoreStatus> {
    const o = requireObject('options', options);
    const limit = requireCount('limit', orDefault(o['limit'], defaults.statusLimit));
    this.#requireOpen();
    const s = await this.#ctx.scripts.status(limit);
    const permits = s.limit ?? s.permits ?? this.permits;
    return {
      key: this.key,
      permits,
      permitsSource: s.limit === undefined ? 'callers' : 'set',
      paused: s.paused,
      held: s.held,
      available: s.paused ? 0 : Math.max(0, permits - s.held),
      waiting: s.waiting,
      lastFencingToken: s.lastFencingToken,
      holders: s.holders,
      waiters: s.waiters,
    };
  }

  /**
   * Stores `permits` in Redis as the key's limit, for every process and client at once:
   * from then on the callers' `permits` option does not decide. Waiters that now fit are
   * granted at once, front first; a lower limit revokes nothing, and grants wait until
   * releases and expiries bring what is held under it. Waiters whose weight is more than
   * the new limit leave the line at once and reject with `WeightExceedsLimitError`.
   * `null` removes the stored limit: the callers' permits decide again. The stored limit
   * never expires. One round trip.
   */
  async setPermits(permits: number | null): Promise<void> {
    const limit = permits === null ? null : requireCount('permits', permits);
    this.#requireOpen();
    const r = await this.#ctx.scripts.configure({ change: 'limit', limit });
    publish('resized', () => ({
      key: this.key,
      limit,
      previousLimit: r.previousLimit ?? null,
      granted: r.granted,
      refused: r.refused,
    }));
  }

  /**
   * Stops granting, for every process: acquires wait (keeping their places and their
   * own timeouts), `tryAcquire()` resolves null; holders keep their permits. Idempotent.
   */
  async pause(): Promise<void> {
    this.#requireOpen();
    const r = await this.#ctx.scripts.configure({ change: 'pause' });
    publish('paused', () => ({ key: this.key, wasPaused: r.wasPaused }));
  }

  /** Grants again, serving the line in order at once, within the limit in force. Idempotent. */
  async resume(): Promise<void> {
    this.#requireOpen();
    const r = await this.#ctx.scripts.configure({ change: 'resume' });
    publish('resumed', () => ({ key: this.key, wasPaused: r.wasPaused, granted: r.granted }));
  }

  /** Every user of a key must pass the same permits: say so, once, when Redis shows otherwise. */
  #warnPermits(others: number): void {
    if (this.#warned) return;
    this.#warned = true;
    warn(
      'RFS_PERMITS_MISMATCH',
      `Semaphore "${this.key}" is used with permits ${this.permits} here, but its holders in Redis asked for ` +
        `${others}: every user of a key must pass the same permits, or grants follow whichever each waiter passed.`,
    );
  }

  /** A client closed for good (quit() or disconnect()) can send nothing: say so plainly. */
  #requireOpen(): void {
    if (clientEnded(this.#ctx)) throw new ClientClosedError(this.key);
  }
}
