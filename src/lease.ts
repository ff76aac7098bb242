import { performance } from 'node:perf_hooks';
import type { SemaphoreContext } from './context.js';
import { LeaseLostError, LeaseReleasedError } from './errors.js';
import { publish } from './telemetry.js';

/**
 * Permits held on a semaphore. It refreshes itself every `ttl / 3` until released
 * or lost; `signal` aborts in either case, with a `LeaseLostError` reason when lost.
 */
export class Lease implements AsyncDisposable {
  /** The semaphore's key. */
  readonly key: string;
  /** Identifies this acquisition in Redis (and in `status()`). */
  readonly token: string;
  /** Permits this lease holds. */
  readonly weight: number;
  /**
   * Strictly increasing for every grant on this key, never lower than the Redis
   * server's clock in microseconds. Pass it to the resource you protect and have it
   * refuse tokens lower than the highest it has seen.
   */
  readonly fencingToken: number;

  readonly #ctx: SemaphoreContext;
  readonly #controller = new AbortController();
  readonly #grantedAt: number;
  #timer: NodeJS.Timeout | undefined;
  /** Local monotonic time until which Redis is known to hold the lease. */
  #validUntil: number;
  #released: Promise<void> | undefined;

  /** @internal Created by `Semaphore`; `since` is when the grant was requested (performance.now()). */
  constructor(ctx: SemaphoreContext, token: string, weight: number, fencingToken: number, since: number) {
    this.#ctx = ctx;
    this.key = ctx.key;
    this.token = token;
    this.weight = weight;
    this.fencingToken = fencingToken;
    this.#grantedAt = performance.now();
    // The server set the expiry no earlier than the request that led to the grant.
    this.#validUntil = since + ctx.ttl;
    this.#schedule(ctx.ttl / 3);
  }

  /** Aborted once the lease is released (reason `LeaseReleasedError`) or lost (`LeaseLostError`). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True until the lease is released or lost. */
  get held(): boolean {
    return !this.#controller.signal.aborted;
  }

  /**
   * Gives the permits back. Idempotent: later calls return the first call's promise.
   * After a loss it resolves without contacting Redis: there is nothing left to give back.
   */
  release(): Promise<void> {
    if (this.#released) return this.#released;
    clearTimeout(this.#timer);
    if (this.#controller.signal.aborted) {
      this.#released = Promise.resolve();
      return this.#released;
    }
    this.#controller.abort(LeaseReleasedError.forLease(this.key, this.fencingToken));
    publish('released', () => ({
      key: this.key,
      token: this.token,
      fencingToken: this.fencingToken,
      held: performance.now() - this.#grantedAt,
    }));
    this.#released = this.#ctx.scripts.release(this.token, this.#ctx.permits).then(() => undefined);
    return this.#released;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => void this.#refresh(), Math.max(0, delay));
  }

  async #refresh(): Promise<void> {
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = await this.#ctx.scripts.refresh(this.token, this.#ctx.ttl, this.#ctx.permits);
    } catch (error) {
      if (this.#released) return;
      const left = this.#validUntil - performance.now();
      // Keep trying while the lease may still be ours; give up just before it expires.
      const retryIn = Math.min(this.#ctx.ttl / 10, left / 2);
      if (retryIn < 1) {
        this.#lose('it could not be refreshed before it expired', error);
      } else {
        this.#schedule(retryIn);
      }
      return;
    }
    if (this.#released) return;
    if (!held) {
      this.#lose('Redis no longer has it (it expired, or Redis restarted or was flushed)');
      return;
    }
    this.#validUntil = sentAt + this.#ctx.ttl;
    this.#schedule(this.#ctx.ttl / 3 - (performance.now() - sentAt));
  }

  #lose(reason: string, cause?: unknown): void {
    clearTimeout(this.#timer);
    const error = new LeaseLostError(this.key, this.fencingToken, reason, cause === undefined ? undefined : { cause });
    this.#controller.abort(error);
    publish('lost', () => ({ key: this.key, token: this.token, fencingToken: this.fencingToken, error }));
  }
}
