import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channels, type Lease, type QueuedEvent, type Semaphore, type SubscriberEvent } from '../../src/index.js';

/**
 * Resolves once `count` acquisitions on `key` have been queued in this process, as the
 * library reports through diagnostics_channel: an event, not a sleep, to sync on.
 */
export function queued(key: string, count = 1): Promise<QueuedEvent[]> {
  const seen: QueuedEvent[] = [];
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const event = message as QueuedEvent;
      if (event.key !== key) return;
      seen.push(event);
      if (seen.length === count) {
        unsubscribe(channels.queued.name, onMessage);
        resolve(seen);
      }
    };
    subscribe(channels.queued.name, onMessage);
  });
}

/** Resolves with the signal's reason once it aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/** Resolves with the next wake-up subscriber event of this kind in this process (telemetry). */
export function subscriberEvent(event: SubscriberEvent['event']): Promise<SubscriberEvent> {
  return new Promise((resolve) => {
    const listener = (message: unknown) => {
      if ((message as SubscriberEvent).event !== event) return;
      unsubscribe(channels.subscriber.name, listener);
      resolve(message as SubscriberEvent);
    };
    subscribe(channels.subscriber.name, listener);
  });
}

/**
 * A holder on `sem`, and an acquire queued behind it (queued in Redis once this
 * resolves). `waiter`: the object the waiter acquires through, when it needs another
 * client or ttl (default `sem`); `timeout`: the waiter's.
 */
export async function heldAndWaiting(
  sem: Semaphore,
  { waiter = sem, timeout }: { waiter?: Semaphore; timeout?: number } = {},
): Promise<{ holder: Lease; waiting: Promise<Lease> }> {
  const holder = await sem.acquire();
  const isQueued = queued(waiter.key);
  const waiting = waiter.acquire({ timeout });
  await isQueued;
  return { holder, waiting };
}
