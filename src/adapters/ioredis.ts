import type { Cluster, Redis } from 'ioredis';
import {
  type Adapter,
  type Script,
  type ScriptArgs,
  type Subscriber,
  type SubscriberEvents,
  subscribeKept,
} from './adapter.js';

/**
 * An ioredis `Redis` or `Cluster`, structurally: the published types must not import
 * ioredis, or a node-redis user's type check would fail for want of it.
 */
export type IoredisClient = {
  defineCommand: (...args: never[]) => unknown;
  duplicate: (...args: never[]) => unknown;
  evalsha: (...args: never[]) => unknown;
};

type Ioredis = Redis | Cluster;

/** Duck-typed, so a second copy of ioredis in node_modules still counts as ioredis. */
export function isIoredis(client: object): client is IoredisClient {
  const c = client as Partial<Record<'defineCommand' | 'duplicate' | 'evalsha', unknown>>;
  return typeof c.defineCommand === 'function' && typeof c.duplicate === 'function' && typeof c.evalsha === 'function';
}

/** What ioredis (5 and 6) fails a command with that it dropped because the connection was closed. */
const droppedMessage = 'Connection is closed.';

/**
 * What ioredis prepends to every key (its `keyPrefix`, a Cluster's also from
 * `redisOptions`): Redis sees the library's keys, and so the channels the scripts
 * derive from them, with it.
 */
function keyPrefixOf(client: Ioredis): string {
  // Optional chaining: a stand-in with ioredis's methods but no options counts as having none.
  const prefix: unknown = (client.options as { keyPrefix?: unknown } | undefined)?.keyPrefix;
  if (prefix === undefined || prefix === null || prefix === '') return '';
  if (typeof prefix === 'string') return prefix;
  // ioredis also takes a Buffer; the library's names are text.
  if (Buffer.isBuffer(prefix)) return prefix.toString('utf8');
  throw new TypeError(`Expected the ioredis client's \`keyPrefix\` to be a string, got ${typeof prefix}`);
}

type Send = (name: string, numberOfKeys: number, keys: ScriptArgs, argv: ScriptArgs) => Promise<unknown>;

/**
 * ioredis. Scripts go as plain EVALSHA rather than through `defineCommand`, whose
 * per-call command object, reject wrapper and extra promise cost more Node CPU than
 * the rest of an acquire; a NOSCRIPT costs one more round trip instead, once per
 * script after Redis lost it. ioredis flattens argument arrays itself, so keys and
 * arguments are passed as they are; it prepends its keyPrefix to the keys, and routes a
 * Cluster call by the script's first key.
 */
export function ioredisAdapter(user: IoredisClient): Adapter {
  const client = user as unknown as Ioredis;
  const c = client as unknown as { evalsha: Send; eval: Send; isCluster?: boolean; status?: string };
  const cluster = c.isCluster === true;
  const keyPrefix = keyPrefixOf(client);
  return {
    topology: cluster ? 'cluster' : 'server',
    keyPrefix,
    evalsha: (script: Script, keys: ScriptArgs, argv: ScriptArgs) =>
      c.evalsha(script.sha, script.numberOfKeys, keys, argv),
    eval: (script: Script, keys: ScriptArgs, argv: ScriptArgs) => c.eval(script.lua, script.numberOfKeys, keys, argv),
    closed: () => isClosed(client),
    isDropped: (error) => error instanceof Error && error.message === droppedMessage,
    isReplyError: (error) => error instanceof Error && error.name === 'ReplyError',
    onEnd(listener) {
      client.once('end', listener);
      // A Cluster tells of a quit() at once, long before its nodes have quit (it also
      // disconnects on its own to reconnect: isClosed tells the two apart).
      if (cluster) {
        client.on('disconnecting', () => {
          if (isClosed(client)) listener();
        });
      }
    },
    async configGet(name) {
      const reply: unknown = await client.config('GET', name);
      const value = Array.isArray(reply) ? reply[1] : undefined;
      return typeof value === 'string' ? value : undefined;
    },
    wait: cluster ? undefined : (replicas, timeoutMs) => (client as Redis).wait(replicas, timeoutMs),
    subscriber: (events) =>
      cluster ? clusterSubscriber(client as Cluster, events) : redisSubscriber(client as Redis, events),
  };
}

/**
 * Resubscribing is done by hand (on 'ready' after a reconnect) so that waiters re-check
 * only once the subscriptions are live again. Our own offline queue: a SUBSCRIBE sent
 * while the connection is still being made must wait for it, whatever the user chose.
 */
function redisSubscriber(client: Redis, events: SubscriberEvents): Subscriber {
  // Channels go by the names Redis sees: no keyPrefix of the user's on this connection.
  const sub = client.duplicate({
    autoResubscribe: false,
    lazyConnect: false,
    enableOfflineQueue: true,
    keyPrefix: undefined,
  });
  const channels = new Set<string>();
  let connectedBefore = false;
  sub.on('connect', () => unrefSocket(sub));
  sub.on('close', () => {
    if (connectedBefore) events.lost();
  });
  sub.on('ready', () => {
    events.ready();
    if (!connectedBefore) {
      connectedBefore = true;
      return;
    }
    if (channels.size === 0) return events.restored();
    sub.subscribe(...channels).then(
      () => events.restored(),
      () => events.unsure(),
    );
  });
  listen(sub, 'message', events);
  return {
    subscribe: (list) => subscribeKept(channels, list, () => sub.subscribe(...list)),
    async unsubscribe(channel) {
      channels.delete(channel);
      await sub.unsubscribe(channel);
    },
    connected: () => sub.status === 'ready',
    close: () => sub.disconnect(),
  };
}

/** A Cluster restores its own sharded subscriptions, one connection per master. */
function clusterSubscriber(client: Cluster, events: SubscriberEvents): Subscriber {
  // ioredis prefixes SSUBSCRIBE's channels as keys, but channels go by the names Redis
  // sees: no keyPrefix on this cluster (a Cluster also takes one from redisOptions).
  const sub = client.duplicate([], {
    shardedSubscribers: true,
    lazyConnect: false,
    keyPrefix: undefined,
    redisOptions: { ...client.options.redisOptions, keyPrefix: undefined },
  });
  sub.on('connect', () => unrefSocket(sub));
  sub.on('-subscriber', () => events.lost());
  // The group resubscribed every channel on its new connections.
  sub.on('subscribersReady', () => events.restored());
  listen(sub, 'smessage', events);
  return {
    async subscribe(list) {
      await sub.ssubscribe(...list);
    },
    async unsubscribe(channel) {
      await sub.sunsubscribe(channel);
    },
    // A Cluster's sharded subscribers report their state through events only.
    connected: () => true,
    close: () => sub.disconnect(),
  };
}

function listen(sub: Redis | Cluster, message: 'message' | 'smessage', events: SubscriberEvents): void {
  // Ended for good (its retry strategy gave up, or it was closed from outside).
  sub.once('end', () => events.ended());
  sub.on(message, (channel: string, text: string) => events.message(channel, text));
  // Connection errors surface to waiters through their own commands and heartbeats;
  // an 'error' event without a listener would only add noise.
  sub.on('error', () => {});
}

function unrefSocket(sub: Redis | Cluster): void {
  const stream = (sub as { stream?: { unref?: () => void } }).stream;
  stream?.unref?.();
}

/**
 * True from the moment quit() or disconnect() is called on `client` (or it ended: its
 * retry strategy gave up), though ioredis reports status "ready" until the socket closes.
 */
function isClosed(client: Ioredis): boolean {
  const { status, manuallyClosing, isCluster } = client as unknown as {
    status?: string;
    manuallyClosing?: boolean;
    isCluster?: boolean;
  };
  if (status === 'end') return true;
  // ioredis's own flag (5 and 6): quit() and disconnect() set it at the call, while a
  // connection that merely dropped passes 'close' and 'reconnecting' without it, and comes back.
  if (manuallyClosing !== true) return false;
  // A Redis clears it as it ends; a Cluster only once a later connect() is under way.
  return isCluster !== true || status === 'disconnecting' || status === 'close';
}
