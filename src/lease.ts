import { performance } from 'node:perf_hooks';
import { clientEnded, type SemaphoreContext } from './context.js';
import { ClientClosedError, LeaseLostError } from './errors.js';
import { encodeLeaseId } from './lease-id.js';
import { channels, publish } from './telemetry.js';
import { heartbeatFraction, holderAllowance, maxTimerDelay, refreshRetryFraction, timerDelay } from './timing.js';
import { requireCount } from './validate.js';
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
 * Where a lease stands. Timers, replies and the user's calls change it in #on() only.
 * A lease has one timer at a time, and the state says what it is for:
 *
 *   new ──start──▶ idle ──refresh due──▶ refreshing ──confirmed──▶ idle
 *    │                                       │ deadline passed, or Redis says gone ──▶ lost
 *    └──start──▶ term ──deadline passed──▶ lost      (startAutoRefresh: term ──▶ refreshing)
 *
 * and from any of the live states (new, idle, refreshing, term): release() ──▶ released,
 * the client ending ──▶ lost (a fixed term stays held in Redis, but this handle is done).
 *
 * The deadline (#validUntil) is the holder's own: the expiry Redis confirmed, less
 * the holder's allowance (timing.ts), so the holder counts its lease over before Redis
 * can grant it to anyone else. A reply to a refresh that is not the newest, or that
 * comes after the lease ended, is a reply to an old request: it may only move the
 * deadline later, never change the state. A reply read after the deadline passed (the
 * process stalled, or the due timer has not run yet) comes second: the deadline's
 * transition runs first, as the timer would have run it.
 */
type State =
  /** Handed to the caller; no timer until start(), so a lease released at once never arms one. */
  | { readonly name: 'new'; readonly auto: boolean }
  /** Refreshes itself; the timer is the next refresh. */
  | { readonly name: 'idle' }
  /** A refresh is in flight; the timer is the deadline, which the refresh may move. */
  | { readonly name: 'refreshing' }
  /** A fixed term; the timer is its end, the deadline. */
  | { readonly name: 'term' }
  /** Given back on purpose: the release is in flight, or settled (#released). */
  | { readonly name: 'released' }
  | { readonly name: 'lost'; readonly error: LeaseLostError };

const newAuto: State = { name: 'new', auto: true };
const newTerm: State = { name: 'new', auto: false };
const idle: State = { name: 'idle' };
const refreshing: State = { name: 'refreshing' };
const term: State = { name: 'term' };
const released: State = { name: 'released' };

type Event =
  | { readonly type: 'start' }
  | { readonly type: 'timer' }
  /** An automatic refresh (call `request`) was confirmed; #touch has moved the deadline. */
  | { readonly type: 'refreshed'; readonly request: number }
  | { readonly type: 'refreshFailed'; readonly request: number; readonly error: unknown }
  /** Redis no longer holds it (a refresh, extension or read found it gone). */
  | { readonly type: 'gone' }
  | { readonly type: 'autoRefresh' }
  | { readonly type: 'release' }
  | { readonly type: 'clientEnded' };

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
  /** The holder's allowance for this lease's ttl (timing.ts). */
  readonly #allowance: number;
  /**
   * Made on the first read of `signal`: most leases are released without anyone
   * listening, and an AbortController (with its reason) is a real share of a
   * short critical section's cost.
   */
  #controller: AbortController | undefined;
  readonly #grantedAt: number;
  #state: State;
  /** The one timer; what it is for depends on the state (see State). */
  #timer: NodeJS.Timeout | undefined;
  /** Local monotonic time until which this holder counts the lease as held: Redis's expiry less the allowance. */
  #validUntil: number;
  /** Numbers the automatic refreshes; a reply counts only for the newest. */
  #request = 0;
  /** The release in flight or settled; cleared when it failed, so that a later call sends it again. */
  #released: Promise<boolean> | undefined;
  /** A failed release is sent again on its own while the lease may still be held. */
  #retry: NodeJS.Timeout | undefined;
  /**
   * Other handles may act on this lease: its id was read, or it is one such handle.
   * Then a refresh that failed until the expiry this handle knew of gives nothing back:
   * another handle may have extended the lease beyond it.
   */
  #shared = false;

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
    lease.start();
    return lease;
  }

  /** `expiresBy`: no earlier than the moment Redis expires the lease (performance.now() time). */
  private constructor(
    ctx: SemaphoreContext,
    token: string,
    weight: number,
    fencingToken: number,
    expiresBy: number,
    autoRefresh: boolean,
  ) {
    this.#ctx = ctx;
    this.key = ctx.key;
    this.token = token;
    this.weight = weight;
    this.fencingToken = fencingToken;
    this.#grantedAt = performance.now();
    this.#allowance = holderAllowance(ctx.ttl);
    this.#validUntil = expiresBy - this.#allowance;
    this.#state = autoRefresh ? newAuto : newTerm;
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
    this.#on({ type: 'start' });
  }

  /**
   * Names this lease for `semaphore.lease(id)` in any process: a URL-safe string of
   * its prefix (as Redis sees it), key, token and fencing token. It holds nothing that
   * Redis does not show to anyone who can read the key.
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
    const s = this.#state;
    return s.name === 'new' ? s.auto : s.name === 'idle' || s.name === 'refreshing';
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
      if (this.#state.name === 'lost') this.#controller.abort(this.#state.error);
    }
    return this.#controller.signal;
  }

  /**
   * True until the lease is released or lost, and only while Redis is known to hold
   * it: also false once its deadline passed unconfirmed, even before `signal` aborts.
   */
  get held(): boolean {
    return this.#live && performance.now() < this.#validUntil;
  }

  /**
   * Makes the lease expire no sooner than `ms` from now, on the Redis server's clock,
   * and resolves with the ms it has left then (more than `ms` if it already had
   * more: an extension never shortens a lease). Rejects with `LeaseLostError` if the
   * lease is no longer held (expired, released here or through another handle, or
   * lost by Redis); then nothing changed. Works on any lease; an automatic refresh
   * never undoes an extension. Settles, like release(), by the moment Redis frees the
   * permits on its own: with no reply by then, the lease is lost (LeaseLostError) and
   * the permits are given back at once, in case the extension lands later.
   */
  async extend(ms: number): Promise<number> {
    const duration = requireCount('ms', ms, maxTimerDelay);
    this.#requireUsable();
    // Settled unanswered, it gives the permits back at once: behind the extension on the
    // connection, so that an extension landing late keeps nothing for nobody's sake.
    return this.#whileHeld(this.#touch(duration), () => this.#giveBack());
  }

  /**
   * Asks Redis how many ms the lease has left (server clock), without changing it.
   * Rejects with `LeaseLostError` if it is no longer held, or if no reply came by the
   * moment Redis frees the permits on its own.
   */
  async remaining(): Promise<number> {
    this.#requireUsable();
    return this.#whileHeld(this.#touch(0));
  }

  /**
   * Ends a fixed term: from now on the lease refreshes itself every `ttl / 3`, as if
   * acquired without `autoRefresh: false` (the first refresh goes at once). Does
   * nothing if it already does. Throws `LeaseLostError` once the lease has ended.
   */
  startAutoRefresh(): void {
    // A term whose deadline passed before its timer fired ends now, as the timer would end it.
    if (!this.autoRefresh && this.#live && performance.now() >= this.#validUntil) this.#on({ type: 'timer' });
    this.#requireUsable();
    this.#on({ type: 'autoRefresh' });
  }

  /**
   * Gives the permits back, and resolves with true, or with false if Redis no longer
   * had them (they expired, or were released through another handle): there was
   * nothing to give back. Settles by the moment Redis frees the permits on its own at
   * the latest (the lease's deadline plus the holder's allowance): with false then if
   * no reply came, since the permits are free by that time whatever became of the call.
   * Idempotent: later calls return the pending or settled release. If it fails (the
   * connection is down), it rejects, and the permits stay taken in Redis: the library
   * sends it again on its own while the lease may still be held, and a later call
   * sends it again at once. Once this handle has ended (a loss, or the end of its fixed
   * term as it knows it) it resolves with false without contacting Redis: it no longer
   * acts on the lease, which another handle may have extended. A fixed-term lease whose
   * client was closed rejects with `ClientClosedError`: it stays held in Redis until
   * its term ends.
   */
  release(): Promise<boolean> {
    if (this.#released !== undefined) return this.#released;
    // The client first: found closed, it ends a refreshing lease, as its 'end' would have.
    if (clientEnded(this.#ctx) && this.#live) return Promise.reject(new ClientClosedError(this.key));
    clearTimeout(this.#retry);
    // A deadline that passed before its timer could fire (this process stalled) ends the
    // lease first, as the timer would have: the holder never gives back what it counts lost.
    if (this.#live && performance.now() >= this.#validUntil) this.#on({ type: 'timer' });
    if (this.#state.name === 'lost') {
      this.#released = Promise.resolve(false);
      return this.#released;
    }
    this.#on({ type: 'release' });
    this.#released = this.#sendRelease();
    return this.#released;
  }

  /**
   * @internal The user's client ended. A refreshing lease is gone with it, at once. A
   * fixed-term one stays held in Redis until its term ends (another process may take
   * it over), but this handle can no longer act on it.
   */
  clientEnded(): void {
    clearTimeout(this.#retry);
    this.#on({ type: 'clientEnded' });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** Not yet released or lost. */
  get #live(): boolean {
    return this.#state.name !== 'released' && this.#state.name !== 'lost';
  }

  /** The one place where timers, replies and the user's calls change where the lease stands. */
  #on(event: Event): void {
    const state = this.#state;
    if (state.name === 'released' || state.name === 'lost') return;
    switch (event.type) {
      case 'start':
        // The caller may have stalled this process past the deadline: #enter handles it now,
        // as the timer would have, had it been armed at the grant.
        if (state.name === 'new') this.#enter(state.auto ? idle : term);
        return;
      case 'timer':
        return this.#onTimer(state);
      case 'refreshed':
        if (state.name !== 'refreshing' || event.request !== this.#request) return;
        return this.#enter(idle);
      case 'refreshFailed':
        if (state.name !== 'refreshing' || event.request !== this.#request) return;
        return this.#retryRefresh(event.error);
      case 'gone':
        this.#lose(goneFromRedis);
        return;
      case 'autoRefresh':
        if (state.name !== 'new' && state.name !== 'term') return;
        // From now on a refreshing lease: the first refresh goes at once, unless it is too late.
        this.#state = idle;
        return this.#onTimer(idle);
      case 'release':
        clearTimeout(this.#timer);
        this.#end(released);
        if (channels.released.hasSubscribers) {
          publish('released', () => ({
            key: this.key,
            token: this.token,
            fencingToken: this.fencingToken,
            held: performance.now() - this.#grantedAt,
          }));
        }
        return;
      case 'clientEnded':
        // A fixed term is meant to outlive its client: it stays held in Redis for its term.
        if (state.name === 'term' || (state.name === 'new' && !state.auto)) return;
        return this.#lose('the Redis client was closed (quit() or disconnect())');
    }
  }

  /** The timer fired (or its moment passed before it could): what for, the state says. */
  #onTimer(state: State): void {
    const left = this.#validUntil - performance.now();
    switch (state.name) {
      case 'new':
        return this.#on({ type: 'start' });
      case 'idle':
        // This process stalled past the deadline: someone else may hold the permit soon.
        if (left <= 0) return this.#expire('no refresh reached Redis before it expired');
        return this.#refreshNow();
      case 'refreshing':
        // An extension confirmed it beyond: keep watching for the refresh in flight.
        if (left > 0) return this.#arm(this.#validUntil);
        return this.#expire('no refresh reached Redis before it expired');
      case 'term':
        // Extended meanwhile: wait for the new end.
        if (left > 0) return this.#arm(this.#validUntil);
        // Another handle may have extended it: this one says the term it knows of is
        // over, and leaves the permits alone.
        return this.#lose('its fixed term ended without an extension', undefined, true);
    }
  }

  /**
   * Enters a live state and arms its timer. A deadline already past (this process
   * stalled) is handled at once, before any reply is read, as the timer would have been.
   */
  #enter(next: typeof idle | typeof term): void {
    this.#state = next;
    const left = this.#validUntil - performance.now();
    if (left <= 0) return this.#onTimer(next);
    if (next === term) return this.#arm(this.#validUntil);
    // Redis holds the lease until the deadline: refresh at a third of the ttl, or sooner
    // if less is left (a grant by message may come with part of its ttl spent).
    this.#arm(performance.now() + Math.min(this.#ctx.ttl * heartbeatFraction, left / 2));
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#on({ type: 'timer' }), delayUntil(at));
    // A fixed term is meant to outlive its process (another one may take the lease
    // over): its end must not keep the process alive.
    if (this.#state === term) this.#timer.unref();
  }

  /** Sends a refresh; the timer watches the deadline meanwhile. */
  #refreshNow(): void {
    this.#state = refreshing;
    this.#arm(this.#validUntil);
    const request = ++this.#request;
    this.#touch(this.#ctx.ttl).then(
      () => this.#on({ type: 'refreshed', request }),
      (error: unknown) => {
        // A LeaseLostError: #touch has already said so.
        if (!(error instanceof LeaseLostError)) this.#on({ type: 'refreshFailed', request, error });
      },
    );
  }

  /** Keeps trying while the lease may still be ours; gives up just before it expires. */
  #retryRefresh(error: unknown): void {
    const left = this.#validUntil - performance.now();
    const retryIn = Math.min(this.#ctx.ttl * refreshRetryFraction, left / 2);
    if (retryIn < 1) {
      this.#lose('it could not be refreshed before it expired', error);
      return this.#giveBack();
    }
    this.#state = idle;
    this.#arm(performance.now() + retryIn);
  }

  #expire(reason: string): void {
    this.#lose(reason);
    this.#giveBack();
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
   * no longer has it, or with the connection's error. Whatever state the lease is in
   * when the reply comes, a confirmed expiry only ever moves the deadline later.
   */
  async #touch(ms: number): Promise<number> {
    const sentAt = performance.now();
    const left = await this.#ctx.scripts.refresh(this.token, this.fencingToken, ms);
    // The deadline passed before this reply was read (the process stalled, or the timer
    // is due but has not run yet): the lease ended then, whichever the event loop reads first.
    if (this.#live && performance.now() >= this.#validUntil) this.#on({ type: 'timer' });
    if (left === undefined) {
      this.#on({ type: 'gone' });
      throw this.#state.name === 'lost'
        ? this.#state.error
        : new LeaseLostError(this.key, this.fencingToken, goneFromRedis);
    }
    this.#validUntil = Math.max(this.#validUntil, sentAt + left - this.#allowance);
    if (this.#state.name === 'lost') {
      // This handle ended (its deadline passed here) while the call was in flight, and
      // its user was told the lease is lost: an extension it made must not keep the
      // permits for nobody's sake (unless another handle may be using them).
      if (ms > 0) this.#giveBack();
      throw this.#state.error;
    }
    return left;
  }

  /**
   * A user's call on the lease, settled by the moment Redis frees the permits on its own
   * (the deadline plus the allowance, later if a refresh moves it meanwhile) if no reply
   * has come by then: a partition must not leave the caller waiting past the lease's
   * life. The lease is lost then, if it was not already, and `unanswered` runs before
   * the caller hears of it. A reply that comes later is still read (#touch gives back an
   * extension that came too late).
   */
  #whileHeld<T>(call: Promise<T>, unanswered?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let late: NodeJS.Timeout | undefined;
      const watch = () => {
        const by = this.#validUntil + this.#allowance;
        if (performance.now() < by) {
          late = setTimeout(watch, delayUntil(by));
          // The call itself keeps the process alive as long as it should.
          late.unref();
          return;
        }
        if (this.#live) this.#lose('no reply came from Redis before it expired');
        unanswered?.();
        const state = this.#state;
        reject(
          state.name === 'lost' ? state.error : new LeaseLostError(this.key, this.fencingToken, 'it was released'),
        );
      };
      watch();
      call.then(
        (value) => {
          clearTimeout(late);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(late);
          reject(error);
        },
      );
    });
  }

  /**
   * The release's one call: its reply settles it, or, if none comes, the moment Redis
   * frees the permits on its own (the deadline plus the allowance) does, with false. A
   * failure rejects, and the release is sent again on its own while the lease may
   * still be held.
   */
  #sendRelease(): Promise<boolean> {
    const settleBy = this.#validUntil + this.#allowance;
    const promise = new Promise<boolean>((resolve, reject) => {
      const late = setTimeout(() => resolve(false), delayUntil(settleBy));
      // Only a pending release waits for it; it must not keep the process alive.
      late.unref();
      this.#ctx.scripts.releaseThen(
        this.token,
        this.fencingToken,
        (reply) => {
          clearTimeout(late);
          resolve(reply === 'released');
        },
        (error: unknown) => {
          clearTimeout(late);
          if (this.#released === promise) this.#released = undefined;
          this.#retryRelease();
          reject(error);
        },
      );
    });
    return promise;
  }

  /** Until the lease would have expired anyway, a failed release keeps being sent. */
  #retryRelease(): void {
    const left = this.#validUntil + this.#allowance - performance.now();
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

  /** Extending, reading and refreshing need a lease that has not ended, and a client to send with. */
  #requireUsable(): void {
    // Asked first, for the same reason as in release().
    const closed = clientEnded(this.#ctx);
    const state = this.#state;
    if (state.name === 'lost') throw state.error;
    if (state.name === 'released') throw new LeaseLostError(this.key, this.fencingToken, 'it was released');
    if (closed) throw new ClientClosedError(this.key);
  }

  /** Leaves the live states for good. */
  #end(next: State): void {
    clearTimeout(this.#timer);
    this.#state = next;
    this.#ctx.local.held -= this.weight;
    this.#listener.unbind(this);
    if (next.name === 'lost') this.#controller?.abort(next.error);
  }

  /** `termEnded`: a fixed term ran out as planned, rather than the lease being taken away. */
  #lose(reason: string, cause?: unknown, termEnded = false): void {
    const error = new LeaseLostError(this.key, this.fencingToken, reason, cause === undefined ? undefined : { cause });
    this.#end({ name: 'lost', error });
    publish('lost', () => ({
      key: this.key,
      token: this.token,
      fencingToken: this.fencingToken,
      error,
      held: performance.now() - this.#grantedAt,
      termEnded,
    }));
  }
}
