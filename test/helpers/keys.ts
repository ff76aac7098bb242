/**
 * A semaphore's names in Redis, for tests that read or tamper with its state: built by
 * keyspace(), so a test names what the library names (keys.test.ts and layout.test.ts
 * check that layout itself, spelled out).
 */
import type { Redis } from 'ioredis';
import { keyspace } from '../../src/keys.js';

/** The names of the semaphore `key` under `prefix`, as a client without a keyPrefix of its own sends them. */
export function keysOf(key: string, prefix = 'rfs') {
  const {
    keys: [fence, tickets, waiters, line],
    channelPrefix,
  } = keyspace(prefix, key);
  return {
    fence,
    tickets,
    waiters,
    line,
    /** An inbox's wake-up channel; `wake('*')` is a pattern for all of them. */
    wake: (inbox: string) => channelPrefix + inbox,
    /** A pattern for every key and channel of the semaphore: each name is a common base, then `:` and its role. */
    pattern: `${fence.slice(0, fence.lastIndexOf(':') + 1)}*`,
  };
}

/** A lease's expiry in Redis (server ms), or null once its entry is gone. */
export async function expiryOf(
  redis: Redis,
  key: string,
  lease: { token: string; fencingToken: number },
): Promise<number | null> {
  const score = await redis.zscore(keysOf(key).tickets, `${lease.token}|${lease.fencingToken}`);
  return score === null ? null : Number(score);
}
