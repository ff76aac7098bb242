/**
 * Partitions for the tests: a TCP proxy on loopback in front of one Redis port, through
 * which a test's client connects. Per direction ('up': client to Redis, 'down': Redis to
 * the client) it passes, holds, drops or delays the bytes. A partition that heals before
 * TCP gives up looks to both ends like bytes held, then delivered late and in order; one
 * that outlasts it (or meets a NAT or firewall that forgot the flow) like a reset.
 *
 * The state is the proxy's, not a connection's: it applies to the connections open now
 * and to those opened later, as a partition would. A client that reconnects during a
 * hold reaches the proxy (it listens on loopback), but its bytes are held like the
 * rest, so its handshake (ioredis's ready check, node-redis's HELLO) waits for the heal,
 * as a connect to an unreachable host would. Free of AVA, so bench/ can use it too;
 * partition.ts closes a test file's proxies when it ends.
 */
import { once } from 'node:events';
import { connect as dial, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type Direction = 'up' | 'down';
const both: readonly Direction[] = ['up', 'down'];

/** What a direction does with the bytes it gets. */
type Mode = 'pass' | 'hold' | 'drop' | { readonly delay: number };

/** A client's connection through the proxy: the client's socket, and the proxy's own to Redis. */
export type Connection = { readonly client: Socket; readonly server: Socket };

/** A chunk received by the proxy, and the connection it came on. */
export type Received = { readonly data: Buffer; readonly connection: Connection };

/** What a test does to the network: one proxy, or several acting as one (every node of a cluster). */
export type Partition = {
  /** Keeps the bytes, to deliver them in order at the heal. Both directions unless one is named. */
  hold(direction?: Direction): void;
  /**
   * Loses the bytes, those not yet delivered included. TCP never loses bytes of a
   * connection that lives on: reset() after a drop before the client uses the connection
   * again, or every later reply answers the wrong command.
   */
  drop(direction?: Direction): void;
  /** Delivers each chunk `ms` after it arrived (what was held, `ms` from now), in order. */
  delay(ms: number, direction?: Direction): void;
  /** Passes bytes through again, and releases what was held first, in order. */
  heal(direction?: Direction): void;
  /**
   * Resets every connection at once, both of its sockets (the client sees ECONNRESET),
   * losing what they had in transit. The modes stay: a client's new connection passes
   * unless the test holds, drops or delays; `reset()` then `heal()` is a partition that
   * ends in resets.
   */
  reset(): void;
  /** The next chunk received in `direction` that `match` accepts, whatever the mode then does with it. */
  next(direction: Direction, match?: (chunk: Received) => boolean): Promise<Received>;
  readonly connections: readonly Connection[];
};

/** When a chunk arriving now is due: never, while held. */
function dueFor(mode: Mode): number {
  if (mode === 'hold') return Number.POSITIVE_INFINITY;
  return performance.now() + (typeof mode === 'object' ? mode.delay : 0);
}

/** One direction of one connection: what one socket sends, written to `to` in order. */
class Pipe {
  /** Not delivered yet, each with the moment it is due; `null` is the sender's FIN, which keeps its place. */
  readonly #queue: { data: Buffer | null; due: number }[] = [];
  readonly #to: Socket;
  #timer: NodeJS.Timeout | undefined;

  constructor(to: Socket) {
    this.#to = to;
  }

  push(data: Buffer | null, mode: Mode): void {
    if (mode === 'drop') return;
    this.#queue.push({ data, due: dueFor(mode) });
    this.#pump();
  }

  /** A new mode for what is still in transit: a hold catches it, a drop loses it, a heal releases what was held. */
  apply(mode: Mode): void {
    if (mode === 'drop') this.#queue.length = 0;
    for (const chunk of this.#queue) {
      if (mode === 'hold') chunk.due = Number.POSITIVE_INFINITY;
      else if (chunk.due === Number.POSITIVE_INFINITY) chunk.due = dueFor(mode);
    }
    this.#pump();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }

  /** Delivers what is due, head first: a chunk due sooner never overtakes one ahead of it. */
  #pump(): void {
    clearTimeout(this.#timer);
    const now = performance.now();
    for (let head = this.#queue[0]; head && head.due <= now; head = this.#queue[0]) {
      this.#queue.shift();
      if (this.#to.destroyed) continue;
      if (head.data === null) this.#to.end();
      else this.#to.write(head.data);
    }
    const next = this.#queue[0];
    if (next && next.due !== Number.POSITIVE_INFINITY) this.#timer = setTimeout(() => this.#pump(), next.due - now);
  }
}

type Link = Connection & { readonly pipes: Record<Direction, Pipe> };
type Watch = { direction: Direction; match: (chunk: Received) => boolean; resolve: (chunk: Received) => void };

const proxies = new Set<PartitionProxy>();

/** Closes every proxy this process still has open. */
export async function closeProxies(): Promise<void> {
  await Promise.all([...proxies].map((proxy) => proxy.close()));
}

/** A proxy on a free loopback port in front of the Redis on `target`, passing bytes until told otherwise. */
export async function startProxy(target: number): Promise<PartitionProxy> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new PartitionProxy(server, target);
}

export class PartitionProxy implements Partition {
  readonly port: number;
  /** Bytes received in each direction since the start, whatever became of them. */
  readonly received: Record<Direction, number> = { up: 0, down: 0 };
  readonly #target: number;
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #modes: Record<Direction, Mode> = { up: 'pass', down: 'pass' };
  readonly #watches = new Set<Watch>();
  /** Every socket of every connection until it closes, whatever became of its link: close() ends them all. */
  readonly #sockets = new Set<Socket>();
  #closing = false;

  /** @internal startProxy() makes it, once its server listens. */
  constructor(server: Server, target: number) {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    this.port = address.port;
    this.#target = target;
    this.#server = server;
    server.on('connection', (client) => this.#accept(client));
    proxies.add(this);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get connections(): readonly Connection[] {
    return [...this.#links];
  }

  hold(direction?: Direction): void {
    this.#set('hold', direction);
  }

  drop(direction?: Direction): void {
    this.#set('drop', direction);
  }

  delay(ms: number, direction?: Direction): void {
    this.#set({ delay: ms }, direction);
  }

  heal(direction?: Direction): void {
    this.#set('pass', direction);
  }

  reset(): void {
    for (const link of this.#links) this.#cut(link);
  }

  next(direction: Direction, match: (chunk: Received) => boolean = () => true): Promise<Received> {
    return new Promise((resolve) => this.#watches.add({ direction, match, resolve }));
  }

  async close(): Promise<void> {
    proxies.delete(this);
    // A client reconnecting right now may still be accepted: it is turned away (#accept).
    this.#closing = true;
    this.reset();
    // A socket still connecting, or half closed with its FIN held, would keep the server's
    // close() waiting (and the test process alive): each goes now.
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await new Promise((resolve) => this.#server.close(resolve));
  }

  #set(mode: Mode, direction?: Direction): void {
    for (const d of direction ? [direction] : both) {
      this.#modes[d] = mode;
      for (const link of this.#links) link.pipes[d].apply(mode);
    }
  }

  #accept(client: Socket): void {
    if (this.#closing) {
      client.destroy();
      return;
    }
    // Half-open allowed on both sides: a FIN travels like data, held or delayed with it.
    const server = dial({ host: '127.0.0.1', port: this.#target, allowHalfOpen: true });
    for (const socket of [client, server]) {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    }
    const link: Link = { client, server, pipes: { up: new Pipe(server), down: new Pipe(client) } };
    this.#links.add(link);
    const flow = (from: Socket, direction: Direction) => {
      from.on('data', (data: Buffer) => this.#receive(link, direction, data));
      from.on('end', () => link.pipes[direction].push(null, this.#modes[direction]));
      // The 'close' that follows says what matters.
      from.on('error', () => {});
      from.on('close', (hadError) => {
        // A reset (or Redis gone) on one side is a reset on the other too.
        if (hadError) this.#cut(link);
        else if (client.destroyed && server.destroyed) this.#links.delete(link);
      });
    };
    flow(client, 'up');
    flow(server, 'down');
  }

  #receive(link: Link, direction: Direction, data: Buffer): void {
    this.received[direction] += data.length;
    const chunk = { data, connection: link };
    for (const watch of this.#watches) {
      if (watch.direction !== direction || !watch.match(chunk)) continue;
      this.#watches.delete(watch);
      watch.resolve(chunk);
    }
    link.pipes[direction].push(data, this.#modes[direction]);
  }

  #cut(link: Link): void {
    this.#links.delete(link);
    for (const d of both) link.pipes[d].stop();
    for (const socket of [link.client, link.server]) {
      if (socket.destroyed) continue;
      // A reset racing the shutdown that end() began leaves Node's handle referenced at
      // process teardown, where the process then spins for ever (libp2p hit the same: its
      // PR #3597): a socket already ended is destroyed plainly.
      if (socket.writableEnded) socket.destroy();
      else socket.resetAndDestroy();
    }
  }
}

/** Several proxies acting as one: a client partitioned from every node of a cluster. */
export function together(members: readonly PartitionProxy[]): Partition {
  const each = (act: (p: PartitionProxy) => void) => {
    for (const p of members) act(p);
  };
  return {
    hold: (direction) => each((p) => p.hold(direction)),
    drop: (direction) => each((p) => p.drop(direction)),
    delay: (ms, direction) => each((p) => p.delay(ms, direction)),
    heal: (direction) => each((p) => p.heal(direction)),
    reset: () => each((p) => p.reset()),
    // The watches left on the other proxies resolve later, unheard, or are dropped with them.
    next: (direction, match) => Promise.race(members.map((p) => p.next(direction, match))),
    get connections() {
      return members.flatMap((p) => p.connections);
    },
  };
}
