import { channels, type PausedEvent, type ResizedEvent, type ResumedEvent, Semaphore } from '../index.js';
import type { PauseArgs, SetPermitsArgs } from './args.js';
import { close, connect } from './connection.js';
import { ExitCode } from './exit-codes.js';

/**
 * `set-permits`, `pause`, `resume`: one call that changes the key's settings for every
 * process at once, confirmed by one line on stdout saying what was, what is now, and
 * which waiters the change served. That comes from the library's own telemetry, which
 * it publishes in this process from our call's reply: no second read that another
 * change could slip in front of.
 */
export async function configure(a: SetPermitsArgs | PauseArgs): Promise<number> {
  const redis = await connect(a.url);
  try {
    // These calls act on what Redis stores: the permits given here decide nothing.
    const sem = new Semaphore(redis, a.key, { permits: 1, prefix: a.prefix });
    process.stdout.write(`${await change(sem, a)}\n`);
    return ExitCode.ok;
  } finally {
    await close(redis);
  }
}

async function change(sem: Semaphore, a: SetPermitsArgs | PauseArgs): Promise<string> {
  const key = `"${a.key}"`;
  switch (a.kind) {
    case 'set-permits': {
      const e = await reported<ResizedEvent>(channels.resized, a.key, () => sem.setPermits(a.permits));
      const done = served(e.granted, e.refused, e.limit);
      // The same limit again (or none again) changes nothing, unless it served someone
      // (a holder had expired since the last script call on the key).
      const same = e.limit === e.previousLimit && done.length === 0;
      return sentence(resized(key, e), same ? ['nothing changed'] : done);
    }
    case 'pause': {
      const e = await reported<PausedEvent>(channels.paused, a.key, () => sem.pause());
      return e.wasPaused
        ? `${key} was already paused; nothing changed`
        : `${key} paused: nothing is granted until resume; holders keep their permits`;
    }
    case 'resume': {
      const e = await reported<ResumedEvent>(channels.resumed, a.key, () => sem.resume());
      const done = served(e.granted, 0, null);
      if (e.wasPaused) return sentence(`${key} resumed`, done);
      return sentence(`${key} was not paused`, done.length > 0 ? done : ['nothing changed']);
    }
  }
}

function resized(key: string, e: ResizedEvent): string {
  const callers = 'the permits its users pass';
  if (e.limit === null) {
    return e.previousLimit === null
      ? `no limit was set in Redis for ${key} (${callers} decide)`
      : `limit of ${key} removed (was ${e.previousLimit}): ${callers} decide again`;
  }
  if (e.previousLimit === null) return `limit of ${key} set to ${e.limit} in Redis (none was set: ${callers} decided)`;
  if (e.previousLimit === e.limit) return `limit of ${key} was already ${e.limit}`;
  return `limit of ${key} changed from ${e.previousLimit} to ${e.limit}`;
}

/** The waiters a change granted at once, and those it sent away because they can never fit. */
function served(granted: number, refused: number, limit: number | null): string[] {
  const clauses: string[] = [];
  if (granted > 0) clauses.push(`${waiters(granted)} granted at once`);
  if (refused > 0) {
    clauses.push(
      `${waiters(refused)} refused (weight above ${limit}): ${refused === 1 ? 'it' : 'they'} left the queue`,
    );
  }
  return clauses;
}

function waiters(n: number): string {
  return n === 1 ? '1 waiter' : `${n} waiters`;
}

function sentence(first: string, rest: readonly string[]): string {
  return [first, ...rest].join('; ');
}

/**
 * What the library published on `channel` for `key` while `action` ran. This process
 * makes one change, on one key, so that event is ours.
 */
async function reported<T>(channel: typeof channels.resized, key: string, action: () => Promise<void>): Promise<T> {
  let event: T | undefined;
  const listener = (message: unknown) => {
    if ((message as { key?: unknown }).key === key) event = message as T;
  };
  channel.subscribe(listener);
  try {
    await action();
  } finally {
    channel.unsubscribe(listener);
  }
  if (event === undefined) throw new Error(`the library reported no ${String(channel.name)} event for "${key}"`);
  return event;
}
