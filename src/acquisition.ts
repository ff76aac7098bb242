import { performance } from 'node:perf_hooks';
import type { SemaphoreContext } from './context.js';
import { clientEnded, isPermanent } from './context.js';
import { AcquireTimeoutError, ClientClosedError, QueueFullError } from './errors.js';
import { Lease } from './lease.js';
import type { ResolvedAcquire } from './options.js';
import type { AcquireReply, HeartbeatReply } from './scripts.js';
import { confirmReplicated } from './replication.js';
import { publish } from './telemetry.js';
import type { WakeListener } from './wake.js';

/** Re-checking right at a holder's expiry would race it by a hair; wait a little past it. */
const expiryMargin = 5;

/**
 * One `acquire()` from its first command to its settlement. It is queued by a single
 * script call; from then on it waits for a grant message on its client's inbox
 * channel, and heartbeats (which double as re-checks) only every `ttl / 3`, or
 * right after the earliest holder's lease would expire.
 */
export class Acquisition {
  readonly #ctx: SemaphoreContext;
  readonly #options: ResolvedAcquire;
  /** Names the ticket in Redis (tokens.ts); replaced only when the ticket was evicted. */
  #token: string;
  readonly #startedAt = performance.now();
  readonly #promise: Promise<Lease | null>;
  #resolve!: (lease: Lease | null) => void;
  #reject!: (error: unknown) => void;
  #settled = false;
  #listener: WakeListener | undefined;
  #timeout: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #checking = false;
  /** Subscribed (or subscribing) to our inbox channel, so settling must unwatch it. */
  #watching = false;
  /** The 'queued' event was published (once per acquisition). */
  #queued = false;
  /** False for a single try (tryAcquire, timeout 0), which must never queue. */
  #wait = true;
  /** performance.now() when the newest acquire/heartbeat call was sent. */
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
  /** Whether our inbox subscription was live when the first acquire was sent. */
  #heardFromStart = false;

  constructor(ctx: SemaphoreContext, options: ResolvedAcquire) {
    this.#ctx = ctx;
    this.#options = options;
    this.#token = ctx.listener().tokens.next(options.weight, ctx.permits);
    this.#promise = new Promise<Lease | null>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /**
   * Starts the acquisition; settles once granted, timed out, aborted or failed.
   * Resolves with null only for `timeout: 0` when the permits are not free at once.
   */
  run(): Promise<Lease | null> {
    const { signal, timeout } = this.#options;
    if (signal) {
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (timeout !== Number.POSITIVE_INFINITY && timeout > 0) {
      this.#timeout = setTimeout(() => this.#giveUp(new AcquireTimeoutError(this.#ctx.key, timeout)), timeout);
    }
    // timeout 0: a single try that never queues.
    const wait = timeout !== 0;
    this.#wait = wait;
    if (wait) {
      // Registered before sending: a grant message may overtake the acquire's own reply.
      this.#listener = this.#ctx.listener();
      this.#listener.register(this.#token, this);
      this.#heardFromStart = this.#listener.isLive(this.#channel());
    }
    this.#queuedAt = performance.now();
    void this.#send(true).then(
      ([reply, sentAt]) => this.#onFirstReply(reply as AcquireReply, sentAt),
      (error: unknown) => this.#fail(error),
    );
    return this.#promise;
  }

  /**
   * One script call, with when it was sent: the acquire that takes the ticket
   * (`first`), or a heartbeat, which also re-checks and never queues.
   */
  #send(first: boolean): Promise<[HeartbeatReply, number]> {
    const sentAt = performance.now();
    this.#lastSent = sentAt;
    const { scripts, ttl, maxWaiters } = this.#ctx;
    const call = first
      ? scripts.acquire({ token: this.#token, ttl, wait: this.#wait, maxWaiters })
      : scripts.heartbeat(this.#token, ttl);
    return call.then((reply) => {
        if (reply.kind === 'queued') {
          this.#queuedAt = Math.max(this.#queuedAt, sentAt);
          this.#staleUpTo = Math.max(this.#staleUpTo, reply.lastFence);
        }
      return [reply, sentAt];
    });
  }

  #onFirstReply(reply: AcquireReply, sentAt: number): void {
    if (this.#settled) return;
    // The script set the lease's expiry while running, after we sent it.
    if (reply.kind === 'granted') return this.#grant(reply.fence, sentAt);
    if (reply.kind === 'full') return this.#fail(new QueueFullError(this.#ctx.key, this.#ctx.maxWaiters));
    if (reply.kind === 'busy') {
      // A try never queues, so there is no ticket to take back.
      this.#settle();
      return this.#resolve(null);
    }
    this.#waitForGrant(reply);
  }

  /** We are in the queue: make sure a grant will be heard, and heartbeat meanwhile. */
  #waitForGrant(reply: Extract<AcquireReply, { kind: 'queued' }>): void {
    if (!this.#queued) {
      this.#queued = true;
      publish('queued', () => ({
        key: this.#ctx.key,
        token: this.#token,
        weight: this.#options.weight,
        position: reply.position,
      }));
    }
    // Heartbeat from now on, whatever the subscription below does or how long it takes.
    this.#scheduleHeartbeat(reply.nextExpiryIn);
    if (this.#watching || !this.#listener) return;
    this.#watching = true;
    this.#listener.watch(this.#channel()).then(
      () => {
        // A grant published before our subscription went live was not heard: ask once.
        if (!this.#heardFromStart) this.recheck();
      },
      () => {
        // No subscription (and nothing to unwatch): the heartbeat still finds the grant, only later.
        this.#watching = false;
      },
    );
  }

  #channel(): string {
    return this.#ctx.space.channelPrefix + this.#ctx.listener().tokens.inbox;
  }

  /** Called by the listener with the fencing token published for our grant. */
  granted(fence: number): void {
    if (!this.#settled && fence > this.#staleUpTo) this.#grant(fence, this.#queuedAt);
  }

  /** Asks Redis where this ticket stands (and heartbeats it). Also called after pub/sub reconnects. */
  recheck(): void {
    if (this.#settled || this.#checking || !this.#wait) return;
    this.#check(false);
  }

  #check(first: boolean): void {
    this.#checking = true;
    clearTimeout(this.#heartbeat);
    this.#send(first).then(
      ([reply, sentAt]) => {
        this.#checking = false;
        if (this.#settled) return;
        // A holder found by a re-check had its expiry pushed to ttl from this call.
        if (reply.kind === 'granted') this.#grant(reply.fence, sentAt);
        else if (reply.kind === 'queued') this.#waitForGrant(reply);
        else if (reply.kind === 'gone') this.#requeue();
        // Our ticket had expired (the process stalled) and the queue filled up meanwhile.
        else if (reply.kind === 'full') this.#fail(new QueueFullError(this.#ctx.key, this.#ctx.maxWaiters));
        else this.#scheduleHeartbeat(-1);
      },
      (error: unknown) => {
        this.#checking = false;
        if (this.#settled) return;
        // Redis refused the script, or the client was closed: waiting cannot help.
        if (isPermanent(error) || clientEnded(this.#ctx)) this.#fail(error);
        // The connection is down: keep trying; the ticket is re-queued if it expired meanwhile.
        else this.#scheduleHeartbeat(-1);
      },
    );
  }

  /**
   * Our ticket was evicted (this process stalled past its ttl): queue again, at the
   * end of the line, under a new token, so that the old one can never be granted.
   */
  #requeue(): void {
    this.#listener?.unregister(this.#token);
    this.#token = this.#ctx.listener().tokens.next(this.#options.weight, this.#ctx.permits);
    this.#listener?.register(this.#token, this);
    this.#check(true);
  }

  #scheduleHeartbeat(nextExpiryIn: number): void {
    let delay = this.#ctx.ttl / 3 - (performance.now() - this.#lastSent);
    if (nextExpiryIn >= 0) delay = Math.min(delay, nextExpiryIn + expiryMargin);
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => this.recheck(), Math.max(0, delay));
  }

  /**
   * `validFrom`: no later than the moment Redis counts the lease's ttl from. If too
   * little of it is left (this process or Redis stalled), the grant is not handed out
   * as is: a re-check renews it if Redis still has it, or queues us again if not.
   */
  #grant(fence: number, validFrom: number): void {
    if (performance.now() - validFrom > (this.#ctx.ttl * 2) / 3) {
      if (!this.#wait) {
        // A try must never queue: give the stale grant back and report "not now".
        this.#settle();
        this.#cancel();
        return this.#resolve(null);
      }
      this.#checking = false;
      return this.recheck();
    }
    this.#settle();
    if (this.#ctx.replicas === 0) return this.#deliver(fence, validFrom);
    confirmReplicated(this.#ctx, this.#token, fence).then(
      (confirmedFrom) => {
        // Timed out or aborted while the replicas confirmed: the caller has moved on.
        const signal = this.#options.signal;
        if (signal?.aborted) return this.#takeBack(signal.reason);
        if (performance.now() - this.#startedAt > this.#options.timeout) {
          return this.#takeBack(new AcquireTimeoutError(this.#ctx.key, this.#options.timeout));
        }
        this.#deliver(fence, confirmedFrom);
      },
      // Not safely granted: give the permit back rather than hold it unconfirmed.
      (error: unknown) => this.#takeBack(error),
    );
  }

  #takeBack(reason: unknown): void {
    this.#cancel();
    this.#reject(reason);
  }

  /** The user's client has ended: nothing this acquisition sends can succeed any more. */
  abandon(): void {
    this.#fail(new ClientClosedError(this.#ctx.key));
  }

  #deliver(fence: number, validFrom: number): void {
    const lease = new Lease(this.#ctx, this.#token, this.#options.weight, fence, validFrom);
    publish('granted', () => ({
      key: this.#ctx.key,
      token: this.#token,
      weight: this.#options.weight,
      fencingToken: fence,
      waited: performance.now() - this.#startedAt,
    }));
    this.#resolve(lease);
  }

  /** Timed out or aborted: leave the queue, and hand back a grant that raced us. */
  #giveUp(reason: unknown): void {
    if (this.#settled) return;
    this.#settle();
    if (reason instanceof AcquireTimeoutError) {
      publish('timeout', () => ({
        key: this.#ctx.key,
        token: this.#token,
        waited: performance.now() - this.#startedAt,
      }));
    }
    this.#cancel();
    this.#reject(reason);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    // The ticket may exist if the command reached Redis; take it back (it would expire anyway).
    this.#cancel();
    this.#reject(error);
  }

  /**
   * Sent on the same connection as our acquire, so Redis runs it after any acquire
   * still in flight. If it cannot be sent, the ticket stops heartbeating and expires within ttl.
   */
  #cancel(): void {
    this.#ctx.scripts.release(this.#token, undefined).catch(() => {});
  }

  #settle(): void {
    this.#settled = true;
    clearTimeout(this.#timeout);
    clearTimeout(this.#heartbeat);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#listener?.unregister(this.#token);
    if (this.#watching) this.#listener?.unwatch(this.#channel());
  }

  readonly #onAbort = (): void => {
    this.#giveUp(this.#options.signal?.reason);
  };
}
