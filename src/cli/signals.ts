import { constants } from 'node:os';
import type { Redis } from 'ioredis';
import { close, connect } from './connection.js';
import { signalExitCode } from './exit-codes.js';

/** The signals `run` catches: the first two are the ones people send; SIGHUP comes with a closed terminal. */
export const relayed = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Catches the signals above for the whole run, and hands each to whatever phase is
 * current: while waiting, it cancels the wait; while the command runs, it is forwarded.
 */
export class SignalRelay implements Disposable {
  #handler: (signal: NodeJS.Signals) => void;
  /** The first signal received, whatever handled it. */
  received: NodeJS.Signals | undefined;

  constructor(handler: (signal: NodeJS.Signals) => void) {
    this.#handler = handler;
    for (const signal of relayed) process.on(signal, this.#on);
  }

  set handler(handler: (signal: NodeJS.Signals) => void) {
    this.#handler = handler;
  }

  [Symbol.dispose](): void {
    for (const signal of relayed) process.off(signal, this.#on);
  }

  readonly #on = (signal: NodeJS.Signals): void => {
    this.received ??= signal;
    this.#handler(signal);
  };
}

export function exitCodeFor(signal: NodeJS.Signals): number {
  return signalExitCode(signal, constants.signals);
}

/**
 * For the commands that wait their turn (run, acquire), and status --watch, which waits
 * for a signal: catches the signals from before connecting, so an early Ctrl-C cancels
 * cleanly instead of killing us mid-queue (a signal aborts `cancel`), then connects,
 * runs `body`, and always closes the connection.
 */
export async function waitingCommand<T>(
  url: string,
  body: (redis: Redis, signals: SignalRelay, cancel: AbortSignal) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const signals = new SignalRelay((signal) => abort.abort(signal));
  try {
    const redis = await connect(url);
    try {
      return await body(redis, signals, abort.signal);
    } finally {
      await close(redis);
    }
  } finally {
    signals[Symbol.dispose]();
  }
}
