import { nanoid } from 'nanoid';

/**
 * Names of tickets in Redis, as scripts/includes/fence.lua reads them: `<inbox>.<n>`
 * (never starting with '#', which marks the key's settings),
 * then `~<label>` if the acquisition has one, `*<weight>` unless the weight is 1 and
 * `/<permits>` unless it is a Mutex's (whose one permit no stored limit changes).
 * The scripts take the wake-up channel, the weight and the permits from the token, so
 * a waiter costs Redis nothing beyond its place, and no permit count needs storing.
 */
export class TokenSource {
  /**
   * This client's inbox: grants for its waiters are published to `channelPrefix + inbox`.
   * 60 random bits: two clients sharing one would share tokens, which for any realistic
   * number of clients alive at once is as unlikely as a collision of random tokens.
   */
  readonly inbox = nanoid(10);
  #issued = 0;

  /**
   * A token no other acquisition of this client has used; `label` (options.ts checks it)
   * is shown by status(). `fixed`: a Mutex's, whose one permit no stored limit changes:
   * the only token without a '/<permits>' part (a Semaphore writes even '/1'), which
   * keeps the commonest ticket, a Mutex's, as short as it can be.
   */
  next(weight: number, permits: number, label?: string, fixed = false): string {
    const n = (++this.#issued).toString(36);
    // Template strings write every safe integer in full digits, which Lua reads back exactly.
    return `${this.inbox}.${n}${label === undefined ? '' : `~${label}`}${weight === 1 ? '' : `*${weight}`}${fixed ? '' : `/${permits}`}`;
  }
}

/** The label a token carries (tokens.ts writes it after `~`), if any. */
export function labelOf(token: string): string | undefined {
  return /~([^*/]*)/.exec(token)?.[1];
}

/** The weight and permits a token asked for (1 when absent), as scripts/includes/tickets.lua reads them. */
export function shapeOf(token: string): { weight: number; permits: number } {
  const [, weight, permits] = /(?:\*(\d+))?(?:\/(\d+))?$/.exec(token) ?? [];
  return { weight: weight === undefined ? 1 : Number(weight), permits: permits === undefined ? 1 : Number(permits) };
}

/**
 * A grant message is the new holder's entry: `<token>|<fencing token>`. The only other
 * message on an inbox, `<token>!<limit>`, is no grant (undefined).
 */
export function parseGrant(message: string): { token: string; fence: number } | undefined {
  const bar = message.lastIndexOf('|');
  if (bar < 0) return undefined;
  return { token: message.slice(0, bar), fence: Number(message.slice(bar + 1)) };
}
