import type { Adapter, Subscriber } from './adapters/adapter.js';
import { adapterFor, type Client } from './adapters/index.js';
import { publish } from './telemetry.js';
import { lingerMs } from './timing.js';
import { parseGrant, TokenSource } from './tokens.js';

/** A waiter as the listener sees it: told of its grant, or asked to re-check after a gap. */
export type WakeTarget = {
  /** `token`: the ticket the grant message is for (the message names it). */
  granted(token: string, fence: number): void;
  recheck(): void;
  /** The user's client ended: the acquisition can never complete. */
  abandon(): void;
};

/** Something that ends with the user's client: a lease, which is lost with it. */
export type ClientBound = { clientEnded(): void };

type Watch = {
  refs: number;
  /** Its own SUBSCRIBE was confirmed once: a restored connection makes it live again. */
  confirmed: boolean;
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
  readonly #adapter: Adapter;
  #sub: Subscriber | undefined;
  #closed = false;
  readonly #watches = new Map<string, Watch>();
  readonly #targets = new Map<string, WakeTarget>();
  readonly #bound = new Set<ClientBound>();
  /** @internal How long a channel stays subscribed after its last waiter (tests shorten it). */
  lingerMs = lingerMs;

  constructor(client: Client) {
    this.#client = client;
    this.#adapter = adapterFor(client);
    // The user's client ending is our cue to let go of everything tied to it.
    this.#adapter.onEnd(() => this.close());
  }

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
    return { live: watch.live && this.#sub?.connected() === true, ready: watch.ready };
  }

  /** Takes a reference on `channel`, subscribing unless already; resolves once the subscription is confirmed. */
  subscribe(channel: string): Promise<void> {
    const existing = this.#watches.get(channel);
    if (existing) {
      this.#hold(existing);
      return existing.ready;
    }
    const watch: Watch = { refs: 1, confirmed: false, live: false, ready: Promise.resolve() };
    watch.ready = this.#subscriber()
      .subscribe([channel])
      .then(
        () => {
          watch.confirmed = true;
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
      this.#sub?.unsubscribe(channel).catch(() => {});
    }, this.lingerMs);
    // Lingering is an optimisation; it must not keep the process alive.
    watch.linger.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    listeners.delete(this.#client);
    const targets = [...this.#targets.values()];
    const bound = [...this.#bound];
    this.#targets.clear();
    this.#bound.clear();
    for (const watch of this.#watches.values()) clearTimeout(watch.linger);
    this.#watches.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    sub?.close();
    for (const target of targets) target.abandon();
    for (const x of bound) x.clientEnded();
    publish('subscriber', () => ({ event: 'closed', channels: 0 }));
  }

  #hold(watch: Watch): void {
    watch.refs++;
    clearTimeout(watch.linger);
    watch.linger = undefined;
  }

  #subscriber(): Subscriber {
    if (this.#sub) return this.#sub;
    // What a subscriber reports once it is closed or replaced is of no interest.
    const current = () => this.#sub === sub && !this.#closed;
    const sub: Subscriber = this.#adapter.subscriber({
      message: (_channel, message) => {
        const grant = parseGrant(message);
        if (grant) {
          this.#targets.get(grant.token)?.granted(grant.token, grant.fence);
        } else {
          // '<token>!<limit>': taken out of the line, its weight being over a new limit.
          // The waiter re-checks, finds its ticket gone, and hears why when it queues again.
          this.#targets.get(message.slice(0, message.lastIndexOf('!')))?.recheck();
        }
      },
      ready: () => {
        if (current()) publish('subscriber', () => ({ event: 'connected', channels: this.#watches.size }));
      },
      lost: () => {
        if (!current()) return;
        this.#lost();
        publish('subscriber', () => ({ event: 'lost', channels: this.#watches.size }));
      },
      restored: () => {
        if (current()) this.#restored();
      },
      unsure: () => {
        if (current()) this.#recheckAll();
      },
      // Ended for good while the user's client lives on: replace it, or every later
      // wait would only poll.
      ended: () => {
        if (!current()) return;
        this.#sub = undefined;
        this.#lost();
        publish('subscriber', () => ({ event: 'replaced', channels: this.#watches.size }));
        if (this.#watches.size > 0) this.#resubscribe(this.#subscriber());
      },
    });
    this.#sub = sub;
    return sub;
  }

  #lost(): void {
    for (const watch of this.#watches.values()) watch.live = false;
  }

  /** Every watched channel is live again; messages sent meanwhile are lost, so every waiter re-checks. */
  #restored(): void {
    for (const watch of this.#watches.values()) watch.live = watch.confirmed;
    publish('subscriber', () => ({ event: 'resubscribed', channels: this.#watches.size }));
    this.#recheckAll();
  }

  /** Subscribes every watched channel on a new subscriber. */
  #resubscribe(sub: Subscriber): void {
    const channels = [...this.#watches.keys()];
    sub.subscribe(channels).then(
      () => {
        if (this.#sub === sub) this.#restored();
      },
      () => this.#recheckAll(),
    );
  }

  #recheckAll(): void {
    for (const target of this.#targets.values()) target.recheck();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

const listeners = new WeakMap<Client, WakeListener>();

/**
 * True once the user's client was closed (the adapter's closed()). The first to see it
 * lets go of all that is tied to the client, as its end would a moment later: so a call
 * made right after quit() or disconnect() finds what it would find after the end.
 */
export function noticeClosed(client: Client, adapter: Adapter): boolean {
  if (!adapter.closed()) return false;
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
