/**
 * A small executable model of the semaphore, for model-based tests of the Lua
 * scripts: the same rules, written plainly in TypeScript over a clock the test moves.
 */
import type { AcquireReply, ReleaseReply, StatusReply } from '../../src/scripts.js';

type Holder = { token: string; weight: number; ttl: number; expiry: number; fence: number; grantedAt: number };
type Waiter = { token: string; weight: number; ttl: number; deadline: number };

export class SemaphoreModel {
  now: number;
  readonly permits: number;
  readonly holders = new Map<string, Holder>();
  queue: Waiter[] = [];
  lastFence = 0;

  constructor(permits: number, now: number) {
    this.permits = permits;
    this.now = now;
  }

  get held(): number {
    let sum = 0;
    for (const h of this.holders.values()) sum += h.weight;
    return sum;
  }

  acquire(token: string, weight: number, ttl: number, wait: boolean): AcquireReply {
    this.#purge();
    let result: AcquireReply | undefined;
    const holder = this.holders.get(token);
    const waiter = this.queue.find((w) => w.token === token);
    if (holder) {
      holder.expiry = this.now + ttl;
      result = { kind: 'granted', fence: holder.fence };
    } else if (waiter) {
      waiter.deadline = this.now + ttl;
    } else if (this.queue.length === 0 && this.held + weight <= this.permits) {
      result = { kind: 'granted', fence: this.#grant(token, weight, ttl) };
    } else if (!wait) {
      result = { kind: 'busy' };
    } else {
      this.queue.push({ token, weight, ttl, deadline: this.now + ttl });
    }
    this.#drain();
    if (result) return result;
    const granted = this.holders.get(token);
    if (granted) return { kind: 'granted', fence: granted.fence };
    const position = this.queue.findIndex((w) => w.token === token);
    return {
      kind: 'queued',
      position,
      nextExpiryIn: position < this.permits ? this.#nextExpiryIn() : -1,
      lastFence: this.lastFence,
    };
  }

  release(token: string): ReleaseReply {
    this.#purge();
    let result: ReleaseReply = 'unknown';
    if (this.holders.delete(token)) {
      result = 'released';
    } else if (this.queue.some((w) => w.token === token)) {
      this.queue = this.queue.filter((w) => w.token !== token);
      result = 'dequeued';
    }
    this.#drain();
    return result;
  }

  refresh(token: string, ttl: number): boolean {
    this.#purge();
    const holder = this.holders.get(token);
    if (holder) holder.expiry = this.now + ttl;
    this.#drain();
    return holder !== undefined;
  }

  status(limit: number): StatusReply {
    this.#purge();
    this.#drain();
    const holders = [...this.holders.values()]
      .sort((a, b) => a.expiry - b.expiry || (a.token < b.token ? -1 : 1))
      .map((h) => ({
        token: h.token,
        weight: h.weight,
        fencingToken: h.fence,
        expiresIn: h.expiry - this.now,
        heldFor: this.now - h.grantedAt,
      }));
    const waiters = this.queue
      .slice(0, limit)
      .map((w) => ({ token: w.token, weight: w.weight, expiresIn: w.deadline - this.now }));
    return { held: this.held, waiting: this.queue.length, lastFencingToken: this.lastFence, holders, waiters };
  }

  // Expired means: expiry at or before now, on the server's clock.
  #purge(): void {
    for (const [token, h] of this.holders) if (h.expiry <= this.now) this.holders.delete(token);
    this.queue = this.queue.filter((w) => w.deadline > this.now);
  }

  #drain(): void {
    for (let head = this.queue[0]; head && this.held + head.weight <= this.permits; head = this.queue[0]) {
      this.queue.shift();
      this.#grant(head.token, head.weight, head.ttl);
    }
  }

  #grant(token: string, weight: number, ttl: number): number {
    // The clock in microseconds, or one past the last token if that is higher.
    this.lastFence = Math.max(this.lastFence + 1, this.now * 1_000);
    this.holders.set(token, { token, weight, ttl, expiry: this.now + ttl, fence: this.lastFence, grantedAt: this.now });
    return this.lastFence;
  }

  #nextExpiryIn(): number {
    let first = Number.POSITIVE_INFINITY;
    for (const h of this.holders.values()) first = Math.min(first, h.expiry);
    return first === Number.POSITIVE_INFINITY ? -1 : first - this.now;
  }
}
