/**
 * Checks of what callers pass, each throwing a TypeError (wrong type) or RangeError
 * (out of bounds) that names the option and the value, before anything reaches Redis.
 * A leaf: the options, the lease id, the CLI and the semaphore all check with these.
 */
import { maxTimerDelay } from './timing.js';

/** The bounds the checks enforce, named once for the checks, the CLI and the docs. */
export const limits = {
  /** A ttl below this leaves no room for a refresh at a third of it. */
  minTtl: 3,
  maxReplicas: 1_000,
  /** Most characters a label may have. */
  maxLabelLength: 64,
} as const;

/** What a label may contain: none of the token's separators (`~`, `*`, `/`, `|`, see tokens.ts). */
export const labelCharacters = 'A-Za-z0-9 _.:@,=+#()[\\]-';

/**
 * An option's value, or its default when it was left out. Only `undefined` means left
 * out: a `null` is passed on, to be refused as the wrong type.
 */
export function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

/** A value as error messages show it: its text and its type. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${String(value)} (${typeof value})`;
  }
  if (value === null) return 'null';
  return typeof value;
}

export function requireKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`Expected \`key\` to be a non-empty string, got ${describe(key)}`);
  }
  // A `}` would end the hash tag early and let two different keys share one name (keys.ts).
  return requireText('key', key, '}');
}

export function requirePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describe(prefix)}`);
  }
  // Braces in the prefix would move the hash tag off the key and let names alias (keys.ts).
  return requireText('prefix', prefix, '{}');
}

/** Refuses `forbidden` characters and lone surrogates (see requireWellFormed). */
function requireText(name: string, value: string, forbidden: string): string {
  const bad = [...forbidden].find((c) => value.includes(c));
  if (bad !== undefined) {
    throw new RangeError(`Expected \`${name}\` without "${bad}", got ${describe(value)}`);
  }
  return requireWellFormed(name, value);
}

export function requireWellFormed(name: string, value: string): string {
  if (!value.isWellFormed()) {
    throw new RangeError(`Expected \`${name}\` to be well-formed Unicode (no lone surrogates), got ${describe(value)}`);
  }
  return value;
}

export function requireCount(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be an integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Expected \`${name}\` to be an integer from 1 to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function requireReplicas(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`replicas\` to be an integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > limits.maxReplicas) {
    throw new RangeError(
      `Expected \`replicas\` to be an integer from 0 to ${limits.maxReplicas}, got ${describe(value)}`,
    );
  }
  return value;
}

export function requireMaxWaiters(value: unknown): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return requireCount('maxWaiters', value);
}

export function requireTtl(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`ttl\` to be a number of milliseconds, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < limits.minTtl || value > maxTimerDelay) {
    throw new RangeError(
      `Expected \`ttl\` to be an integer from ${limits.minTtl} to ${maxTimerDelay} (ms), got ${describe(value)}`,
    );
  }
  return value;
}

export function requireTimeout(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`timeout\` to be a number of milliseconds, got ${describe(value)}`);
  }
  if (value < 0 || (value > maxTimerDelay && value !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(
      `Expected \`timeout\` to be from 0 to ${maxTimerDelay} (ms) or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

export function requireSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(value)}`);
  }
  return value;
}

export function requireBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

export function requireFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value as F;
}

export function requireObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

const label = new RegExp(`^[${labelCharacters}]+$`);

/**
 * A label travels inside the ticket's token (tokens.ts), so it may not contain the
 * token's separators (`~`, `*`, `/`, `|`): letters, digits, space and `_.:@,=+#()[]-`.
 */
export function requireLabel(value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`label\` to be a string, got ${describe(value)}`);
  }
  if (value.length === 0 || value.length > limits.maxLabelLength || !label.test(value)) {
    throw new RangeError(
      `Expected \`label\` to be 1 to ${limits.maxLabelLength} characters of letters, digits, space and _.:@,=+#()[]-, got ${describe(value)}`,
    );
  }
  return value;
}
