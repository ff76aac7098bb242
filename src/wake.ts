import { isClosed } from './client.js';
import { type Client, isCluster } from './scripts.js';
import { publish } from './telemetry.js';
import { lingerMs } from './timing.js';
import { parseGrant, TokenSource } from './tokens.js';

/** A waiter as the listener sees it: told of its grant, or asked to re-check after a gap. */
export type WakeTarget = {
  granted(fence: number): void;
  recheck(): void;
  /** The user's client ended: the acquisition can never complete. */
  abandon(): void;
};

/** Something that ends with the user's client: a lease, which is lost with it. */
export type ClientBound = { clientEnded(): void };


type Watch = {
  refs: number;
  /** The SUBSCRIBE is confirmed and the connection has not dropped since. */
  live: boolean;
  ready: Promise<void>;
  linger?: NodeJS.Timeout;
};

/**
 * One pub/sub connection per user client, duplicated from it and owned here, with a
 * life cycle of its own: created on the first wait, subscribed per key, lost and
 * resubscribed when its connection drops, replaced when it ends for good, closed with
 * the user's client. Whenever a grant may have been published while it could not
 * hear it, every waiter re-checks. Grants are published to this client's inbox
 * channel of each key, `channelPrefix + inbox`, with the fencing token in the message,
 * so a waiter needs no further round trip.
 */
export class WakeListener {
  /** Tokens of this client's acquisitions; their inbox names our wake-up channel. */
  readonly tokens = new TokenSource();
  readonly #client: Client;
  readonly #cluster: boolean;
  #sub: Client | undefined;
  #closed = false;
  readonly #watches = new Map<string, Watch>();
  readonly #targets = new Map<string, WakeTarget>();
  readonly #bound = new Set<ClientBound>();
  /** @internal How long a channel stays subscribed after its last waiter (tests shorten it). */
  lingerMs = lingerMs;

  constructor(client: Client) {
    this.#client = client;
    this.#cluster = isCluster(client);
    // The user's client ending is our cue to let go of everything tied to it.
    client.once('end', this.#onEnd);
    // A Cluster tells of a quit() at once, long before its nodes have quit (it also
    // disconnects on its own to reconnect: isClosed tells the two apart).
    if (this.#cluster) client.on('disconnecting', this.#onDisconnecting);
  }

  readonly #onEnd = (): void => this.close();

  readonly #onDisconnecting = (): void => {
    if (isClosed(this.#client)) this.close();
  };

  get closed(): boolean {
    return this.#closed;
  }

  register(token: string, target: WakeTarget): void {
    this.#targets.set(token, target);
  }

  unregister(token: string): void {
    this.#targets.delete(token);
  }

  bind(x: ClientBound): void {
    this.#bound.add(x);
  }

  unbind(x: ClientBound): void {
    this.#bound.delete(x);
  }

  /**
   * Takes a reference on `channel`'s subscription if there is one, so that it cannot
   * end (its linger run out) while an acquire is in flight; subscribes to nothing.
   * `live`: a grant published on it from now on is sure to be heard; else `ready`
   * resolves once it is. Undefined (and no reference taken) when nobody watches it.
   */
  attach(channel: string): { live: boolean; ready: Promise<void> } | undefined {
    const watch = this.#watches.get(channel);
    if (!watch) return undefined;
    this.#hold(watch);
    return { live: watch.live && this.#connected(), ready: watch.ready };
  }

  /** Takes a reference on `channel`, subscribing unless already; resolves once the subscription is confirmed. */
  subscribe(channel: string): Promise<void> {
    const existing = this.#watches.get(channel);
    if (existing) {
      this.#hold(existing);
      return existing.ready;
    }
    const watch: Watch = { refs: 1, live: false, ready: Promise.resolve() };
    watch.ready = this.#send(channel).then(
      () => {
        watch.live = true;
      },
      (error: unknown) => {
        if (this.#watches.get(channel) === watch) this.#watches.delete(channel);
        publish('subscriber', () => ({ event: 'refused', channels: this.#watches.size, error: asError(error) }));
        throw error;
      },
    );
    this.#watches.set(channel, watch);
    return watch.ready;
  }

  /** Gives back a reference taken by attach() or subscribe(). */
  detach(channel: string): void {
    const watch = this.#watches.get(channel);
    if (!watch || --watch.refs > 0) return;
    watch.linger = setTimeout(() => {
      if (watch.refs > 0 || this.#watches.get(channel) !== watch) return;
      this.#watches.delete(channel);
      const sub = this.#sub;
      (this.#cluster ? sub?.sunsubscribe(channel) : sub?.unsubscribe(channel))?.catch(() => {});
    }, this.lingerMs);
    // Lingering is an optimisation; it must not keep the process alive.
    watch.linger.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    listeners.delete(this.#client);
    this.#client.off('end', this.#onEnd);
    this.#client.off('disconnecting', this.#onDisconnecting);
    const targets = [...this.#targets.values()];
    const bound = [...this.#bound];
    this.#targets.clear();
    this.#bound.clear();
    for (const watch of this.#watches.values()) clearTimeout(watch.linger);
    this.#watches.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    sub?.disconnect();
    for (const target of targets) target.abandon();
    for (const x of bound) x.clientEnded();
    publish('subscriber', () => ({ event: 'closed', channels: 0 }));
  }

  #hold(watch: Watch): void {
    watch.refs++;
    clearTimeout(watch.linger);
    watch.linger = undefined;
  }

  #connected(): boolean {
    const sub = this.#sub as { status?: string } | undefined;
    // A Cluster's sharded subscribers report their state through events only.
    return this.#cluster ? sub !== undefined : sub?.status === 'ready';
  }

  #send(channel: string): Promise<unknown> {
    const sub = this.#subscriber();
    return this.#cluster ? sub.ssubscribe(channel) : sub.subscribe(channel);
  }

  #subscriber(): Client {
    if (this.#sub) return this.#sub;
    const sub = isCluster(this.#client)
      ? // A Cluster restores its own sharded subscriptions, one connection per master.
        this.#client.duplicate([], { shardedSubscribers: true, lazyConnect: false })
      : // Resubscribing is done by hand (below) so that waiters re-check only once the
        // subscriptions are live again. Our own offline queue: a SUBSCRIBE sent while
        // the connection is still being made must wait for it, whatever the user chose.
        this.#client.duplicate({ autoResubscribe: false, lazyConnect: false, enableOfflineQueue: true });
    this.#sub = sub;
    let connectedBefore = false;
    const lost = () => {
      for (const watch of this.#watches.values()) watch.live = false;
    };
    sub.on('connect', () => unrefSocket(sub));
    if (this.#cluster) {
      sub.on('-subscriber', lost);
      // The group resubscribed every channel on its new connections: ask Redis directly.
      sub.on('subscribersReady', () => {
        for (const watch of this.#watches.values()) watch.live = true;
        publish('subscriber', () => ({ event: 'resubscribed', channels: this.#watches.size }));
        this.#recheckAll();
      });
    } else {
      sub.on('close', () => {
        lost();
        if (connectedBefore) publish('subscriber', () => ({ event: 'lost', channels: this.#watches.size }));
      });
      sub.on('ready', () => {
        publish('subscriber', () => ({ event: 'connected', channels: this.#watches.size }));
        if (!connectedBefore) {
          connectedBefore = true;
          return;
        }
        this.#resubscribe(sub);
      });
    }
    // Ended for good (its retry strategy gave up, or it was closed from outside) while
    // the user's client lives on: replace it, or every later wait would only poll.
    sub.once('end', () => {
      if (this.#sub !== sub || this.#closed) return;
      this.#sub = undefined;
      lost();
      publish('subscriber', () => ({ event: 'replaced', channels: this.#watches.size }));
      if (this.#watches.size > 0) this.#resubscribe(this.#subscriber());
    });
    sub.on(this.#cluster ? 'smessage' : 'message', (_channel: string, message: string) => {
      const { token, fence } = parseGrant(message);
      this.#targets.get(token)?.granted(fence);
    });
    // Connection errors surface to waiters through their own commands and heartbeats;
    // an 'error' event without a listener would only add noise.
    sub.on('error', () => {});
    return sub;
  }

  /** Subscribes every watched channel again; messages sent meanwhile are lost, so every waiter re-checks. */
  #resubscribe(sub: Client): void {
    const channels = [...this.#watches.keys()];
    const done = () => {
      for (const channel of channels) {
        const watch = this.#watches.get(channel);
        if (watch) watch.live = true;
      }
      publish('subscriber', () => ({ event: 'resubscribed', channels: channels.length }));
      this.#recheckAll();
    };
    if (channels.length === 0) return this.#recheckAll();
    (this.#cluster ? sub.ssubscribe(...channels) : sub.subscribe(...channels)).then(done, () => this.#recheckAll());
  }

  #recheckAll(): void {
    for (const target of this.#targets.values()) target.recheck();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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

/**
 * True once the user's client was closed (isClosed). The first to see it lets go of all
 * that is tied to the client, as its 'end' would a moment later: so a call made right
 * after quit() or disconnect() finds what it would find after 'end'.
 */
export function noticeClosed(client: Client): boolean {
  if (!isClosed(client)) return false;
  listeners.get(client)?.close();
  return true;
}

export function listenerFor(client: Client): WakeListener {
  let listener = listeners.get(client);
  if (!listener) {
    listener = new WakeListener(client);
    listeners.set(client, listener);
  }
  return listener;
}
