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

/**
 * What the client talks to: one server; a Cluster (script calls are routed by their
 * first key, wake-ups use sharded pub/sub); or a node-redis sentinel (a pool of
 * connections to whichever server is master).
 */
export type Topology = 'server' | 'cluster' | 'sentinel';

export type Adapter = {
  readonly topology: Topology;
  /**
   * What Redis sees before every key the library names (the client's `keyPrefix`; ''
   * for none). The scripts build wake-up channels from their KEYS, so the channels
   * carry it too; the library subscribes to them by the names Redis sees.
   */
  readonly keyPrefix: string;
  /**
   * Runs `script` by its SHA (EVALSHA) and resolves with its raw reply, as Redis sent it
   * (whatever reply types the user's client was set to map it to). `keys` are named as
   * the library names them; Redis sees each after `keyPrefix`. Rejects with
   * Redis's NOSCRIPT error when Redis does not have it (after a restart or SCRIPT
   * FLUSH): scripts.ts then sends it whole, with `eval`, on the same connection.
   */
  evalsha(script: Script, keys: ScriptArgs, argv: ScriptArgs): Promise<unknown>;
  /** Runs `script` from its Lua (EVAL), which also loads it for later EVALSHAs. */
  eval(script: Script, keys: ScriptArgs, argv: ScriptArgs): Promise<unknown>;
  /** The user closed the client (or it gave up reconnecting): it will send nothing any more. */
  closed(): boolean;
  /**
   * `error` is how this client fails a command it dropped, unsent or unanswered, because
   * its connection was closed: with closed(), the caller's client was closed meanwhile.
   */
  isDropped(error: unknown): boolean;
  /** `error` is an error reply from Redis (a script error, OOM, CLUSTERDOWN), not a transport failure. */
  isReplyError(error: unknown): boolean;
  /** Calls `listener` once, when the user's client has ended for good. */
  onEnd(listener: () => void): void;
  /** CONFIG GET of one parameter; undefined when Redis has no such parameter. */
  configGet(name: string): Promise<string | undefined>;
  /**
   * WAIT on the connection the scripts use: how many replicas acknowledged its writes.
   * Undefined where that connection cannot be named: a Cluster (WAIT has no key to
   * route by) and a node-redis sentinel (a pool of master connections).
   */
  readonly wait: ((replicas: number, timeoutMs: number) => Promise<number>) | undefined;
  /**
   * The wake-up subscriber, connecting at once: a duplicate of the user's client, or
   * where the client keeps pub/sub apart by itself (a node-redis cluster), the client.
   */
  subscriber(events: SubscriberEvents): Subscriber;
};

/**
 * Wake-up subscriptions (sharded pub/sub in a cluster), by the channel names Redis
 * sees (`keyPrefix` included): a subscriber never lets its client prefix them again.
 * A connection made for them is
 * unreferenced where the client allows: only pending acquires use it, and each of
 * those holds a timer of its own.
 */
export type Subscriber = {
  /** Resolves once Redis confirmed every channel: a message published from then on is heard. */
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** The connection is up now (not lost since it was last restored). */
  connected(): boolean;
  /** Closes the connection; whatever it reports after this is of no interest. */
  close(): void;
};

/** What a Subscriber reports, each in the order it happens. */
export type SubscriberEvents = {
  message(channel: string, message: string): void;
  /** A connection (again): for telemetry. */
  ready(): void;
  /** The connection dropped: messages may go unheard until restored(). */
  lost(): void;
  /** Every subscription is live again after a reconnect; messages sent meanwhile were lost. */
  restored(): void;
  /** Resubscribing after a reconnect failed; a later reconnect (or ended()) follows. */
  unsure(): void;
  /** Gone for good (closed from outside, or it gave up reconnecting) while the user's client lives on. */
  ended(): void;
};

/**
 * Subscribes through `send`, keeping `list` in `channels` (what a subscriber restores
 * after a reconnect) unless Redis refuses it (an ACL without channel rights).
 */
export async function subscribeKept(
  channels: Set<string>,
  list: readonly string[],
  send: () => Promise<unknown>,
): Promise<void> {
  for (const channel of list) channels.add(channel);
  try {
    await send();
  } catch (error) {
    for (const channel of list) channels.delete(channel);
    throw error;
  }
}

/** Redis replies NOSCRIPT when EVALSHA names a script it does not have (any more). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
