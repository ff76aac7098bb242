/**
 * Where one semaphore lives in Redis. All of its keys and its wake-up channels carry
 * the same `{key}` hash tag, so a cluster keeps them in one slot and one shard.
 */
export type Keyspace = {
  /** KEYS of every script, in the order scripts/includes/queue.lua documents. */
  readonly keys: readonly [holders: string, queue: string, deadlines: string, tickets: string, fence: string];
  /** A process's inbox channel for this semaphore is `channelPrefix + inbox`. */
  readonly channelPrefix: string;
};

export function keyspace(prefix: string, key: string): Keyspace {
  const base = `${prefix}:{${key}}`;
  return {
    keys: [`${base}:holders`, `${base}:queue`, `${base}:deadlines`, `${base}:tickets`, `${base}:fence`],
    channelPrefix: `${base}:wake:`,
  };
}
