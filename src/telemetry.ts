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
} as const;

export type QueuedEvent = { key: string; token: string; weight: number; position: number };
export type GrantedEvent = { key: string; token: string; weight: number; fencingToken: number; waited: number };
export type ReleasedEvent = { key: string; token: string; fencingToken: number; held: number };
export type LostEvent = { key: string; token: string; fencingToken: number; error: Error };
export type TimeoutEvent = { key: string; token: string; waited: number };

export function publish<K extends keyof typeof channels>(
  name: K,
  build: () => K extends 'queued'
    ? QueuedEvent
    : K extends 'granted'
      ? GrantedEvent
      : K extends 'released'
        ? ReleasedEvent
        : K extends 'lost'
          ? LostEvent
          : TimeoutEvent,
): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(build());
}
