import { type Client, isCluster } from './scripts.js';
import { parseGrant, TokenSource } from './tokens.js';

/** A waiter as the listener sees it: told of its grant, or asked to re-check after a gap. */
export type WakeTarget = {
  granted(fence: number): void;
  recheck(): void;
  /** The user's client ended: the acquisition can never complete. */
  abandon(): void;
};

/**
 * How long a channel stays subscribed after its last waiter in this process: a
 * process that keeps contending for a key pays the subscribe round trip once.
 */
const lingerMs = 30_000;

type Watch = {
  refs: number;
  /** The SUBSCRIBE is confirmed and the connection has not dropped since. */
  live: boolean;
  ready: Promise<void>;
  linger?: NodeJS.Timeout;
};

/**
 * One pub/sub connection per user client, duplicated from it and owned here. Grants
 * are published to this process's inbox channel of each key, `channelPrefix + inbox`,
 * with the fencing token in the message, so a waiter needs no further round trip.
 */
export class WakeListener {
  /** Tokens of this client's acquisitions; their inbox names our wake-up channel. */
  readonly tokens = new TokenSource();
  readonly #client: Client;
  readonly #cluster: boolean;
  #sub: Client | undefined;
  readonly #watches = new Map<string, Watch>();
  readonly #targets = new Map<string, WakeTarget>();

  constructor(client: Client) {
    this.#client = client;
    this.#cluster = isCluster(client);
    // The user's client ending is our cue to let go of the connection we own.
    client.once('end', () => this.close());
  }

  register(token: string, target: WakeTarget): void {
    this.#targets.set(token, target);
  }

  unregister(token: string): void {
    this.#targets.delete(token);
  }

  /**
   * True when a grant published on `channel` from now on is sure to be heard: the
   * subscription is confirmed and its connection is up. A waiter asks this before
   * sending its acquire; if false, it re-checks once its subscription is live.
   */
  isLive(channel: string): boolean {
    return this.#watches.get(channel)?.live === true && this.#sub?.status === 'ready';
  }

  /** Subscribes to `channel` unless already subscribed; resolves once the subscription is confirmed. */
  async watch(channel: string): Promise<void> {
    const existing = this.#watches.get(channel);
    if (existing) {
      existing.refs++;
      clearTimeout(existing.linger);
      existing.linger = undefined;
      return existing.ready;
    }
    const sub = this.#subscriber();
    const watch: Watch = { refs: 1, live: false, ready: Promise.resolve() };
    watch.ready = (this.#cluster ? sub.ssubscribe(channel) : sub.subscribe(channel)).then(
      () => {
        watch.live = true;
      },
      (error: unknown) => {
        if (this.#watches.get(channel) === watch) this.#watches.delete(channel);
        throw error;
      },
    );
    this.#watches.set(channel, watch);
    return watch.ready;
  }

  unwatch(channel: string): void {
    const watch = this.#watches.get(channel);
    if (!watch || --watch.refs > 0) return;
    watch.linger = setTimeout(() => {
      if (watch.refs > 0 || this.#watches.get(channel) !== watch) return;
      this.#watches.delete(channel);
      const sub = this.#sub;
      (this.#cluster ? sub?.sunsubscribe(channel) : sub?.unsubscribe(channel))?.catch(() => {});
    }, lingerMs);
    // Lingering is an optimisation; it must not keep the process alive.
    watch.linger.unref();
  }

  close(): void {
    const targets = [...this.#targets.values()];
    this.#targets.clear();
    for (const target of targets) target.abandon();
    for (const watch of this.#watches.values()) clearTimeout(watch.linger);
    this.#watches.clear();
    this.#sub?.disconnect();
    this.#sub = undefined;
    listeners.delete(this.#client);
  }

  #subscriber(): Client {
    if (this.#sub) return this.#sub;
    // Resubscribing is done by hand (below) so that waiters re-check only once the
    // subscriptions are live again; ioredis's own resubscribe gives no such moment.
    const cluster = this.#cluster;
    // A Cluster restores its own (sharded) subscriptions, one connection per master.
    const sub = isCluster(this.#client)
      ? this.#client.duplicate([], { shardedSubscribers: true, lazyConnect: false })
      : this.#client.duplicate({ autoResubscribe: false, lazyConnect: false });
    let connectedBefore = false;
    sub.on('connect', () => unrefSocket(sub));
    sub.on('close', () => {
      for (const watch of this.#watches.values()) watch.live = false;
    });
    sub.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      const channels = [...this.#watches.keys()];
      const resubscribed = !cluster && channels.length > 0 ? sub.subscribe(...channels) : Promise.resolve();
      // Messages sent while we were away are lost: every waiter asks Redis directly.
      resubscribed.then(
        () => {
          for (const channel of channels) {
            const watch = this.#watches.get(channel);
            if (watch) watch.live = true;
          }
          this.#recheckAll();
        },
        () => this.#recheckAll(),
      );
    });
    sub.on(cluster ? 'smessage' : 'message', (_channel: string, message: string) => {
      const { token, fence } = parseGrant(message);
      this.#targets.get(token)?.granted(fence);
    });
    // Connection errors here surface to waiters through their own commands and the
    // periodic re-check; an 'error' event without a listener would only add noise.
    sub.on('error', () => {});
    this.#sub = sub;
    return sub;
  }

  #recheckAll(): void {
    for (const target of this.#targets.values()) target.recheck();
  }
}

/**
 * The subscriber only ever serves pending acquires, and each of those holds a timer
 * of its own; so its socket must never be what keeps a finished script running.
 */
function unrefSocket(sub: Client): void {
  const stream = (sub as { stream?: { unref?: () => void } }).stream;
  stream?.unref?.();
}

const listeners = new WeakMap<Client, WakeListener>();

export function listenerFor(client: Client): WakeListener {
  let listener = listeners.get(client);
  if (!listener) {
    listener = new WakeListener(client);
    listeners.set(client, listener);
  }
  return listener;
}
