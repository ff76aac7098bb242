/**
 * A lease's id: what another process needs to act on the same permits, as one
 * URL-safe string. `rfs1.<prefix>.<key>.<token>.<fencing token>`, the first three in
 * base64url (no padding), the fencing token in decimal. The prefix is the one Redis
 * sees (keys.ts: the client's keyPrefix, then the semaphore's prefix), so an id names
 * the same keys from any client. Everything in it is also in Redis, readable by anyone
 * who can read the key: it holds no secret.
 *
 * The `rfs1` tag is the format's version: a later format gets a new tag, and ids
 * with this one keep being read for as long as the data layout is shared.
 */
import { shapeOf } from './tokens.js';
import { labelCharacters, limits, requireKey, requireWellFormed } from './validate.js';

const tag = 'rfs1';

export type LeaseIdParts = {
  readonly prefix: string;
  readonly key: string;
  readonly token: string;
  readonly fencingToken: number;
};

/** What an id names, plus what its token says of the lease. */
export type DecodedLeaseId = LeaseIdParts & { readonly weight: number; readonly permits: number };

export function encodeLeaseId(p: LeaseIdParts): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  return `${tag}.${b64(p.prefix)}.${b64(p.key)}.${b64(p.token)}.${p.fencingToken}`;
}

/** Tokens as tokens.ts writes them: a 10-character inbox, a base-36 counter, then label, weight, permits. */
const tokenShape = new RegExp(
  `^[A-Za-z0-9_-]{10}\\.[0-9a-z]+(?:~[${labelCharacters}]{1,${limits.maxLabelLength}})?(?:\\*[1-9]\\d*)?(?:\\/[1-9]\\d*)?$`,
);

/** As much of a string that should be an id as an error message shows: ids are short, garbage may not be. */
export function shownId(id: string): string {
  return id.slice(0, 200);
}

/**
 * The parts of an id made by `encodeLeaseId`, or a RangeError that names `id` (a
 * TypeError if it is not a string). Only the canonical spelling of each part is
 * accepted, so one lease has exactly one id.
 */
export function decodeLeaseId(id: unknown): DecodedLeaseId {
  if (typeof id !== 'string') {
    throw new TypeError(
      `Expected \`id\` to be a lease id (a string from lease.id), got ${id === null ? 'null' : typeof id}`,
    );
  }
  const bad = (why: string) =>
    new RangeError(`Expected \`id\` to be a lease id from lease.id, got "${shownId(id)}": ${why}`);
  const parts = id.split('.');
  if (parts[0] !== tag) throw bad(`it does not start with "${tag}."`);
  if (parts.length !== 5) throw bad('it does not have five parts');
  const [, prefix64, key64, token64, fence] = parts as [string, string, string, string, string];
  const text = (part: string, what: string) => {
    const decoded = Buffer.from(part, 'base64url').toString('utf8');
    if (Buffer.from(decoded, 'utf8').toString('base64url') !== part) throw bad(`its ${what} is not base64url of UTF-8`);
    return decoded;
  };
  const prefix = text(prefix64, 'prefix');
  const key = text(key64, 'key');
  const token = text(token64, 'token');
  // As `new Semaphore` would check them: an id names nothing a semaphore could not be.
  // The prefix may hold braces: a client's keyPrefix may (keys.ts).
  try {
    requireKey(key);
    requireWellFormed('prefix', prefix);
  } catch (error) {
    throw bad(`its prefix or key could not name a semaphore (${(error as Error).message})`);
  }
  if (!tokenShape.test(token)) throw bad('its token is not one this library makes');
  const shape = shapeOf(token);
  if (!Number.isSafeInteger(shape.permits) || shape.weight > shape.permits) {
    throw bad('its token asks for a weight or permits no semaphore can have');
  }
  const fencingToken = /^[1-9]\d*$/.test(fence) ? Number(fence) : Number.NaN;
  if (!Number.isSafeInteger(fencingToken)) throw bad('its fencing token is not a positive integer');
  return { prefix, key, token, fencingToken, ...shape };
}
