import { channel } from 'node:diagnostics_channel';

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
export type LostEvent = { key: string; token: string; fencingToken: number; error: Error };
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

export function publish<K extends keyof typeof channels>(name: K, build: () => Payloads[K]): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(build());
}
