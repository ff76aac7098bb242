/**
 * Where one semaphore lives in Redis. All of its keys and its wake-up channels carry
 * the same `{key}` hash tag, so a cluster keeps them in one slot and one shard.
 * options.ts refuses a prefix with `{` or `}` and a key with `}`: with those out, the
 * prefix ends at the first `{` and the key at the first `}` after it, so distinct
 * (prefix, key) pairs always name distinct keys, and the hash tag is the key itself.
 */
export type Keyspace = {
  /** The prefix it was made with. */
  readonly prefix: string;
  /** KEYS of every script, in the order scripts/includes/fence.lua documents. */
  readonly keys: readonly [fence: string, tickets: string, waiters: string, line: string];
  /** A process's inbox channel for this semaphore is `channelPrefix + inbox`. */
  readonly channelPrefix: string;
};

export function keyspace(prefix: string, key: string): Keyspace {
  const base = `${prefix}:{${key}}`;
  return {
    prefix,
    keys: [`${base}:fence`, `${base}:tickets`, `${base}:waiters`, `${base}:line`],
    channelPrefix: `${base}:wake:`,
  };
}
