/**
 * A small executable model of the semaphore, for model-based tests of the Lua
 * scripts: the same rules, written plainly in TypeScript over a clock the test moves.
 * Tokens carry their weight and permits as src/tokens.ts writes them.
 *
 * The test asks for status() after every step, at the same instant, so no step starts
 * with an expired entry left in Redis: the model never needs to hold one either.
 */
import type { AcquireReply, HeartbeatReply, ReleaseReply, StatusReply, WaiterInfo } from '../../src/scripts.js';

type Holder = { token: string; fence: number; expiry: number };

/** How many entries past `permits` count as near the front (scripts/includes/line.lua). */
const nearSlack = 4;
const nearCap = 100;

export function shape(token: string): { weight: number; permits: number } {
  return { weight: Number(/\*(\d+)/.exec(token)?.[1] ?? 1), permits: Number(/\/(\d+)$/.exec(token)?.[1] ?? 1) };
}

export class SemaphoreModel {
  now: number;
  readonly holders = new Map<string, Holder>();
  /** token -> deadline */
  readonly waiters = new Map<string, number>();
  /** Arrival order, with the entries of waiters that left until they reach the front. */
  line: string[] = [];
  lastFence = 0;

  constructor(now: number) {
    this.now = now;
  }

  get held(): number {
    let sum = 0;
    for (const h of this.holders.values()) sum += shape(h.token).weight;
    return sum;
  }

  acquire(token: string, ttl: number, wait: boolean): AcquireReply {
    const { weight, permits } = shape(token);
    if (this.holders.size === 0 && this.waiters.size === 0) return this.#granted(this.#grant(token, this.now + ttl));
    const holder = this.holders.get(token);
    if (holder) {
      holder.expiry = this.now + ttl;
      return this.#granted(holder.fence);
    }
    this.#purgeWaiters();
    if (this.waiters.size === 0 && weight <= permits - this.held)
      return this.#granted(this.#grant(token, this.now + ttl));
    if (!wait) {
      this.#drain(permits, undefined);
      return { kind: 'busy' };
    }
    let position = this.waiters.size;
    if (this.waiters.has(token)) {
      this.waiters.set(token, this.now + ttl);
      position = this.#nearHead(token, permits);
    } else {
      this.waiters.set(token, this.now + ttl);
      this.line.push(token);
    }
    const mine = this.#drain(permits, token);
    if (mine !== undefined) return this.#granted(mine);
    return this.#queued(position, permits);
  }

  heartbeat(token: string, ttl: number): HeartbeatReply {
    const { permits } = shape(token);
    const holder = this.holders.get(token);
    if (holder) {
      holder.expiry = this.now + ttl;
      return this.#granted(holder.fence);
    }
    this.#purgeWaiters();
    if (!this.waiters.has(token)) {
      this.#drain(permits, undefined);
      return { kind: 'gone' };
    }
    this.waiters.set(token, this.now + ttl);
    const mine = this.#drain(permits, token);
    if (mine !== undefined) return this.#granted(mine);
    return this.#queued(this.#nearHead(token, permits), permits);
  }

  /** `fence`: the lease's, for a holder's release; undefined for a waiter giving up. */
  release(token: string, fence: number | undefined): ReleaseReply {
    let result: ReleaseReply = 'unknown';
    const holder = this.holders.get(token);
    if (fence !== undefined) {
      if (holder?.fence === fence) {
        this.holders.delete(token);
        result = 'released';
      }
    } else if (this.waiters.delete(token)) {
      result = 'dequeued';
      if (this.line[0] === token) this.line.shift();
      else if (this.line.at(-1) === token) this.line.pop();
    } else if (holder) {
      this.holders.delete(token);
      result = 'released';
    }
    if (this.waiters.size === 0) {
      if (result === 'dequeued') this.line = [];
      return result;
    }
    this.#drain(shape(token).permits, undefined);
    return result;
  }

  /** Held at least `ms` more (0 reads); never earlier. The ms left, or undefined once gone. */
  refresh(token: string, fence: number, ms: number): number | undefined {
    const holder = this.holders.get(token);
    if (holder?.fence !== fence || holder.expiry <= this.now) return undefined;
    holder.expiry = Math.max(holder.expiry, this.now + ms);
    return holder.expiry - this.now;
  }

  status(limit: number): StatusReply {
    this.#purgeHolders();
    this.#purgeWaiters();
    this.#drain(Number.POSITIVE_INFINITY, undefined);
    const live = [...this.holders.values()].sort((a, b) => a.expiry - b.expiry || (member(a) < member(b) ? -1 : 1));
    const holders = live.map((h) => ({
      token: h.token,
      weight: shape(h.token).weight,
      fencingToken: h.fence,
      expiresIn: h.expiry - this.now,
      heldFor: Math.max(0, this.now - Math.floor(h.fence / 1000)),
    }));
    let permits = 0;
    let newest = 0;
    for (const h of live) {
      if (h.fence > newest) {
        newest = h.fence;
        permits = shape(h.token).permits;
      }
    }
    const waiters: WaiterInfo[] = [];
    const seen = new Set<string>();
    for (const token of this.line.slice(0, 2 * limit + 100)) {
      const deadline = this.waiters.get(token);
      if (deadline === undefined || seen.has(token) || waiters.length >= limit) continue;
      seen.add(token);
      if (permits === 0) permits = shape(token).permits;
      waiters.push({ token, weight: shape(token).weight, expiresIn: deadline - this.now });
    }
    return {
      held: this.held,
      waiting: this.waiters.size,
      lastFencingToken: this.lastFence,
      permits: permits > 0 ? permits : undefined,
      // The model runs without stored settings (the settings have tests of their own).
      limit: undefined,
      paused: false,
      holders,
      waiters,
    };
  }

  // Expired means: expiry at or before now, on the server's clock.
  #purgeHolders(): void {
    for (const [token, h] of this.holders) if (h.expiry <= this.now) this.holders.delete(token);
  }

  #purgeWaiters(): void {
    let evicted = 0;
    for (const [token, deadline] of this.waiters) {
      if (deadline <= this.now && evicted < 100) {
        this.waiters.delete(token);
        evicted++;
      }
    }
    // The line's leftovers go with the last waiter evicted.
    if (evicted > 0 && this.waiters.size === 0) this.line = [];
  }

  /** Serves the front while it fits; returns the fencing token granted to `quiet`, if any. */
  #drain(gate: number, quiet: string | undefined): number | undefined {
    let mine: number | undefined;
    let steps = 0;
    while (this.waiters.size > 0 && this.held < gate && steps < 1_000) {
      steps++;
      const head = this.line.shift();
      if (head === undefined) {
        this.waiters.clear();
        return mine;
      }
      const deadline = this.waiters.get(head);
      if (deadline === undefined) continue;
      if (deadline <= this.now) {
        this.waiters.delete(head);
        continue;
      }
      const { weight, permits } = shape(head);
      if (weight > permits - this.held) {
        this.line.unshift(head);
        break;
      }
      this.waiters.delete(head);
      // A grant keeps the waiter's own deadline as the lease's expiry.
      const fence = this.#grant(head, deadline);
      if (head === quiet) mine = fence;
    }
    // Entries left behind the last waiter served stay until the line's lifetime ends.
    return mine;
  }

  #grant(token: string, expiry: number): number {
    // The clock in microseconds, or one past the last token if that is not lower.
    this.lastFence = Math.max(this.lastFence + 1, this.now * 1_000);
    this.holders.set(token, { token, fence: this.lastFence, expiry });
    return this.lastFence;
  }

  #nearHead(token: string, permits: number): number {
    const i = this.line.indexOf(token);
    return i >= 0 && i < Math.min(permits, nearCap) + nearSlack ? i : -1;
  }

  #queued(position: number, permits: number): AcquireReply {
    let nextExpiryIn = -1;
    if (position >= 0 && position < Math.min(permits, nearCap) + nearSlack && this.holders.size > 0) {
      let first = Number.POSITIVE_INFINITY;
      for (const h of this.holders.values()) first = Math.min(first, h.expiry);
      nextExpiryIn = first - this.now;
    }
    return { kind: 'queued', position, nextExpiryIn, lastFence: this.lastFence };
  }

  #granted(fence: number): AcquireReply {
    return { kind: 'granted', fence };
  }
}

function member(h: Holder): string {
  return `${h.token}|${h.fence}`;
}
