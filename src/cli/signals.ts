import { constants } from 'node:os';
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
