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
   * Runs `script` by its SHA (EVALSHA) and resolves with its raw reply. Rejects with
   * Redis's NOSCRIPT error when Redis does not have it (after a restart or SCRIPT
   * FLUSH): scripts.ts then sends it whole, with `eval`, on the same connection.
   */
  evalsha(script: Script, keys: ScriptArgs, argv: ScriptArgs): Promise<unknown>;
  /** Runs `script` from its Lua (EVAL), which also loads it for later EVALSHAs. */
  eval(script: Script, keys: ScriptArgs, argv: ScriptArgs): Promise<unknown>;
};

/** Redis replies NOSCRIPT when EVALSHA names a script it does not have (any more). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
