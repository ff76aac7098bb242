/**
 * What the library needs of a Redis client, in one small interface: every other
 * module talks to Redis through it, and each supported client has an adapter of its
 * own beside this file. A script call is the hot path: an adapter sends it with as
 * little work of its own as the client allows.
 */

/** A script of scripts/ as Redis runs it: its Lua (includes inlined), SHA1 and key count. */
export type Script = {
  readonly lua: string;
  readonly sha: string;
  readonly numberOfKeys: number;
};

/** A script call's KEYS, or its ARGV. */
export type ScriptArgs = readonly (string | number)[];

export type Adapter = {
  /** A Cluster client: script calls are routed by their first key, wake-ups use sharded pub/sub. */
  readonly cluster: boolean;
  /**
   * Runs `script` by its SHA; if Redis does not know it (NOSCRIPT: after a restart or
   * SCRIPT FLUSH), sends the whole Lua once more on the same connection. Resolves with
   * the script's raw reply.
   */
  run(script: Script, keys: ScriptArgs, argv: ScriptArgs): Promise<unknown>;
};

/** Redis replies NOSCRIPT when EVALSHA names a script it does not have (any more). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
