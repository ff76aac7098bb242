/**
 * What the key's settings (stored limit, pause) may have been at a grant, for the
 * resource to judge the grant by. Redis orders the configure script and the grants,
 * but the resource hears of both only afterwards. What it has to go on is the grant's
 * fencing token (the server clock in µs when it was made, or one past the last token,
 * so never below that clock) and, for each change, a window of tokens noted before
 * the change was made: every grant after the change has a token above `after`, every
 * grant before it one at or below `upTo` (unbounded until the change is known done).
 *
 * A grant whose token is above a change's `upTo` came after it; at or below `after`,
 * before it; in between, either side, and both states are kept. Changes are noted in
 * the order Redis sees them (the resizer makes one after another, and a Redis restart
 * waits until the resizer holds), so the set of states built that way always holds
 * the true one. A grant is judged a violation only when no state in the set allowed
 * it: a violation inside a window can be missed, but none is ever invented.
 */
import type { SettingsChange } from './protocol.js';

export type Settings = { readonly limit: number | null; readonly paused: boolean };

/** A restart of Redis without persistence forgets the settings: the key is as new. */
type Change = SettingsChange | { t: 'forget' };

type Noted = { readonly id: string; readonly change: Change; readonly after: bigint; upTo: bigint | undefined };

const initial: Settings = { limit: null, paused: false };

function apply(s: Settings, change: Change): Settings {
  switch (change.t) {
    case 'limit':
      return { ...s, limit: change.limit };
    case 'pause':
      return { ...s, paused: true };
    case 'resume':
      return { ...s, paused: false };
    case 'forget':
      return initial;
  }
}

function describe(s: Settings): string {
  return `${s.limit === null ? 'callers' : `limit ${s.limit}`}${s.paused ? ', paused' : ''}`;
}

export class SettingsTimeline {
  /** The limit when none is stored: the permits every client passes. */
  readonly callers: number;
  readonly #changes: Noted[] = [];

  constructor(callers: number) {
    this.callers = callers;
  }

  get size(): number {
    return this.#changes.length;
  }

  /** A change about to be made; grants after it have tokens above `after` (µs). */
  open(id: string, change: Change, after: number): void {
    this.#changes.push({ id, change, after: BigInt(after), upTo: undefined });
  }

  /** The change is done; grants before it have tokens at or below `upTo` (µs). */
  close(id: string, upTo: number): void {
    const noted = this.#changes.find((c) => c.id === id);
    if (noted) noted.upTo = BigInt(upTo);
  }

  /** Every state the key may have been in when the grant with this token was made. */
  possible(token: bigint): Settings[] {
    let states = [initial];
    for (const c of this.#changes) {
      if (token <= c.after) continue;
      const changed = states.map((s) => apply(s, c.change));
      if (c.upTo !== undefined && token > c.upTo) states = changed;
      else states = [...new Map([...states, ...changed].map((s) => [describe(s), s])).values()];
    }
    return states;
  }

  /** Whether the grant with this token came while the key was paused, whichever state it was in. */
  paused(token: bigint): boolean {
    return this.possible(token).every((s) => s.paused);
  }

  /**
   * The most weight that may be held right after the grant with this token: the
   * highest limit among the states it may have come in. A grant was made, so the key
   * was not paused then: paused states count only when all are (that grant is then
   * reported as made while paused).
   */
  limit(token: bigint): number {
    const states = this.possible(token);
    const open = states.filter((s) => !s.paused);
    return Math.max(...(open.length > 0 ? open : states).map((s) => s.limit ?? this.callers));
  }

  /** The states possible at this token, to show in an example. */
  describe(token: bigint): string {
    return this.possible(token).map(describe).join(' or ');
  }
}
