import { performance } from 'node:perf_hooks';
import type { SemaphoreContext } from './context.js';
import { LeaseLostError } from './errors.js';
import { publish } from './telemetry.js';
import { heartbeatFraction, refreshRetryFraction } from './timing.js';
import type { ClientBound, WakeListener } from './wake.js';

type ClientBoundRegistry = Pick<WakeListener, 'bind' | 'unbind'>;

/**
 * Permits held on a semaphore. It refreshes itself every `ttl / 3` until released
 * or lost; `signal` aborts in either case, with a `LeaseLostError` reason when lost.
 */
export class Lease implements AsyncDisposable, ClientBound {
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
  /** Its client's listener, which tells it when the client ends. */
  readonly #listener: ClientBoundRegistry;
  /**
   * Made on the first read of `signal`: most leases are released without anyone
   * listening, and an AbortController (with its reason) is a real share of a
   * short critical section's cost.
   */
  #controller: AbortController | undefined;
  /** Why the lease ended: released on purpose, or lost. Undefined while held. */
  #ended: 'released' | LeaseLostError | undefined;
  readonly #grantedAt: number;
  /**
   * One timer at a time, so a grant costs a single setTimeout: the next refresh, or
   * while a refresh is in flight, #validUntil (unless the refresh confirms the lease
   * beyond it first).
   */
  #timer: NodeJS.Timeout | undefined;
  /** Local monotonic time until which Redis is known to hold the lease. */
  #validUntil: number;
  /** The release in flight or done; cleared when it failed, so that a later call sends it again. */
  #released: Promise<void> | undefined;
  /** A failed release is sent again on its own while the lease may still be held. */
  #retry: NodeJS.Timeout | undefined;

  /**
   * @internal Made by an acquisition once granted; leases are never made by hand.
   * `validFrom` (performance.now() time) is a moment no later than the one from which
   * Redis counts the lease's ttl.
   */
  static grant(ctx: SemaphoreContext, token: string, weight: number, fencingToken: number, validFrom: number): Lease {
    return new Lease(ctx, token, weight, fencingToken, validFrom);
  }

  private constructor(ctx: SemaphoreContext, token: string, weight: number, fencingToken: number, validFrom: number) {
    this.#ctx = ctx;
    this.key = ctx.key;
    this.token = token;
    this.weight = weight;
    this.fencingToken = fencingToken;
    this.#grantedAt = performance.now();
    this.#validUntil = validFrom + ctx.ttl;
    this.#listener = ctx.listener();
    this.#listener.bind(this);
    ctx.local.held += weight;
    this.#scheduleRefresh();
  }

  /**
   * Aborted when the lease is lost, or its client ends, with a `LeaseLostError` saying
   * which: pass it to the work the lease protects. Not aborted by `release()`, so work
   * still finishing after a normal release (a response body being read) is left alone.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#ended instanceof LeaseLostError) this.#controller.abort(this.#ended);
    }
    return this.#controller.signal;
  }

  /**
   * True until the lease is released or lost, and only while Redis is known to hold
   * it: also false once its expiry passed unconfirmed, even before `signal` aborts.
   */
  get held(): boolean {
    return this.#ended === undefined && performance.now() < this.#validUntil;
  }

  /**
   * Gives the permits back. Idempotent: later calls return the pending or settled
   * release. If it fails (the connection is down), it rejects, and the permits stay
   * taken in Redis: the library sends it again on its own while the lease may still be
   * held, and a later call sends it again at once. After a loss it resolves without
   * contacting Redis: there is nothing left to give back.
   */
  release(): Promise<void> {
    if (this.#released) return this.#released;
    clearTimeout(this.#timer);
    clearTimeout(this.#retry);
    if (this.#ended instanceof LeaseLostError) {
      this.#released = Promise.resolve();
      return this.#released;
    }
    if (!this.#ended) {
      this.#end('released');
      publish('released', () => ({
        key: this.key,
        token: this.token,
        fencingToken: this.fencingToken,
        held: performance.now() - this.#grantedAt,
      }));
    }
    const released = this.#ctx.scripts.release(this.token, this.fencingToken).then(
      () => undefined,
      (error: unknown) => {
        if (this.#released === released) this.#released = undefined;
        this.#retryRelease();
        throw error;
      },
    );
    this.#released = released;
    return released;
  }

  /** Until the lease would have expired anyway, a failed release keeps being sent. */
  #retryRelease(): void {
    const left = this.#validUntil - performance.now();
    if (left <= 0 || this.#retry) return;
    this.#retry = setTimeout(
      () => {
        this.#retry = undefined;
        if (!this.#released) this.release().catch(() => {});
      },
      Math.min(this.#ctx.ttl * refreshRetryFraction, left),
    );
    // Redis frees the permits at the lease's expiry anyway: this must not keep a process alive.
    this.#retry.unref();
  }

  /** @internal The user's client ended: the lease is gone with it, at once. */
  clientEnded(): void {
    clearTimeout(this.#retry);
    if (this.#ended) return;
    this.#lose('the Redis client was closed (quit() or disconnect())');
  }

  #end(how: 'released' | LeaseLostError): void {
    this.#ended = how;
    this.#ctx.local.held -= this.weight;
    this.#listener.unbind(this);
    if (how instanceof LeaseLostError) this.#controller?.abort(how);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /**
   * Redis holds the lease until #validUntil: refresh at a third of the ttl, or sooner
   * if less is left (a grant by message may come with part of its ttl spent).
   */
  #scheduleRefresh(delay = Math.min(this.#ctx.ttl * heartbeatFraction, (this.#validUntil - performance.now()) / 2)): void {
    this.#timer = setTimeout(this.#refreshDue, Math.max(0, delay));
  }

  readonly #refreshDue = (): void => {
    if (this.#ended) return;
    const left = this.#validUntil - performance.now();
    // This process stalled past the expiry: someone else may hold the permit now.
    if (left <= 0) return this.#expire();
    // Count the lease lost if that moment passes with no confirmation, as when Redis stalls.
    this.#timer = setTimeout(() => this.#expire(), left);
    void this.#refresh();
  };

  #expire(): void {
    if (this.#ended) return;
    this.#lose('no refresh reached Redis before it expired');
    this.#giveBack();
  }

  /** In case a refresh still lands late: give the permit back rather than leave it held by nobody. */
  #giveBack(): void {
    this.#ctx.scripts.release(this.token, this.fencingToken).catch(() => {});
  }

  async #refresh(): Promise<void> {
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = await this.#ctx.scripts.refresh(this.token, this.fencingToken, this.#ctx.ttl);
    } catch (error) {
      if (this.#ended) return;
      clearTimeout(this.#timer);
      const left = this.#validUntil - performance.now();
      // Keep trying while the lease may still be ours; give up just before it expires.
      const retryIn = Math.min(this.#ctx.ttl * refreshRetryFraction, left / 2);
      if (retryIn < 1) {
        this.#lose('it could not be refreshed before it expired', error);
        this.#giveBack();
      } else {
        this.#scheduleRefresh(retryIn);
      }
      return;
    }
    if (this.#ended) return;
    clearTimeout(this.#timer);
    if (!held) {
      this.#lose('Redis no longer has it (it expired, or Redis restarted or was flushed)');
      return;
    }
    this.#validUntil = sentAt + this.#ctx.ttl;
    this.#scheduleRefresh();
  }

  #lose(reason: string, cause?: unknown): void {
    clearTimeout(this.#timer);
    const error = new LeaseLostError(this.key, this.fencingToken, reason, cause === undefined ? undefined : { cause });
    this.#end(error);
    publish('lost', () => ({ key: this.key, token: this.token, fencingToken: this.fencingToken, error }));
  }
}
