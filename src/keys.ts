/**
 * Where one semaphore lives in Redis. All of its keys and its wake-up channels carry
 * the same `{key}` hash tag, so a cluster keeps them in one slot and one shard.
 * validate.ts refuses a prefix with `{` or `}` and a key with `}`: with those out, the
 * prefix ends at the first `{` and the key at the first `}` after it, so distinct
 * (prefix, key) pairs always name distinct keys, and the hash tag is the key itself.
 *
 * A client may put a `keyPrefix` of its own before every key it sends (ioredis,
 * node-redis 6): Redis then sees `keyPrefix + prefix` where the library wrote `prefix`,
 * and the scripts, which build wake-up channels from their KEYS, publish under it too.
 * Two semaphores are the same one exactly when Redis sees the same names.
 */
export type Keyspace = {
  /** The prefix it was made with. */
  readonly prefix: string;
  /** The prefix as Redis sees it: the client's keyPrefix, then `prefix`. Lease ids carry this one. */
  readonly fullPrefix: string;
  /**
   * KEYS of every script, in the order scripts/includes/fence.lua documents, as the
   * library sends them (the client prepends its keyPrefix).
   */
  readonly keys: readonly [fence: string, tickets: string, waiters: string, line: string];
  /** A process's inbox channel for this semaphore is `channelPrefix + inbox`, as Redis sees it. */
  readonly channelPrefix: string;
};

/** The part of every name before the role (`fence`, `wake:<inbox>`...). */
function baseName(prefix: string, key: string): string {
  return `${prefix}:{${key}}`;
}

/** `keyPrefix`: what the client prepends to every key it sends (see above); '' for none. */
export function keyspace(prefix: string, key: string, keyPrefix = ''): Keyspace {
  const base = baseName(prefix, key);
  return {
    prefix,
    fullPrefix: keyPrefix + prefix,
    keys: [`${base}:fence`, `${base}:tickets`, `${base}:waiters`, `${base}:line`],
    channelPrefix: `${keyPrefix}${base}:wake:`,
  };
}
