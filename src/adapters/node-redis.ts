import { clusterEndCheckMs, probeRetryMaxMs, probeRetryMs } from '../timing.js';
import {
  type Adapter,
  type Script,
  type ScriptArgs,
  type Subscriber,
  type SubscriberEvents,
  subscribeKept,
} from './adapter.js';

/**
 * A client of the `redis` package (node-redis v4, v5 or v6), from `createClient()`,
 * `createCluster()` or (v5 and later) `createSentinel()`, connected by its owner.
 * Structural, so that ioredis users need not install it, and a second copy of the
 * package still counts.
 */
export type NodeRedisClient = {
  readonly isOpen: boolean;
  evalSha: (...args: never[]) => unknown;
  sendCommand: (...args: never[]) => unknown;
};

/**
 * Duck-typed like isIoredis: what every version's clients, clusters and sentinels have. A v4
 * `legacyMode` client (callbacks; its promise API under `.v4`) is not one.
 */
export function isNodeRedis(client: object): client is NodeRedisClient {
  const c = client as Partial<
    Record<'duplicate' | 'getMasterNode' | 'evalSha' | 'sendCommand' | 'connect', unknown>
  > & {
    options?: { legacyMode?: unknown };
  };
  return (
    'isOpen' in client &&
    c.options?.legacyMode !== true &&
    // A v5 sentinel has no duplicate(): none is needed, it has a pub/sub connection of its own.
    (typeof c.duplicate === 'function' || typeof c.getMasterNode === 'function') &&
    typeof c.evalSha === 'function' &&
    typeof c.sendCommand === 'function' &&
    typeof c.connect === 'function'
  );
}

/** node-redis reports an error reply as an ErrorReply (SimpleError, BlobError in v5), without a name of its own. */
function isReplyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  for (
    let proto = Object.getPrototypeOf(error);
    proto && proto !== Error.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

/** What node-redis fails a command with when its connection is destroyed under it. */
const destroyedMessage = 'Disconnects client';

/** How node-redis (4 to 6) fails a command it dropped: closed before it went, or destroyed while in flight. */
const droppedMessages = new Set(['The client is closed', destroyedMessage]);

/**
 * Every command of the library goes with this option: node-redis decodes its reply
 * the default way (strings, arrays, numbers) whatever `typeMapping` the user's client
 * or proxy (`withTypeMapping`) has, so a client set to hand back Buffers or Maps works
 * as any other. Merged over the client's own command options, so a timeout it has stays.
 * v4 has no type mapping, and ignores it.
 */
const plainReplies = { typeMapping: {} } as const;

/**
 * node-redis 6's `keyPrefix` (v4 and v5 have none): its own commands prepend it to their
 * keys, but sendCommand sends what it is given, so the adapter prepends it itself.
 */
function keyPrefixOf(c: Client): string {
  const prefix: unknown = c._keyPrefix;
  if (prefix === undefined || prefix === null || prefix === '') return '';
  if (typeof prefix === 'string') return prefix;
  if (Buffer.isBuffer(prefix)) return prefix.toString('utf8');
  throw new TypeError(`Expected the node-redis client's \`keyPrefix\` to be a string, got ${typeof prefix}`);
}

/**
 * CONFIG GET's reply, however the protocol shapes it: a flat array of names and values
 * (RESP2), or a map (RESP3), as an object or a Map.
 */
function configValue(reply: unknown, name: string): string | undefined {
  let value: unknown;
  if (Array.isArray(reply)) value = reply[reply.indexOf(name) + 1];
  else if (reply instanceof Map) value = reply.get(name);
  else if (typeof reply === 'object' && reply !== null) value = (reply as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

type Listener = (message: string, channel: string) => void;
type Emitter = {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
};
/** What the adapter uses of a node-redis client, cluster or sentinel (v4 to v6). */
type Client = Emitter & {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  /** A cluster's masters (v4 and later); a plain client has none. */
  readonly masters?: unknown;
  /** A sentinel's (v5 and later): it finds the master itself and follows a failover. */
  getMasterNode?(): unknown;
  /** v6's `keyPrefix` option, on a client, cluster or sentinel. */
  readonly _keyPrefix?: unknown;
  /**
   * A client's; a cluster's takes the key to route by and whether the command only
   * reads first, a sentinel's whether it only reads. Then command options.
   */
  sendCommand(args: string[], options: object): Promise<unknown>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean, args: string[], options: object): Promise<unknown>;
  sendCommand(isReadonly: boolean, args: string[], options: object): Promise<unknown>;
  duplicate(): Client;
  connect(): Promise<unknown>;
  unref?(): void;
  destroy?(): void;
  disconnect(): Promise<unknown>;
  subscribe(channels: string[], listener: Listener): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sSubscribe(channels: string[], listener: Listener): Promise<unknown>;
  sUnsubscribe(channel: string): Promise<unknown>;
};

/**
 * node-redis wants every argument as a string (numbers are not encoded). Scripts go
 * through sendCommand, with the first key named for a Cluster to route by: v4's
 * evalSha() and eval() lose their keys on the way and send to a random node.
 */
export function nodeRedisAdapter(client: NodeRedisClient): Adapter {
  const c = client as unknown as Client;
  const cluster = c.masters !== undefined;
  const sentinel = typeof c.getMasterNode === 'function';
  const keyPrefix = keyPrefixOf(c);
  const direct = (args: string[], firstKey: string | undefined): Promise<unknown> =>
    cluster
      ? c.sendCommand(firstKey, false, args, plainReplies)
      : sentinel
        ? c.sendCommand(false, args, plainReplies)
        : c.sendCommand(args, plainReplies);
  // A cluster or sentinel that finds a node changed role (a failover) destroys its
  // connection there, failing what was in flight on it, and routes anew: such a call is
  // sent once more, as ioredis does by itself. Every script is safe to run twice (a
  // second acquire finds its own ticket, a second release frees nothing more).
  const send = !(cluster || sentinel)
    ? direct
    : (args: string[], firstKey: string | undefined): Promise<unknown> =>
        direct(args, firstKey).then(undefined, (error: unknown) => {
          if (!(error instanceof Error && error.message === destroyedMessage) || !c.isOpen) throw error;
          return direct(args, firstKey);
        });
  // Keys as Redis is to see them; prefixed once per key array (a semaphore's are made once).
  const prefixed = new WeakMap<ScriptArgs, string[]>();
  const keysOf = (keys: ScriptArgs): string[] => {
    if (keyPrefix === '') return keys as string[];
    let full = prefixed.get(keys);
    if (!full) {
      full = keys.map((key) => keyPrefix + key);
      prefixed.set(keys, full);
    }
    return full;
  };
  const script = (command: 'EVALSHA' | 'EVAL', body: string, s: Script, keys: ScriptArgs, argv: ScriptArgs) => {
    const full = keysOf(keys);
    return send([command, body, String(s.numberOfKeys), ...full, ...argv.map(String)], full[0]);
  };
  return {
    topology: cluster ? 'cluster' : sentinel ? 'sentinel' : 'server',
    keyPrefix,
    evalsha: (s, keys, argv) => script('EVALSHA', s.sha, s, keys, argv),
    eval: (s, keys, argv) => script('EVAL', s.lua, s, keys, argv),
    // Cleared at once by quit(), close(), destroy() and disconnect(), and when the
    // reconnect strategy gives up; also before connect(), when commands fail alike.
    closed: () => !c.isOpen,
    isDropped: (error) => error instanceof Error && droppedMessages.has(error.message),
    isReplyError,
    onEnd(listener) {
      if (!cluster && !sentinel) return void c.once('end', listener);
      // A v5 or v6 cluster says 'disconnect', a v6 sentinel 'end'; a v4 cluster and a v5
      // sentinel say nothing, so they are looked at now and then.
      const event = cluster ? 'disconnect' : 'end';
      const ended = () => {
        if (c.isOpen) return;
        clearInterval(check);
        c.off(event, ended);
        listener();
      };
      const check = setInterval(ended, clusterEndCheckMs);
      check.unref();
      c.on(event, ended);
    },
    // Sent as it is, as scripts are: the client's typeMapping and RESP version left out.
    configGet: async (name) => configValue(await direct(['CONFIG', 'GET', name], undefined), name),
    wait:
      cluster || sentinel
        ? undefined
        : // v6's default command timeout (5 s) only covers the wait to be written, not the reply.
          async (replicas, timeoutMs) =>
            Number(await c.sendCommand(['WAIT', String(replicas), String(timeoutMs)], plainReplies)),
    subscriber: (events) =>
      cluster ? clusterSubscriber(c, events) : sentinel ? sentinelSubscriber(c, events) : clientSubscriber(c, events),
  };
}

let probes = 0;

/**
 * A channel no one else uses, beside `channel`: of the same hash tag (the same shard)
 * and matching the same ACL patterns. Its SUBSCRIBE's reply comes after those of every
 * command sent before it on the connection, the resubscription included.
 */
function probeOf(channel: string): string {
  return `${channel}:probe:${++probes}`;
}

/**
 * A duplicate of the user's client. node-redis resubscribes on its own after a
 * reconnect, before it says 'ready'; a probe subscribed then confirms it.
 */
function clientSubscriber(client: Client, events: SubscriberEvents): Subscriber {
  // Our own offline queue: a SUBSCRIBE sent while connecting must wait, whatever the user chose.
  const sub = (client.duplicate as (overrides: object) => Client)({ disableOfflineQueue: false });
  const channels = new Set<string>();
  const onMessage: Listener = (message, channel) => events.message(channel, message);
  let readyBefore = false;
  let down = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    events.ended();
  };
  sub.unref?.();
  // How it says it gave up reconnecting: an error, with the client closed.
  sub.on('error', () => {
    if (!sub.isOpen) end();
  });
  sub.on('reconnecting', () => {
    if (!readyBefore || down) return;
    down = true;
    events.lost();
  });
  sub.on('ready', () => {
    events.ready();
    if (!readyBefore) {
      readyBefore = true;
      return;
    }
    down = false;
    const [first] = channels;
    if (first === undefined) return events.restored();
    const probe = probeOf(first);
    sub
      .subscribe([probe], () => {})
      .then(
        () => {
          sub.unsubscribe(probe).catch(() => {});
          events.restored();
        },
        () => events.unsure(),
      );
  });
  sub.once('end', end);
  sub.connect().catch(end);
  return {
    subscribe: (list) => subscribeKept(channels, list, () => sub.subscribe([...list], onMessage)),
    async unsubscribe(channel) {
      channels.delete(channel);
      await sub.unsubscribe(channel);
    },
    // Not isReady: node-redis confirms the first SUBSCRIBE before it sets that.
    connected: () => sub.isOpen && !down,
    close: () => close(sub),
  };
}

/**
 * For a subscription connection that the client restores by itself after a drop, but
 * without saying when: after `lost()`, `probe` per target channel (a subscription on
 * the same connection, which the client sends after its own resubscription) confirms
 * every subscription is back. A failed probe (still reconnecting) is sent again soon,
 * then less often, until one is confirmed: the client may say nothing more.
 */
function restoreCheck(
  targets: () => readonly string[],
  events: SubscriberEvents,
  isOpen: () => boolean,
  probe: (channel: string) => Promise<unknown>,
) {
  let round = 0;
  let closed = false;
  /** Since a drop, until a probe is confirmed: one `lost`, one `unsure`, however many errors. */
  let down = false;
  let unsure = false;
  let delay = probeRetryMs;
  let retry: NodeJS.Timeout | undefined;
  const check = () => {
    const mine = ++round;
    clearTimeout(retry);
    if (closed || !isOpen()) return;
    Promise.all(targets().map(probe)).then(
      () => {
        // A later drop has a probe of its own.
        if (mine !== round || closed) return;
        down = unsure = false;
        delay = probeRetryMs;
        events.restored();
      },
      () => {
        if (mine !== round || closed) return;
        if (!unsure) {
          // Waiters re-check once (and back off on their own if Redis is still away).
          unsure = true;
          events.unsure();
        }
        retry = setTimeout(check, delay);
        retry.unref();
        delay = Math.min(delay * 2, probeRetryMaxMs);
      },
    );
  };
  return {
    lost() {
      if (closed || !isOpen()) return;
      if (!down) {
        down = true;
        events.lost();
      }
      check();
    },
    close() {
      closed = true;
      clearTimeout(retry);
    },
  };
}

/**
 * The user's own cluster: its sharded subscriptions already live on connections of
 * their own, one per master, which it restores itself and closes with the cluster. A
 * v5 or v6 cluster reports a node reconnecting; a v4 cluster reports only the
 * connection's error. After either, a probe per watched channel, on its shard,
 * confirms that every subscription is back.
 */
function clusterSubscriber(client: Client, events: SubscriberEvents): Subscriber {
  const channels = new Set<string>();
  const onMessage: Listener = (message, channel) => events.message(channel, message);
  // One probe per channel: each goes to its own shard's connection.
  const restore = restoreCheck(
    () => [...channels],
    events,
    () => client.isOpen,
    async (channel) => {
      const probe = probeOf(channel);
      await client.sSubscribe([probe], () => {});
      client.sUnsubscribe(probe).catch(() => {});
    },
  );
  client.on('node-reconnecting', restore.lost);
  client.on('error', restore.lost);
  return {
    // One call per channel: a call goes to the shard of its first channel only.
    subscribe: (list) =>
      subscribeKept(channels, list, () => Promise.all(list.map((channel) => client.sSubscribe([channel], onMessage)))),
    async unsubscribe(channel) {
      channels.delete(channel);
      await client.sUnsubscribe(channel);
    },
    connected: () => true,
    // Ours are only the channels: the connections are the cluster's.
    close() {
      restore.close();
      client.off('node-reconnecting', restore.lost);
      client.off('error', restore.lost);
      for (const channel of channels) client.sUnsubscribe(channel).catch(() => {});
      channels.clear();
    },
  };
}

/**
 * The user's own sentinel: its pub/sub lives on a connection of its own to the master,
 * which it moves to the new master after a failover and restores after a reconnect,
 * but without telling. A failover is told ('topology-change'), and a dropped
 * connection shows as an 'error': after either, a probe on that connection confirms
 * every subscription.
 */
function sentinelSubscriber(client: Client, events: SubscriberEvents): Subscriber {
  const channels = new Set<string>();
  const onMessage: Listener = (message, channel) => events.message(channel, message);
  // One connection: one probe tells for every channel.
  const restore = restoreCheck(
    () => [...channels].slice(0, 1),
    events,
    () => client.isOpen,
    async (channel) => {
      const probe = probeOf(channel);
      await client.subscribe([probe], () => {});
      client.unsubscribe(probe).catch(() => {});
    },
  );
  const changed = (event: { type?: string }) => {
    if (event.type === 'MASTER_CHANGE') restore.lost();
  };
  client.on('topology-change', changed);
  client.on('error', restore.lost);
  // Not once the sentinel is closed: an unsubscribe would open a new pub/sub
  // connection, which would then try to reconnect for ever.
  const unsubscribe = (channel: string) => (client.isOpen ? client.unsubscribe(channel) : Promise.resolve());
  return {
    subscribe: (list) => subscribeKept(channels, list, () => client.subscribe([...list], onMessage)),
    async unsubscribe(channel) {
      channels.delete(channel);
      await unsubscribe(channel);
    },
    connected: () => client.isReady !== false,
    // Ours are only the channels: the connection is the sentinel's.
    close() {
      restore.close();
      client.off('topology-change', changed);
      client.off('error', restore.lost);
      for (const channel of channels) unsubscribe(channel).catch(() => {});
      channels.clear();
    },
  };
}

/** destroy() (v5) or disconnect() (v4, a v5 alias); either throws when already closed. */
function close(sub: Client): void {
  try {
    if (sub.destroy) sub.destroy();
    else sub.disconnect().catch(() => {});
  } catch {
    // Closed already.
  }
}
