import { performance } from 'node:perf_hooks';
import { channels, type Lease, type QueuedEvent, type Semaphore } from '../index.js';
import { duration, programName } from './format.js';

/** live: one line on the terminal, redrawn in place; lines: a log line per event; off: silence. */
export type ProgressMode = 'live' | 'lines' | 'off';

/** Where our ticket stands now (0 = head), or undefined if it is not in the first `limit` waiters. */
export type PositionLookup = (token: string, limit: number) => Promise<number | undefined>;

/** Our place among the first `limit` waiters of `sem`, from status(). */
export function positionIn(sem: Semaphore): PositionLookup {
  return async (token, limit) => {
    const index = (await sem.status({ limit })).waiters.findIndex((w) => w.token === token);
    return index < 0 ? undefined : index;
  };
}

const redrawMs = 200;
/** The queued event gives the position once; status() is asked this often for the current one. */
const pollMs = 1_000;

/** What progress is written to: stderr in the CLI (a test may pass its own). */
export type ProgressStream = { write(text: string): unknown; readonly columns?: number };

/** Reports a `run` waiting for its turn, from the library's own telemetry. */
export class Progress {
  readonly #key: string;
  readonly #mode: ProgressMode;
  readonly #lookup: PositionLookup;
  readonly #out: ProgressStream;
  readonly #startedAt = performance.now();
  #token: string | undefined;
  #position: number | undefined;
  #redraw: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(key: string, mode: ProgressMode, lookup: PositionLookup, out: ProgressStream = process.stderr) {
    this.#key = key;
    this.#mode = mode;
    this.#lookup = lookup;
    this.#out = out;
    if (mode === 'off') return;
    channels.queued.subscribe(this.#onQueued);
    if (mode === 'live') {
      this.#redraw = setInterval(() => this.#draw(), redrawMs);
      this.#redraw.unref();
    }
  }

  /** The wait is over, whichever way: clears the live line. */
  stop(): void {
    if (this.#mode === 'off') return;
    channels.queued.unsubscribe(this.#onQueued);
    clearInterval(this.#redraw);
    clearTimeout(this.#poll);
    this.#redraw = this.#poll = undefined;
    if (this.#drawn) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }

  granted(lease: Lease): void {
    this.stop();
    if (this.#mode === 'lines') {
      this.#line(`acquired "${this.#key}" after ${duration(this.#elapsed())} (fencing token ${lease.fencingToken})`);
    }
  }

  released(heldMs: number): void {
    if (this.#mode === 'lines') this.#line(`released "${this.#key}" after holding it ${duration(heldMs)}`);
  }

  #line(message: string): void {
    this.#out.write(`${programName}: ${message}\n`);
  }

  #elapsed(): number {
    return performance.now() - this.#startedAt;
  }

  // This process makes one acquisition, so the first queued event for our key is ours.
  readonly #onQueued = (message: unknown): void => {
    const event = message as QueuedEvent;
    if (event.key !== this.#key || this.#token !== undefined) return;
    this.#token = event.token;
    this.#position = event.position;
    if (this.#mode === 'lines') this.#line(`waiting for "${this.#key}": ${ahead(event.position)}`);
    else this.#schedulePoll();
  };

  #schedulePoll(): void {
    this.#poll = setTimeout(() => {
      const token = this.#token;
      const known = this.#position;
      if (token === undefined || known === undefined) return;
      // Positions only ever go down, so the first known+1 waiters are enough to find ours.
      this.#lookup(token, known + 1).then(
        (position) => {
          if (this.#poll === undefined) return;
          if (position !== undefined) this.#position = position;
          this.#schedulePoll();
        },
        () => this.#poll !== undefined && this.#schedulePoll(),
      );
    }, pollMs);
    this.#poll.unref();
  }

  #draw(): void {
    const where = this.#position === undefined ? 'joining the queue' : ahead(this.#position);
    const text = `${programName}: waiting for "${this.#key}": ${where}, ${seconds(this.#elapsed())}`;
    // A wider line would wrap, and \r would then redraw only its last part (columns is 0 when unknown).
    const width = this.#out.columns || 80;
    this.#out.write(`\r\x1b[2K${text.slice(0, Math.max(1, width - 1))}`);
    this.#drawn = true;
  }
}

/** Steady tenths of a second while the line is redrawn, so it does not jump between units. */
function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : duration(ms);
}

function ahead(position: number): string {
  if (position === 0) return 'next in line';
  return `${position} ahead in the queue`;
}
