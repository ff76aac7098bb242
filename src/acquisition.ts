import { performance } from 'node:perf_hooks';
import type { SemaphoreContext } from './context.js';
import { clientEnded, isPermanent } from './context.js';
import { AcquireTimeoutError, ClientClosedError, QueueFullError, WeightExceedsLimitError } from './errors.js';
import { Lease } from './lease.js';
import type { ResolvedAcquire } from './options.js';
import { confirmReplicated } from './replication.js';
import type { HeartbeatReply } from './scripts.js';
import { channels, publish } from './telemetry.js';
import { expiryMargin, heartbeatFraction, nextRetryMs, staleGrantFraction, timerDelay } from './timing.js';
import type { WakeListener } from './wake.js';

/**
 * Where one acquisition stands. Every event (a reply, a grant message, a timer, the
 * user giving up, the client ending) goes through #on(), and only there does it move:
 *
 *   sending ──queued──▶ queued ──heartbeat due──▶ checking ──queued──▶ queued
 *      │  ▲                │  ▲                      │ gone: new ticket ──▶ sending
 *      │  └─ again ────────┼──┼──────────── again ───┘
 *      │                   │  └──────────────────────┘
 *      ├──granted (a reply, or a message, in any of the three)──▶ confirming ──▶ done
 *      └──gave up while a call that may leave a ticket is in flight──▶ leaving ──it returned──▶ done
 *
 * One ticket at a time: only `sending` can create one (the acquire script), and it is
 * entered only when Redis said the previous one is gone. One call in flight per purpose:
 * `sending` and `checking` each have one; a re-check asked for meanwhile (a stale grant
 * message, the subscriber reconnecting) is remembered as `again` and sent after it
 * returns, never beside it. A reply to any call but the newest (`#request`) is a reply
 * to an old request, and a grant message for another ticket of ours is one for an old
 * ticket: both are named cases in #on(), and change nothing.
 *
 * `leaving` keeps a cancel from being overtaken by what it cancels: an acquire that
 * ioredis resends (as EVAL after NOSCRIPT) would otherwise queue a ticket for nobody,
 * and a grant being confirmed by replicas would stay held for nobody.
 */
type State =
  | { readonly name: 'sending'; readonly again: boolean }
  | { readonly name: 'queued' }
  | { readonly name: 'checking'; readonly again: boolean }
  /** Granted, waiting for replicas (`replicas` option). */
  | { readonly name: 'confirming' }
  /** Settled for the caller while a call that may leave a ticket is in flight: cancelled once more when it returns. */
  | { readonly name: 'leaving' }
  | { readonly name: 'done' };

/** The states that carry nothing new, made once: an uncontended acquire allocates none. */
const sending: State = { name: 'sending', again: false };
const checking: State = { name: 'checking', again: false };
const queued: State = { name: 'queued' };
const confirming: State = { name: 'confirming' };
const leaving: State = { name: 'leaving' };
const done: State = { name: 'done' };

type Event =
  | { readonly type: 'reply'; readonly request: number; readonly reply: HeartbeatReply; readonly sentAt: number }
  | { readonly type: 'failed'; readonly request: number; readonly error: unknown }
  | { readonly type: 'message'; readonly token: string; readonly fence: number }
  | { readonly type: 'check' }
  | { readonly type: 'confirmed'; readonly request: number; readonly fence: number; readonly validFrom: number }
  | { readonly type: 'unconfirmed'; readonly request: number; readonly error: unknown }
  | { readonly type: 'giveUp'; readonly reason: unknown }
  | { readonly type: 'ended' };

/**
 * One `acquire()` from its first command to its settlement. It is queued by a single
 * script call; from then on it waits for a grant message on its client's inbox
 * channel, and heartbeats (which double as re-checks) only every `ttl / 3`, or
 * right after the earliest holder's lease would expire.
 */
export class Acquisition {
  readonly #ctx: SemaphoreContext;
  readonly #options: ResolvedAcquire;
  readonly #orNull: boolean;
  readonly #listener: WakeListener;
  readonly #channel: string;
  readonly #startedAt = performance.now();
  readonly #promise: Promise<Lease | null>;
  #resolve!: (lease: Lease | null) => void;
  #reject!: (error: unknown) => void;
  #state: State = sending;
  /** Names the ticket in Redis (tokens.ts); replaced only when Redis said the ticket is gone. */
  #token: string;
  /** Numbers every call this acquisition sends; a reply counts only for the newest. */
  #request = 0;
  #timeout: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** We hold a reference on our inbox channel (attach or subscribe), to give back when done. */
  #watching = false;
  /**
   * Resolves once our channel's subscription is live: from the moment the first
   * acquire went out if it already was (undefined then), else a re-check is due once
   * it is, since a grant published before was not heard.
   */
  #live: Promise<void> | undefined;
  /** The re-check for a subscription that went live late was arranged (once). */
  #subscribed = false;
  /** The 'queued' event was published (once per acquisition). */
  #announced = false;
  /** Wait before re-checking after a connection error (0: none failed since the last reply). */
  #retryIn = 0;
  /** performance.now() when the newest script call was sent. */
  #lastSent = 0;
  /**
   * A time no grant of ours can predate: when the newest call that found us still
   * queued was sent (at first, when the first call was sent). A grant announced by
   * message counts its ttl from no earlier than this.
   */
  #queuedAt = 0;
  /**
   * The last fencing token on the key when a call found us queued. Messages travel on
   * another connection than replies, so one can arrive after a later reply: a grant
   * message with a token no higher than this one is from a grant that already expired.
   */
  #staleUpTo = 0;
  #onAbort: (() => void) | undefined;

  /**
   * `orNull`: a try (`tryAcquire()`), which resolves with null when the permits are not
   * free at once; `acquire({ timeout: 0 })` rejects with an AcquireTimeoutError instead.
   */
  constructor(ctx: SemaphoreContext, options: ResolvedAcquire, orNull = false) {
    this.#ctx = ctx;
    this.#options = options;
    this.#orNull = orNull;
    this.#listener = ctx.listener();
    this.#channel = ctx.inboxChannel(this.#listener);
    this.#token = this.#listener.tokens.next(options.weight, ctx.permits, options.label, ctx.fixed);
    this.#promise = new Promise<Lease | null>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** A single try (tryAcquire, `timeout: 0`) never queues. */
  get #waits(): boolean {
    return this.#options.timeout !== 0;
  }

  /**
   * Starts the acquisition; settles once granted, timed out, aborted or failed.
   * Resolves with null only for a try (`orNull`) when the permits are not free at once.
   */
  run(): Promise<Lease | null> {
    const { signal, timeout } = this.#options;
    if (signal) {
      // Made only when there is a signal: most acquires have none.
      this.#onAbort = () => this.#on({ type: 'giveUp', reason: signal.reason });
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (timeout !== Number.POSITIVE_INFINITY && timeout > 0) {
      this.#timeout = setTimeout(
        () => this.#on({ type: 'giveUp', reason: new AcquireTimeoutError(this.#ctx.key, timeout) }),
        timeout,
      );
    }
    if (this.#waits) {
      this.#ctx.local.waiting++;
      // Registered before sending: a grant message may overtake the acquire's own reply.
      this.#listener.register(this.#token, this);
      // And the subscription, if there is one, may not end while the acquire is in flight.
      const attached = this.#listener.attach(this.#channel);
      if (attached) {
        this.#watching = true;
        if (!attached.live) this.#live = attached.ready;
      }
    }
    this.#queuedAt = performance.now();
    this.#send(sending);
    return this.#promise;
  }

  /** Called by the listener with the fencing token published for the grant of `token`. */
  granted(token: string, fence: number): void {
    this.#on({ type: 'message', token, fence });
  }

  /** Asks Redis where this ticket stands (and heartbeats it). Also called after pub/sub reconnects. */
  recheck(): void {
    this.#on({ type: 'check' });
  }

  /** The user's client has ended: nothing this acquisition sends can succeed any more. */
  abandon(): void {
    this.#on({ type: 'ended' });
  }

  /** The one place where replies, messages and timers change where the acquisition stands. */
  #on(event: Event): void {
    const state = this.#state;
    // A reply to a call other than the newest: not news, whatever it says.
    if ('request' in event && event.request !== this.#request) return;
    switch (state.name) {
      case 'done':
        return;
      case 'leaving':
        // The call we waited for came back: now the cancel cannot overtake it.
        if (event.type !== 'message' && event.type !== 'check' && event.type !== 'giveUp' && event.type !== 'ended') {
          this.#state = done;
          this.#cancel();
        }
        return;
      case 'confirming':
        if (event.type === 'confirmed')
          return this.#settle(done, () => this.#deliver(event.fence, event.validFrom, false));
        // Not safely granted: give the permit back rather than hold it unconfirmed.
        if (event.type === 'unconfirmed') {
          this.#settle(done, () => this.#reject(event.error));
          return this.#cancel();
        }
        // The confirmation in flight settles through `leaving`, which gives the permit back.
        if (event.type === 'giveUp') return this.#settle(leaving, () => this.#reject(event.reason));
        if (event.type === 'ended') return this.#settle(done, () => this.#reject(this.#closed()));
        return;
    }
    switch (event.type) {
      case 'message':
        // A grant for a ticket this acquisition gave up (Redis said it was gone): an old ticket's.
        if (event.token !== this.#token) return;
        // News only past the last token a call saw us queued behind.
        if (event.fence > this.#staleUpTo) this.#grant(event.fence, this.#queuedAt, true);
        return;
      case 'giveUp':
        if (event.reason instanceof AcquireTimeoutError) {
          publish('timeout', () => ({ key: this.#ctx.key, token: this.#token, waited: this.#waited() }));
        }
        return this.#leave(event.reason, state.name === 'sending');
      case 'ended':
        return this.#settle(done, () => this.#reject(this.#closed()));
      case 'check':
        return this.#recheck(state);
      case 'failed':
      case 'reply': {
        // The call is back: nothing is in flight now, but a re-check asked for meanwhile.
        const again = (state.name === 'sending' || state.name === 'checking') && state.again;
        this.#state = queued;
        if (event.type === 'failed') return this.#onFailed(event.error, event.request === 1);
        this.#retryIn = 0;
        return this.#onReply(event.reply, event.sentAt, again);
      }
      case 'confirmed':
      case 'unconfirmed':
        // Only `confirming` waits for these.
        return;
    }
  }

  /** A re-check now, or, with a call in flight, once it returns: never two beside each other. */
  #recheck(state: State): void {
    if (state.name === 'queued') return this.#send(checking);
    if (state.name === 'sending' && !state.again) this.#state = { name: 'sending', again: true };
    if (state.name === 'checking' && !state.again) this.#state = { name: 'checking', again: true };
  }

  /** `again`: a re-check was asked for while the call was in flight. */
  #onReply(reply: HeartbeatReply, sentAt: number, again: boolean): void {
    if ('otherPermits' in reply && reply.otherPermits !== undefined) this.#ctx.otherPermits(reply.otherPermits);
    switch (reply.kind) {
      case 'granted':
        // The script set the lease's expiry while running, after we sent it.
        return this.#grant(reply.fence, sentAt);
      case 'busy':
        // A try never queues, so there is no ticket to take back.
        return this.#settle(done, () => this.#notNow());
      case 'full':
        // Nothing was queued (or our ticket had expired and the queue filled up meanwhile).
        return this.#settle(done, () => this.#reject(new QueueFullError(this.#ctx.key, this.#ctx.maxWaiters)));
      case 'tooHeavy':
        // Nothing was queued: the stored limit is below our weight, so no wait could end
        // in a grant. (A waiter taken out of the line when the limit was lowered learns it
        // here too: its message made it re-check, found its ticket gone, and queue again.)
        return this.#settle(done, () =>
          this.#reject(new WeightExceedsLimitError(this.#ctx.key, this.#options.weight, reply.limit)),
        );
      case 'gone':
        // Evicted while this process stalled or was cut off: queue again, at the end of the
        // line, under a new token, so that a grant of the old one is never taken for ours.
        this.#listener.unregister(this.#token);
        this.#token = this.#listener.tokens.next(
          this.#options.weight,
          this.#ctx.permits,
          this.#options.label,
          this.#ctx.fixed,
        );
        this.#listener.register(this.#token, this);
        return this.#send(sending);
      case 'queued': {
        this.#queuedAt = Math.max(this.#queuedAt, sentAt);
        this.#staleUpTo = Math.max(this.#staleUpTo, reply.lastFence);
        this.#announce(reply.position);
        this.#ensureSubscribed();
        if (again) return this.#send(checking);
        return this.#scheduleHeartbeat(reply.nextExpiryIn);
      }
    }
  }

  /**
   * `first`: the acquisition's first call failed; the caller hears of it at once, as of
   * any error of a call. Later, only an error that waiting cannot cure ends the wait: a
   * re-check goes after a dropped connection, and finds the ticket, or finds it gone and
   * queues again (a re-queue that failed may or may not have taken its ticket).
   */
  #onFailed(error: unknown, first: boolean): void {
    // The caller's own call failed (it hears of it, as of any call's error), Redis refused
    // the script, or the client was closed: waiting cannot help.
    if (first || isPermanent(this.#ctx.adapter, error) || clientEnded(this.#ctx)) {
      // The command may have run: take the ticket back (it would expire anyway).
      this.#settle(done, () => this.#reject(clientEnded(this.#ctx) ? this.#closed() : error));
      return this.#cancel();
    }
    // The connection is down (or the node restarting): keep trying, soon at first, then
    // backing off to the heartbeat's pace; if the ticket expired meanwhile, it queues again.
    this.#retryIn = nextRetryMs(this.#retryIn, this.#ctx.ttl * heartbeatFraction);
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => this.recheck(), this.#retryIn);
  }

  /**
   * One script call: the acquire that takes a ticket (`sending`), or a heartbeat
   * (`checking`), which also re-checks and never queues. Its outcome comes back as an
   * event, under the call's number.
   */
  #send(next: typeof sending | typeof checking): void {
    clearTimeout(this.#heartbeat);
    this.#state = next;
    const request = ++this.#request;
    const sentAt = performance.now();
    this.#lastSent = sentAt;
    const { scripts, ttl, maxWaiters } = this.#ctx;
    const ok = (reply: HeartbeatReply) => this.#on({ type: 'reply', request, reply, sentAt });
    const fail = (error: unknown) => this.#on({ type: 'failed', request, error });
    if (next === sending) scripts.acquireThen({ token: this.#token, ttl, wait: this.#waits, maxWaiters }, ok, fail);
    else scripts.heartbeatThen(this.#token, ttl, ok, fail);
  }

  #announce(position: number): void {
    if (this.#announced) return;
    this.#announced = true;
    publish('queued', () => ({ key: this.#ctx.key, token: this.#token, weight: this.#options.weight, position }));
  }

  /** We are in the queue: make sure a grant will be heard, or else re-check once it can be. */
  #ensureSubscribed(): void {
    if (this.#subscribed) return;
    this.#subscribed = true;
    if (this.#watching) {
      // Our channel was already watched: if it was not live yet, ask once it is.
      this.#live?.then(
        () => this.recheck(),
        () => {},
      );
      return;
    }
    this.#watching = true;
    this.#listener.subscribe(this.#channel).then(
      // A grant published before our subscription went live was not heard: ask once.
      () => this.recheck(),
      () => {
        // Refused (an ACL without channel rights) or the connection is gone: heartbeats
        // still find the grant, only later. Nothing to give back.
        this.#watching = false;
      },
    );
  }

  #scheduleHeartbeat(nextExpiryIn: number): void {
    // Re-checking right at a holder's expiry would race it by a hair: wait a little past it.
    let delay = this.#ctx.ttl * heartbeatFraction - (performance.now() - this.#lastSent);
    if (nextExpiryIn >= 0) delay = Math.min(delay, nextExpiryIn + expiryMargin);
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => this.recheck(), timerDelay(delay));
  }

  /**
   * `validFrom`: no later than the moment Redis counts the lease's ttl from. If too
   * little of it is left (this process or Redis stalled, or the message was held up),
   * the grant is not handed out as is: a re-check renews it if Redis still has it, or
   * finds the ticket gone and queues again. `byMessage`: granted by another call, which
   * kept our waiting deadline as the lease's expiry, where a reply's grant expires a
   * whole ttl after it.
   */
  #grant(fence: number, validFrom: number, byMessage = false): void {
    if (performance.now() - validFrom > this.#ctx.ttl * staleGrantFraction) {
      // A try must never queue: give the stale grant back and report "not now".
      if (!this.#waits) {
        this.#settle(done, () => this.#notNow());
        return this.#cancel();
      }
      return this.#recheck(this.#state);
    }
    if (this.#ctx.replicas === 0) return this.#settle(done, () => this.#deliver(fence, validFrom, byMessage));
    this.#state = confirming;
    const request = ++this.#request;
    confirmReplicated(this.#ctx, this.#token, fence).then(
      (confirmedFrom) => this.#on({ type: 'confirmed', request, fence, validFrom: confirmedFrom }),
      (error: unknown) => this.#on({ type: 'unconfirmed', request, error }),
    );
  }

  #deliver(fence: number, validFrom: number, renewTerm: boolean): void {
    const lease = Lease.grant(this.#ctx, this.#token, this.#options.weight, fence, validFrom, {
      autoRefresh: this.#options.autoRefresh,
      renewTerm,
    });
    // Checked here too: even an unused payload closure is an allocation per grant.
    if (channels.granted.hasSubscribers) {
      publish('granted', () => ({
        key: this.#ctx.key,
        token: this.#token,
        weight: this.#options.weight,
        fencingToken: fence,
        waited: this.#waited(),
      }));
    }
    this.#resolve(lease);
    // Queued after the caller's continuation, which may well release the lease at once.
    queueMicrotask(() => lease.start());
  }

  /**
   * Timed out or aborted: the caller hears at once, and the ticket leaves the queue (a
   * grant that raced us goes back). While the acquire that takes the ticket is in
   * flight (`sending`), the cancel goes now, and once more when that call returns:
   * ioredis may resend it (as EVAL, after NOSCRIPT) behind the first cancel, and a
   * heartbeat never queues, so only that call needs the second. Sending one now as well
   * means a caller that closes its client right away still takes its ticket back.
   */
  #leave(reason: unknown, inFlight: boolean): void {
    this.#settle(inFlight ? leaving : done, () => this.#reject(reason));
    this.#cancel();
  }

  /**
   * Sent on the same connection as our acquire, so Redis runs it after any call of ours
   * it has already received. If it cannot be sent, the ticket stops heartbeating and
   * expires within ttl.
   */
  #cancel(): void {
    if (clientEnded(this.#ctx)) return;
    this.#ctx.scripts.release(this.#token, undefined).catch(() => {});
  }

  /**
   * Settles the caller's promise, moving to `next` (done, or leaving), and lets go of
   * timers, listeners and the channel. Called once: from a live state only.
   */
  #settle(next: typeof done | typeof leaving, settle: () => void): void {
    if (this.#waits) this.#ctx.local.waiting--;
    this.#state = next;
    clearTimeout(this.#timeout);
    clearTimeout(this.#heartbeat);
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#listener.unregister(this.#token);
    if (this.#watching) {
      this.#watching = false;
      this.#listener.detach(this.#channel);
    }
    settle();
  }

  /** A single try found the permits taken: tryAcquire() says null, acquire({ timeout: 0 }) rejects. */
  #notNow(): void {
    if (this.#orNull) this.#resolve(null);
    else this.#reject(new AcquireTimeoutError(this.#ctx.key, 0));
  }

  #closed(): ClientClosedError {
    return new ClientClosedError(this.#ctx.key);
  }

  #waited(): number {
    return performance.now() - this.#startedAt;
  }
}
