import type { Redis } from 'ioredis';

/**
 * Keys examined per SCAN call (its COUNT): enough that a call is worth its round trip
 * on a database of millions of keys, few enough that no call holds Redis up for long.
 */
export const scanCount = 1_000;

/** What a search found, and whether it saw everything. */
export type Found = {
  /** The keys of the semaphores found, sorted, at most `limit` of them. */
  readonly keys: readonly string[];
  /**
   * Why the search ended before SCAN had seen the whole database, or null if it did not:
   * more than `limit` semaphores were found, or SCAN examined `scanLimit` keys.
   */
  readonly stoppedBy: 'limit' | 'scan-limit' | null;
};

export type SearchOptions = {
  readonly limit: number;
  readonly scanLimit: number;
  /** Also semaphores that only have their fencing token left (idle, nothing set). */
  readonly all: boolean;
};

/**
 * The semaphores under `prefix`, found by SCAN (never KEYS) with MATCH on the prefix: a
 * database of other data costs only the SCAN calls, and those stop after `scanLimit`
 * keys, or once more than `limit` semaphores are found. The names are anyone's data:
 * only those the library could have written name a semaphore.
 */
export async function findSemaphores(redis: Redis, prefix: string, o: SearchOptions): Promise<Found> {
  const pattern = `${globEscaped(`${prefix}:{`)}*}:*`;
  const roles = o.all ? withFence : holding;
  const count = Math.min(scanCount, o.scanLimit);
  let calls = Math.ceil(o.scanLimit / count);
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, names] = await redis.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next.toString();
    calls--;
    for (const name of names) {
      const key = semaphoreOf(name, prefix, roles);
      // SCAN may return a name twice (the table grew meanwhile): the set keeps one.
      if (key !== undefined) found.add(key);
    }
    // One more than the limit: then the listing knows it is incomplete, not just full.
  } while (cursor !== '0' && found.size <= o.limit && calls > 0);
  const keys = [...found].sort(byCodeUnits);
  const stoppedBy = keys.length > o.limit ? 'limit' : cursor === '0' ? null : 'scan-limit';
  return { keys: keys.slice(0, o.limit), stoppedBy };
}

/** Roles of a semaphore's keys (keys.ts): a semaphore with holders, waiters or settings has one of these. */
const holding: ReadonlySet<string> = new Set([':tickets', ':waiters', ':line']);
/** The fencing token stays after the last holder leaves, for as long as the key lives. */
const withFence: ReadonlySet<string> = new Set([...holding, ':fence']);

// Names the library wrote are UTF-8 (keys and prefixes are strings); other bytes are not ours.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The key of the semaphore that `name` belongs to, by the rule of keys.ts (the prefix
 * ends at the first `{`, the key at the first `}` after it), or undefined if no
 * semaphore under `prefix` has a key of that name in one of `roles`.
 */
function semaphoreOf(name: Buffer, prefix: string, roles: ReadonlySet<string>): string | undefined {
  let text: string;
  try {
    text = utf8.decode(name);
  } catch {
    return undefined;
  }
  const head = `${prefix}:{`;
  if (!text.startsWith(head)) return undefined;
  const end = text.indexOf('}', head.length);
  if (end <= head.length || !roles.has(text.slice(end + 1))) return undefined;
  return text.slice(head.length, end);
}

/** `text` as a SCAN MATCH pattern that matches only itself: a prefix may hold `*`, `?`, `[`. */
function globEscaped(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Sorted by UTF-16 code units: the same order whatever the locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
