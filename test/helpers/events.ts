import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channels, type QueuedEvent } from '../../src/index.js';

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
