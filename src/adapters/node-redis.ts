import { clusterEndCheckMs } from '../timing.js';
import {
  type Adapter,
  type Script,
  type ScriptArgs,
  type Subscriber,
  type SubscriberEvents,
  subscribeKept,
} from './adapter.js';

/**
 * A client of the `redis` package (node-redis v4 or v5), from `createClient()` or
 * `createCluster()`, connected by its owner. Structural, so that ioredis users need
 * not install it, and a second copy of the package still counts.
 */
export type NodeRedisClient = {
  readonly isOpen: boolean;
  duplicate: (...args: never[]) => unknown;
  evalSha: (...args: never[]) => unknown;
  sendCommand: (...args: never[]) => unknown;
};

/**
 * Duck-typed like isIoredis: what both versions' clients and clusters have. A v4
 * `legacyMode` client (callbacks; its promise API under `.v4`) is not one.
 */
export function isNodeRedis(client: object): client is NodeRedisClient {
  const c = client as Partial<Record<'duplicate' | 'evalSha' | 'sendCommand' | 'connect', unknown>> & {
    options?: { legacyMode?: unknown };
  };
  return (
    'isOpen' in client &&
    c.options?.legacyMode !== true &&
    typeof c.duplicate === 'function' &&
    typeof c.evalSha === 'function' &&
    typeof c.sendCommand === 'function' &&
    typeof c.connect === 'function'
  );
}

/** node-redis reports an error reply as an ErrorReply (SimpleError, BlobError in v5), without a name of its own. */
export function isNodeRedisReplyError(error: Error): boolean {
  for (let proto = Object.getPrototypeOf(error); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

type Listener = (message: string, channel: string) => void;
type Emitter = {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
};
/** What the adapter uses of a node-redis client or cluster (both versions). */
type Client = Emitter & {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  /** A cluster's masters (v4 and v5); a plain client has none. */
  readonly masters?: unknown;
  configGet(name: string): Promise<Record<string, string | undefined>>;
  /** A client's; a cluster's takes the key to route by and whether the command only reads first. */
  sendCommand(args: string[]): Promise<unknown>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean, args: string[]): Promise<unknown>;
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
  const send = (args: string[], firstKey: string): Promise<unknown> =>
    cluster ? c.sendCommand(firstKey, false, args) : c.sendCommand(args);
  return {
    cluster,
    evalsha: (script: Script, keys: ScriptArgs, argv: ScriptArgs) =>
      send(['EVALSHA', script.sha, String(script.numberOfKeys), ...(keys as string[]), ...argv.map(String)], keys[0] as string),
    eval: (script: Script, keys: ScriptArgs, argv: ScriptArgs) =>
      send(['EVAL', script.lua, String(script.numberOfKeys), ...(keys as string[]), ...argv.map(String)], keys[0] as string),
    // Cleared at once by quit(), close(), destroy() and disconnect(), and when the
    // reconnect strategy gives up; also before connect(), when commands fail alike.
    closed: () => !c.isOpen,
    onEnd(listener) {
      if (!cluster) return void c.once('end', listener);
      // A v5 cluster says 'disconnect'; a v4 cluster says nothing, so it is looked at now and then.
      const ended = () => {
        if (c.isOpen) return;
        clearInterval(check);
        c.off('disconnect', ended);
        listener();
      };
      const check = setInterval(ended, clusterEndCheckMs);
      check.unref();
      c.on('disconnect', ended);
    },
    async configGet(name) {
      const reply = await c.configGet(name);
      return reply[name];
    },
    async wait(replicas, timeoutMs) {
      return Number(await c.sendCommand(['WAIT', String(replicas), String(timeoutMs)]));
    },
    subscriber: (events) => (cluster ? clusterSubscriber(c, events) : clientSubscriber(c, events)),
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
    sub.subscribe([probe], () => {}).then(
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
    connected: () => sub.isReady === true,
    close: () => close(sub),
  };
}

/**
 * The user's own cluster: its sharded subscriptions already live on connections of
 * their own, one per master, which it restores itself and closes with the cluster. A
 * v5 cluster reports a node reconnecting (v4 does not): then a probe per watched
 * channel, on its shard, confirms that every subscription is back.
 */
function clusterSubscriber(client: Client, events: SubscriberEvents): Subscriber {
  const channels = new Set<string>();
  const onMessage: Listener = (message, channel) => events.message(channel, message);
  let round = 0;
  const reconnecting = () => {
    const mine = ++round;
    events.lost();
    const probes = [...channels].map(probeOf);
    Promise.all(probes.map((probe) => client.sSubscribe([probe], () => {}))).then(
      () => {
        for (const probe of probes) client.sUnsubscribe(probe).catch(() => {});
        // A later reconnect has a probe of its own.
        if (mine === round) events.restored();
      },
      () => {
        if (mine === round) events.unsure();
      },
    );
  };
  client.on('node-reconnecting', reconnecting);
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
      client.off('node-reconnecting', reconnecting);
      for (const channel of channels) client.sUnsubscribe(channel).catch(() => {});
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
