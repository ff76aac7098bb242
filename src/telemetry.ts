import * as diagnostics from 'node:diagnostics_channel';

const { channel } = diagnostics;

/**
 * Events published through node:diagnostics_channel, so monitoring can subscribe
 * without this library depending on it. Payloads are built only when someone listens.
 */
export const channels = {
  queued: channel('redis-fair-semaphore:queued'),
  granted: channel('redis-fair-semaphore:granted'),
  released: channel('redis-fair-semaphore:released'),
  lost: channel('redis-fair-semaphore:lost'),
  timeout: channel('redis-fair-semaphore:timeout'),
  subscriber: channel('redis-fair-semaphore:subscriber'),
  resized: channel('redis-fair-semaphore:resized'),
  paused: channel('redis-fair-semaphore:paused'),
  resumed: channel('redis-fair-semaphore:resumed'),
} as const;

export type QueuedEvent = { key: string; token: string; weight: number; position: number };
export type GrantedEvent = { key: string; token: string; weight: number; fencingToken: number; waited: number };
export type ReleasedEvent = { key: string; token: string; fencingToken: number; held: number };
/**
 * `held`: ms since the grant (or since this handle was taken, for `lease(id)`);
 * `termEnded`: a fixed term ran out without an extension, rather than the lease being
 * taken away (expired unrefreshed, gone from Redis, client closed).
 */
export type LostEvent = {
  key: string;
  token: string;
  fencingToken: number;
  error: Error;
  held: number;
  termEnded: boolean;
};
export type TimeoutEvent = { key: string; token: string; waited: number };
/**
 * This process changed a key's settings (setPermits, pause, resume). `limit`: the stored
 * limit after (resized) and before (`previousLimit`), null when the callers' permits
 * decide; `wasPaused`: the state before; `granted`: waiters the change granted at once;
 * `refused`: waiters it took out of the line, their weight being over the new limit.
 */
export type ResizedEvent = {
  key: string;
  limit: number | null;
  previousLimit: number | null;
  granted: number;
  refused: number;
};
export type PausedEvent = { key: string; wasPaused: boolean };
export type ResumedEvent = { key: string; wasPaused: boolean; granted: number };
/**
 * The wake-up subscriber of one client: `connected` (again), `lost` (its connection
 * dropped; waiters re-check once it is back), `resubscribed`, `replaced` (it ended for
 * good and a new one took over), `refused` (Redis refused a subscription, e.g. an ACL
 * without channel rights: waiters fall back to their heartbeats), `closed` (with the
 * user's client). `channels`: how many keys it serves.
 */
export type SubscriberEvent = {
  event: 'connected' | 'lost' | 'resubscribed' | 'replaced' | 'refused' | 'closed';
  channels: number;
  error?: Error;
};

type Payloads = {
  queued: QueuedEvent;
  granted: GrantedEvent;
  released: ReleasedEvent;
  lost: LostEvent;
  timeout: TimeoutEvent;
  subscriber: SubscriberEvent;
  resized: ResizedEvent;
  paused: PausedEvent;
  resumed: ResumedEvent;
};

/**
 * What tracers see of one `acquire()` (and so of `use()`) on the tracing channel
 * `redis-fair-semaphore:acquire` (start, end, asyncStart, asyncEnd, error): the options
 * it was given, checked, and once it settles `result` (the Lease) or `error`. Published
 * only for acquires that passed validation, and only while someone subscribes.
 */
export type AcquireTraceContext = {
  key: string;
  weight: number;
  label: string | undefined;
  /** ms; Infinity for none. */
  timeout: number;
  signal: AbortSignal | undefined;
  result?: unknown;
  error?: unknown;
};

/**
 * Tracing channels, the way ioredis (`ioredis:command`) and node-redis
 * (`node-redis:command`) publish theirs. Undefined on a runtime without
 * `diagnostics_channel.tracingChannel`.
 */
export const tracing = {
  acquire:
    typeof diagnostics.tracingChannel === 'function'
      ? diagnostics.tracingChannel<string, AcquireTraceContext>('redis-fair-semaphore:acquire')
      : undefined,
} as const;

export function publish<K extends keyof typeof channels>(name: K, build: () => Payloads[K]): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(build());
}
