import { performance } from 'node:perf_hooks';
import { clientEnded, type SemaphoreContext } from './context.js';
import { ClientClosedError, LeaseLostError } from './errors.js';
import { encodeLeaseId } from './lease-id.js';
import { requireCount } from './validate.js';
import { channels, publish } from './telemetry.js';
import { heartbeatFraction, maxTimerDelay, refreshRetryFraction, timerDelay } from './timing.js';
import type { WakeListener } from './wake.js';

type ClientBoundRegistry = Pick<WakeListener, 'bind' | 'unbind'>;

/** ms from now until `at` (performance.now() time), as a delay setTimeout takes. */
function delayUntil(at: number): number {
  return timerDelay(at - performance.now());
}

/** Why a lease is lost when Redis says it no longer holds it. */
export const goneFromRedis =
  'Redis no longer has it (it expired or was released, here or through another handle, or Redis restarted or was flushed)';

/** How a lease came to this process, for `Lease.grant`. */
export type GrantOptions = {
  /** It refreshes itself every `ttl / 3`; false: a fixed term of `ttl`. */
  readonly autoRefresh: boolean;
  /**
   * Granted by a message, with the waiter's deadline as its expiry: a fixed term is
   * renewed once, so that it runs a whole `ttl` from the grant.
   */
  readonly renewTerm: boolean;
};

/**
 * Permits held on a semaphore. By default it refreshes itself every `ttl / 3` until
 * released or lost; with `autoRefresh: false` it has a fixed term instead, which ends
 * `ttl` after the grant unless extended. `signal` aborts when it is lost (or its term
 * ends), with a `LeaseLostError` reason. `id` names it, so that another process can
 * take it over (`semaphore.lease(id)`).
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
  /** Refreshes itself every ttl / 3; false while it has a fixed term. */
  #auto: boolean;
  /**
   * One timer at a time, so a grant costs a single setTimeout: the next refresh, or
   * while a refresh is in flight, #validUntil (unless the refresh confirms the lease
   * beyond it first); for a fixed term, its end.
   */
  #timer: NodeJS.Timeout | undefined;
  /** Local monotonic time until which Redis is known to hold the lease. */
  #validUntil: number;
  /** The release in flight or done; cleared when it failed, so that a later call sends it again. */
  #released: Promise<boolean> | undefined;
  /** A failed release is sent again on its own while the lease may still be held. */
  #retry: NodeJS.Timeout | undefined;
  /**
   * Other handles may act on this lease: its id was read, or it is one such handle.
   * Then a refresh that failed until the expiry this handle knew of gives nothing back:
   * another handle may have extended the lease beyond it.
   */
  #shared: boolean;

  /**
   * @internal Made by an acquisition once granted. `validFrom` (performance.now() time)
   * is a moment no later than the one from which Redis counts the lease's ttl. Its timer
   * waits for start(), which the acquisition calls once the caller has the lease.
   */
  static grant(
    ctx: SemaphoreContext,
    token: string,
    weight: number,
    fencingToken: number,
    validFrom: number,
    options: GrantOptions,
  ): Lease {
    const lease = new Lease(ctx, token, weight, fencingToken, validFrom + ctx.ttl, options.autoRefresh);
    if (!options.autoRefresh && options.renewTerm) void lease.#renewTerm();
    return lease;
  }

  /**
   * @internal A handle on a lease Redis was found to hold by a read sent at `sentAt`
   * (performance.now() time), with `left` ms to go then. It starts with a fixed term.
   */
  static adopt(
    ctx: SemaphoreContext,
    token: string,
    weight: number,
    fencingToken: number,
    sentAt: number,
    left: number,
  ): Lease {
    const lease = new Lease(ctx, token, weight, fencingToken, sentAt + left, false);
    lease.#shared = true;
    lease.#arm();
    return lease;
  }

  private constructor(
    ctx: SemaphoreContext,
    token: string,
    weight: number,
    fencingToken: number,
    validUntil: number,
    autoRefresh: boolean,
  ) {
    this.#ctx = ctx;
    this.key = ctx.key;
    this.token = token;
    this.weight = weight;
    this.fencingToken = fencingToken;
    this.#grantedAt = performance.now();
    this.#validUntil = validUntil;
    this.#auto = autoRefresh;
    this.#shared = false;
    this.#listener = ctx.listener();
    this.#listener.bind(this);
    ctx.local.held += weight;
  }

  /**
   * @internal Arms the lease's timer (its first refresh, or the end of its fixed term),
   * unless it was released or given one meanwhile. Called just after the caller was
   * handed the lease: a lease released before its first await never costs a timer, and
   * no caller waits for one to be set (a refresh is due only a third of a ttl later).
   */
  start(): void {
    if (this.#ended !== undefined || this.#timer !== undefined) return;
    // The caller may have stalled this process past the expiry: what is due runs now, before
    // any reply is read, as the timer would have fired first had it been armed at the grant.
    if (performance.now() >= this.#validUntil) return this.#auto ? this.#refreshDue() : this.#termDue();
    this.#arm();
  }

  /**
   * Names this lease for `semaphore.lease(id)` in any process: a URL-safe string of
   * its prefix, key, token and fencing token. It holds nothing that Redis does not
   * show to anyone who can read the key.
   */
  get id(): string {
    this.#shared = true;
    return encodeLeaseId({
      prefix: this.#ctx.space.fullPrefix,
      key: this.key,
      token: this.token,
      fencingToken: this.fencingToken,
    });
  }

  /** True while it refreshes itself (the default); false while it has a fixed term. */
  get autoRefresh(): boolean {
    return this.#auto;
  }

  /**
   * Aborted when the lease is lost, its fixed term ends, or (unless it has a fixed
   * term) its client ends, with a `LeaseLostError` saying which: pass it to the work
   * the lease protects. Not aborted by `release()`, so work still finishing after a
   * normal release (a response body being read) is left alone.
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
   * Makes the lease expire no sooner than `ms` from now, on the Redis server's clock,
   * and resolves with the ms it has left then (more than `ms` if it already had
   * more: an extension never shortens a lease). Rejects with `LeaseLostError` if the
   * lease is no longer held (expired, released here or through another handle, or
   * lost by Redis); then nothing changed. Works on any lease; an automatic refresh
   * never undoes an extension.
   */
  async extend(ms: number): Promise<number> {
    const duration = requireCount('ms', ms, maxTimerDelay);
    this.#requireUsable();
    return this.#touch(duration);
  }

  /**
   * Asks Redis how many ms the lease has left (server clock), without changing it.
   * Rejects with `LeaseLostError` if it is no longer held.
   */
  async remaining(): Promise<number> {
    this.#requireUsable();
    return this.#touch(0);
  }

  /**
   * Ends a fixed term: from now on the lease refreshes itself every `ttl / 3`, as if
   * acquired without `autoRefresh: false` (the first refresh goes at once). Does
   * nothing if it already does. Throws `LeaseLostError` once the lease has ended.
   */
  startAutoRefresh(): void {
    // A term that ran out before its timer fired ends now, as the timer would end it.
    if (!this.#auto) this.#termDue();
    this.#requireUsable();
    if (this.#auto) return;
    this.#auto = true;
    clearTimeout(this.#timer);
    this.#refreshDue();
  }

  /**
   * Gives the permits back, and resolves with true, or with false if Redis no longer
   * had them (they expired, or were released through another handle): there was
   * nothing to give back. Idempotent: later calls return the pending or settled
   * release. If it fails (the connection is down), it rejects, and the permits stay
   * taken in Redis: the library sends it again on its own while the lease may still be
   * held, and a later call sends it again at once. Once this handle has ended (a
   * loss, or the end of its fixed term as it knows it) it resolves with false without
   * contacting Redis: it no longer acts on the lease, which another handle may have
   * extended. A fixed-term lease whose client was closed rejects with
   * `ClientClosedError`: it stays held in Redis until its term ends.
   */
  release(): Promise<boolean> {
    if (this.#released !== undefined) return this.#released;
    // The client first: found closed, it ends a refreshing lease, as its 'end' would have.
    if (clientEnded(this.#ctx) && !this.#ended) return Promise.reject(new ClientClosedError(this.key));
    clearTimeout(this.#timer);
    clearTimeout(this.#retry);
    if (this.#ended instanceof LeaseLostError) {
      this.#released = Promise.resolve(false);
      return this.#released;
    }
    if (!this.#ended) {
      this.#end('released');
      if (channels.released.hasSubscribers) {
        publish('released', () => ({
          key: this.key,
          token: this.token,
          fencingToken: this.fencingToken,
          held: performance.now() - this.#grantedAt,
        }));
      }
    }
    const released = new Promise<boolean>((resolve, reject) =>
      this.#ctx.scripts.releaseThen(
        this.token,
        this.fencingToken,
        (reply) => resolve(reply === 'released'),
        (error: unknown) => {
          if (this.#released === released) this.#released = undefined;
          this.#retryRelease();
          reject(error);
        },
      ),
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

  /**
   * @internal The user's client ended. A refreshing lease is gone with it, at once. A
   * fixed-term one stays held in Redis until its term ends (another process may take
   * it over), but this handle can no longer act on it.
   */
  clientEnded(): void {
    clearTimeout(this.#retry);
    if (this.#ended || !this.#auto) return;
    this.#lose('the Redis client was closed (quit() or disconnect())');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** Extending, reading and refreshing need a lease that has not ended, and a client to send with. */
  #requireUsable(): void {
    // Asked first, for the same reason as in release().
    const closed = clientEnded(this.#ctx);
    if (this.#ended instanceof LeaseLostError) throw this.#ended;
    if (this.#ended === 'released') throw new LeaseLostError(this.key, this.fencingToken, 'it was released');
    if (closed) throw new ClientClosedError(this.key);
  }

  #end(how: 'released' | LeaseLostError): void {
    this.#ended = how;
    this.#ctx.local.held -= this.weight;
    this.#listener.unbind(this);
    if (how instanceof LeaseLostError) this.#controller?.abort(how);
  }

  /** The one timer, for what comes next: a refresh, or the end of the fixed term. */
  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#auto) return this.#scheduleRefresh();
    this.#timer = setTimeout(() => this.#termDue(), delayUntil(this.#validUntil));
    // A fixed term is meant to outlive its process (another one may take the lease
    // over): its end must not keep the process alive.
    this.#timer.unref();
  }

  #termDue(): void {
    if (this.#ended || this.#auto) return;
    // Extended meanwhile: wait for the new end.
    if (performance.now() < this.#validUntil) return this.#arm();
    // Another handle may have extended it: this one says the term it knows of is over,
    // and leaves the permits alone.
    this.#lose('its fixed term ended without an extension');
  }

  /** A fixed-term grant that came by message runs its whole term from here. */
  async #renewTerm(): Promise<void> {
    try {
      await this.#touch(this.#ctx.ttl);
    } catch {
      // Lost: #touch said so. Unreachable: the term ends at the waiter's deadline instead.
    }
  }

  /**
   * Redis holds the lease until #validUntil: refresh at a third of the ttl, or sooner
   * if less is left (a grant by message may come with part of its ttl spent).
   */
  #scheduleRefresh(
    delay = Math.min(this.#ctx.ttl * heartbeatFraction, (this.#validUntil - performance.now()) / 2),
  ): void {
    this.#timer = setTimeout(() => this.#refreshDue(), timerDelay(delay));
  }

  #refreshDue(): void {
    if (this.#ended) return;
    const left = this.#validUntil - performance.now();
    // This process stalled past the expiry: someone else may hold the permit now.
    if (left <= 0) return this.#expire();
    // Count the lease lost if that moment passes with no confirmation, as when Redis stalls.
    this.#timer = setTimeout(() => this.#expireDue(), delayUntil(this.#validUntil));
    void this.#refresh();
  }

  #expireDue(): void {
    if (this.#ended) return;
    const left = this.#validUntil - performance.now();
    // An extension confirmed it beyond: keep watching for the refresh in flight.
    if (left > 0) {
      this.#timer = setTimeout(() => this.#expireDue(), delayUntil(this.#validUntil));
      return;
    }
    this.#expire();
  }

  #expire(): void {
    if (this.#ended) return;
    this.#lose('no refresh reached Redis before it expired');
    this.#giveBack();
  }

  /**
   * In case a refresh still lands late: give the permit back rather than leave it held
   * by nobody. Not for a shared lease: another handle may hold it beyond our expiry.
   */
  #giveBack(): void {
    if (this.#shared) return;
    this.#ctx.scripts.release(this.token, this.fencingToken).catch(() => {});
  }

  /**
   * Sends refresh-4.lua: the lease is to be held `ms` more (0 reads). Resolves with the
   * ms it has left; rejects with LeaseLostError (and counts the lease lost) once Redis
   * no longer has it, or with the connection's error.
   */
  async #touch(ms: number): Promise<number> {
    const sentAt = performance.now();
    const left = await this.#ctx.scripts.refresh(this.token, this.fencingToken, ms);
    if (left === undefined) {
      if (!this.#ended) this.#lose(goneFromRedis);
      throw this.#ended instanceof LeaseLostError
        ? this.#ended
        : new LeaseLostError(this.key, this.fencingToken, goneFromRedis);
    }
    // The expiry only ever moves later: the furthest one confirmed is the one in force.
    this.#validUntil = Math.max(this.#validUntil, sentAt + left);
    if (this.#ended instanceof LeaseLostError) {
      // This handle ended (its expiry passed here) while the call was in flight, and its
      // user was told the lease is lost: an extension it made must not keep the permits
      // for nobody's sake (unless another handle may be using them).
      if (ms > 0) this.#giveBack();
      throw this.#ended;
    }
    return left;
  }

  async #refresh(): Promise<void> {
    try {
      await this.#touch(this.#ctx.ttl);
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
    this.#scheduleRefresh();
  }

  #lose(reason: string, cause?: unknown): void {
    clearTimeout(this.#timer);
    const error = new LeaseLostError(this.key, this.fencingToken, reason, cause === undefined ? undefined : { cause });
    this.#end(error);
    publish('lost', () => ({ key: this.key, token: this.token, fencingToken: this.fencingToken, error }));
  }
}
