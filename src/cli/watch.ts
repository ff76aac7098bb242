import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Semaphore, type SemaphoreStatus } from '../index.js';
import type { StatusArgs } from './args.js';
import { ExitCode } from './exit-codes.js';
import { cell, duration, quoted, table } from './format.js';
import { type Frame, Screen } from './screen.js';
import { exitCodeFor, waitingCommand } from './signals.js';
import { limitSource, longestHeld, pausedLine } from './status.js';

/**
 * `status <key> --watch`: reads status() every --interval ms until a signal, and shows
 * each reading: redrawn in place on a terminal, as one line off one, as one line of
 * JSON with --json. Ends with 128+N for signal N, or 0 once stdout is closed (`| head`).
 */
export function watch(a: StatusArgs): Promise<number> {
  return waitingCommand(a.url, async (redis, signals, cancel) => {
    const sem = new Semaphore(redis, a.key, { permits: a.permits, prefix: a.prefix });
    const gone = new AbortController();
    // EPIPE once the reader has gone (`| head`): an end like a signal's, not an error. Kept
    // to the end: giving a terminal that hung up its screen back fails the same way.
    process.stdout.on('error', () => gone.abort());
    const view = viewFor(a);
    try {
      await readEvery(a, sem, view, AbortSignal.any([cancel, gone.signal]));
    } finally {
      view[Symbol.dispose]();
    }
    return signals.received ? exitCodeFor(signals.received) : ExitCode.ok;
  });
}

/** Where the readings go. */
type View = Disposable & {
  /** How many waiters to ask status() for, of the --limit the user gave. */
  waiters(limit: number): number;
  show(s: SemaphoreStatus): void;
};

/** Reads at a steady pace (one reading every --interval ms, never two at once) until `stop`. */
async function readEvery(a: StatusArgs, sem: Semaphore, view: View, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const startedAt = performance.now();
    // A Redis that went away holds the reply until it is back: a signal must not wait for it.
    const s = await unlessAborted(sem.status({ limit: view.waiters(a.limit) }), stop);
    if (s === undefined) return;
    view.show(s);
    await sleep(Math.max(0, a.interval - (performance.now() - startedAt)), undefined, { signal: stop }).catch(() => {});
  }
}

/** `promise`'s value, or undefined as soon as `signal` aborts (its rejection, if any, is then ignored). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function viewFor(a: StatusArgs): View {
  if (a.json) return jsonLines(a.limit);
  return process.stdout.isTTY ? new LiveView(a) : new LineView();
}

/** What status() returned, one reading a line, for scripts. */
function jsonLines(limit: number): View {
  return {
    waiters: () => limit,
    show: (s) => process.stdout.write(`${JSON.stringify(s)}\n`),
    [Symbol.dispose]: () => {},
  };
}

/**
 * When this watch first saw each waiter. status() does not say when a waiter joined, so
 * what is shown is a lower bound: how long it has waited at least.
 */
class Sightings {
  #seen = new Map<string, number>();

  /** Records the waiters of a reading; those no longer there are forgotten. */
  saw(s: SemaphoreStatus): void {
    const now = performance.now();
    this.#seen = new Map(s.waiters.map((w) => [w.token, this.#seen.get(w.token) ?? now]));
  }

  /** "≥1.2s": how long `token` has waited at least. */
  waited(token: string): string {
    return `≥${duration(performance.now() - (this.#seen.get(token) ?? performance.now()))}`;
  }
}

/** Off a terminal: one line per reading, with the time, for a log. */
class LineView implements View {
  readonly #seen = new Sightings();

  waiters(): number {
    return 1;
  }

  show(s: SemaphoreStatus): void {
    this.#seen.saw(s);
    const parts = [`${s.held}/${s.permits} held, ${s.waiting} waiting`];
    const head = s.waiters[0];
    if (head) {
      const waited = this.#seen.waited(head.token);
      parts.push(`head: weight ${head.weight}, waited ${waited}, label ${cell(head.label)}`);
    }
    if (s.holders.length > 0) parts.push(`longest held ${duration(longestHeld(s.holders))}`);
    if (s.paused) parts.push('PAUSED');
    process.stdout.write(`${new Date().toISOString()} ${quoted(s.key)}: ${parts.join('; ')}\n`);
  }

  [Symbol.dispose](): void {}
}

/** On a terminal: the whole screen, redrawn in place with each reading. */
class LiveView implements View {
  readonly #screen = new Screen(process.stdout);
  readonly #seen = new Sightings();
  readonly #a: StatusArgs;

  constructor(a: StatusArgs) {
    this.#a = a;
  }

  /** No more than the terminal has rows for. */
  waiters(limit: number): number {
    return Math.max(1, Math.min(limit, process.stdout.rows || 24));
  }

  show(s: SemaphoreStatus): void {
    this.#seen.saw(s);
    this.#screen.draw(dashboard(this.#a, s, new Date(), this.#seen));
  }

  [Symbol.dispose](): void {
    this.#screen[Symbol.dispose]();
  }
}

/**
 * The reading as a screen: the limit as a bar of held permits, the holders (longest
 * held first) and the head of the line, each list cut to what the terminal's rows fit.
 */
function dashboard(a: StatusArgs, s: SemaphoreStatus, at: Date, seen: Sightings): Frame {
  return (width, height) => {
    const top = [
      `${quoted(s.key)} under prefix ${quoted(a.prefix)}, every ${duration(a.interval)}, ` +
        `read at ${at.toTimeString().slice(0, 8)} (Ctrl-C to quit)`,
      // The bar takes what the line's text leaves of the width, within 10 to 50 cells.
      `${bar(s.held, s.permits, Math.max(10, Math.min(50, width - 50)))} ${s.held}/${s.permits} held, ` +
        `${s.available} available, ${s.waiting} waiting`,
      `Limit: ${s.permits}, ${limitSource(s)}`,
    ];
    if (s.paused) top.push(pausedLine);
    if (s.held > s.permits) top.push('More permits are held than the limit: nothing is granted until under it');
    const holders = [...s.holders]
      .sort((x, y) => y.heldFor - x.heldFor)
      .map((h) => [String(h.weight), duration(h.heldFor), duration(h.expiresIn), cell(h.label)]);
    const waiters = s.waiters.map((w, i) => [String(i + 1), String(w.weight), seen.waited(w.token), cell(w.label)]);
    // Each list takes three rows of its own: a blank one, its title and its header.
    const [holderRows, waiterRows] = share(height - top.length - 6, s.holders.length, s.waiting);
    return [
      ...top,
      '',
      'Holders, longest held first:',
      ...cutTable(['WEIGHT', 'HELD FOR', 'EXPIRES IN', 'LABEL'], holders, holderRows, s.holders.length),
      '',
      'Head of the line (WAITED: at least, since this watch first saw it):',
      ...cutTable(['#', 'WEIGHT', 'WAITED', 'LABEL'], waiters, waiterRows, s.waiting),
    ];
  };
}

/**
 * `[####......]`: one cell a permit, or, for a larger limit, `cells` cells in
 * proportion; a held permit always shows, and so does a free one.
 */
function bar(held: number, limit: number, cells: number): string {
  const n = Math.min(limit, cells);
  let filled = Math.round((Math.min(held, limit) / limit) * n);
  if (held > 0) filled = Math.max(1, filled);
  if (held < limit) filled = Math.min(n - 1, filled);
  return `[${'#'.repeat(filled)}${'.'.repeat(n - filled)}]`;
}

/** Splits `room` rows between two lists: each gets what it needs, or half when both need more. */
function share(room: number, first: number, second: number): [number, number] {
  const half = Math.floor(room / 2);
  if (first + second <= room || first <= half) return [first, Math.max(1, room - first)];
  if (second <= room - half) return [Math.max(1, room - second), second];
  return [Math.max(1, room - half), Math.max(1, half)];
}

/** A table in at most `room` rows, its last saying how many more there are when they do not fit. */
function cutTable(header: readonly string[], rows: readonly string[][], room: number, total: number): string[] {
  if (total === 0) return ['  (none)'];
  const shown = rows.slice(0, total > room ? Math.max(0, room - 1) : room);
  const lines = table([header, ...shown]).split('\n');
  if (total > shown.length) lines.push(`  ... and ${total - shown.length} more`);
  return lines;
}
