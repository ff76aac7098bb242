import type { Cluster, Redis } from 'ioredis';
import { closedError, isCluster } from './client.js';
import { LayoutVersionError } from './errors.js';
import type { Keyspace } from './keys.js';
import { files, type ScriptName, sources } from './lua.js';
import { labelOf } from './tokens.js';

/** Either ioredis client: every script call goes through the user's connection. */
export type Client = Redis | Cluster;

export { isCluster };

/**
 * Bumped whenever a script's behaviour changes, so two versions of this library on
 * one Redis (mid-deploy) never run each other's scripts under one command name.
 */
const version = 6;
type Raw = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A variant of the scripts under other command names, with their Lua rewritten: the
 * seam model-based tests use to put the scripts on a clock they can move. The
 * library itself always uses the scripts as they are.
 */
export type ScriptVariant = { readonly name: string; readonly rewrite: (lua: string) => string };

const original: ScriptVariant = { name: '', rewrite: (lua) => lua };
const registered = new WeakMap<Client, Set<string>>();
const names = Object.keys(files) as ScriptName[];

/** The Lua of every script as sent to Redis, includes inlined (see lua.ts). */
export const scriptSources = sources;

/**
 * Registers the scripts on a client once. ioredis then sends EVALSHA, falls back to
 * EVAL on NOSCRIPT (after SCRIPT FLUSH or a restart), per connection and cluster node.
 */
function bind(client: Client, variant: ScriptVariant, key: string): Record<ScriptName, Raw> {
  let defined = registered.get(client);
  if (!defined) registered.set(client, (defined = new Set()));
  if (!defined.has(variant.name)) {
    const lua = scriptSources();
    for (const name of names) {
      const numberOfKeys = Number(/-(\d+)\.lua$/.exec(files[name])?.[1]);
      client.defineCommand(commandName(name, variant), { lua: variant.rewrite(lua[name]), numberOfKeys });
    }
    defined.add(variant.name);
  }
  const commands = client as unknown as Record<string, Raw>;
  const call =
    (name: ScriptName): Raw =>
    (...args) =>
      (commands[commandName(name, variant)] as Raw).call(client, ...args).catch((error: unknown) => {
        throw closedError(client, key, error);
      });
  return Object.fromEntries(names.map((name) => [name, call(name)])) as Record<ScriptName, Raw>;
}

function commandName(name: ScriptName, variant: ScriptVariant): string {
  return `rfs${version}${variant.name}_${name}`;
}

function unexpected(what: string, value: unknown): TypeError {
  return new TypeError(`Unexpected reply from the ${what} script: ${JSON.stringify(value)}`);
}

/**
 * Integers, whether Redis sent them as integer replies (read as strings under the
 * client's `stringNumbers`) or, like fencing tokens, as digits.
 */
function int(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw unexpected(what, value);
  return n;
}

/** `{ label }` when the token carries one, else nothing: JSON (the CLI's --json) shows the same. */
function labelled(token: string): { label?: string } {
  const label = labelOf(token);
  return label === undefined ? {} : { label };
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw unexpected(what, value);
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw unexpected(what, value);
}

/** Set when a holder asked for other permits than the caller: every user of a key should pass the same. */
type OtherPermits = { readonly otherPermits?: number };

export type AcquireReply =
  | ({ readonly kind: 'granted'; readonly fence: number } & OtherPermits)
  | ({
      readonly kind: 'queued';
      /** 0 is the front; -1 when a re-check found the ticket far from it. */
      readonly position: number;
      readonly nextExpiryIn: number;
      /** Any grant message with a fencing token up to this one predates the call. */
      readonly lastFence: number;
    } & OtherPermits)
  | { readonly kind: 'busy' }
  | { readonly kind: 'full' };

/** A heartbeat may also find its ticket gone (evicted while this process stalled). */
export type HeartbeatReply = AcquireReply | { readonly kind: 'gone' };

export type ReleaseReply = 'released' | 'dequeued' | 'unknown';

export type HolderInfo = {
  readonly token: string;
  /** The acquisition's `label`, if it had one (absent otherwise). */
  readonly label?: string;
  readonly weight: number;
  readonly fencingToken: number;
  /** Milliseconds until the lease expires unless refreshed (server clock). */
  readonly expiresIn: number;
  /** Milliseconds since the grant (server clock, read from the fencing token). */
  readonly heldFor: number;
};

export type WaiterInfo = {
  readonly token: string;
  /** The acquisition's `label`, if it had one (absent otherwise). */
  readonly label?: string;
  readonly weight: number;
  /** Milliseconds until the waiter is dropped unless it heartbeats (server clock). */
  readonly expiresIn: number;
};

export type StatusReply = {
  /** Total weight held now. */
  readonly held: number;
  /** How many tickets wait in the queue. */
  readonly waiting: number;
  /** The last fencing token granted on this key, 0 if none yet. */
  readonly lastFencingToken: number;
  /** Permits as the newest holder asked (else the front waiter); undefined when idle. */
  readonly permits: number | undefined;
  readonly holders: readonly HolderInfo[];
  /** The first `limit` waiters, front first. */
  readonly waiters: readonly WaiterInfo[];
};

/** Typed calls of the scripts in scripts/, for one semaphore. The only place replies are decoded. */
export class Scripts {
  readonly #raw: Record<ScriptName, Raw>;
  readonly #keys: readonly string[];
  readonly #key: string;
  /** Sharded pub/sub (`s`) in a cluster keeps each wake-up inside the key's shard. */
  readonly #publish: 'p' | 's';

  constructor(client: Client, space: Keyspace, key: string, variant: ScriptVariant = original) {
    this.#raw = bind(client, variant, key);
    this.#keys = space.keys;
    this.#key = key;
    this.#publish = isCluster(client) ? 's' : 'p';
  }

  async acquire(a: {
    /** From tokens.ts: names the caller's inbox, the weight and the permits. */
    token: string;
    ttl: number;
    wait: boolean;
    /** Infinity for no cap. */
    maxWaiters: number;
  }): Promise<AcquireReply> {
    const flags = `${a.wait ? 'q' : 't'}${this.#publish}${Number.isFinite(a.maxWaiters) ? a.maxWaiters : 0}`;
    const reply = await this.#raw.acquire(...this.#keys, a.token, a.ttl, flags);
    const decoded = this.#waitReply(reply, 'acquire');
    if (decoded.kind === 'gone') throw unexpected('acquire', reply);
    return decoded;
  }

  heartbeat(token: string, ttl: number): Promise<HeartbeatReply> {
    return this.#raw
      .heartbeat(...this.#keys, token, ttl, this.#publish)
      .then((reply) => this.#waitReply(reply, 'heartbeat'));
  }

  /** `fence` undefined: a waiter gives up its place (or the grant that raced it). */
  async release(token: string, fence: number | undefined): Promise<ReleaseReply> {
    const ticket = fence === undefined ? token : `${token}|${fence}`;
    const reply = await this.#raw.release(...this.#keys, ticket, this.#publish);
    const code = int(reply, 'release');
    if (code === 1) return 'released';
    if (code === 0) return 'dequeued';
    if (code === -1) return 'unknown';
    throw unexpected('release', reply);
  }

  /**
   * Makes the lease expire no sooner than `ms` from now (server clock; 0 only reads).
   * Resolves with the ms it has left, or undefined once it is gone (or expired).
   */
  async refresh(token: string, fence: number, ms: number): Promise<number | undefined> {
    const reply = await this.#raw.refresh(...this.#keys, `${token}|${fence}`, ms, this.#publish);
    const left = int(reply, 'refresh');
    if (left === -1) return undefined;
    if (left < 1) throw unexpected('refresh', reply);
    return left;
  }

  async status(limit: number): Promise<StatusReply> {
    const reply = await this.#raw.status(...this.#keys, limit, this.#publish);
    if (!Array.isArray(reply) && int(reply, 'status') === -4) throw new LayoutVersionError(this.#key);
    const r = array(reply, 'status');
    const n = (i: number) => int(r[i], 'status');
    const holderCount = n(4);
    const waiterCount = n(5);
    const holders: HolderInfo[] = [];
    let i = 6;
    for (let h = 0; h < holderCount; h++, i += 5) {
      const token = str(r[i], 'status');
      holders.push({
        token,
        ...labelled(token),
        weight: n(i + 1),
        fencingToken: n(i + 2),
        expiresIn: n(i + 3),
        heldFor: n(i + 4),
      });
    }
    const waiters: WaiterInfo[] = [];
    for (let w = 0; w < waiterCount; w++, i += 3) {
      const token = str(r[i], 'status');
      waiters.push({ token, ...labelled(token), weight: n(i + 1), expiresIn: n(i + 2) });
    }
    const permits = n(3);
    return {
      held: n(0),
      waiting: n(1),
      lastFencingToken: n(2),
      permits: permits > 0 ? permits : undefined,
      holders,
      waiters,
    };
  }

  /**
   * Replies of acquire-4.lua and heartbeat-4.lua: the fencing token's digits when
   * granted, an array when queued, a negative code otherwise.
   */
  #waitReply(value: unknown, what: string): HeartbeatReply {
    if (Array.isArray(value)) {
      const queued = {
        kind: 'queued',
        position: int(value[0], what),
        nextExpiryIn: int(value[1], what),
        lastFence: int(value[2], what),
      } as const;
      const other = int(value[3], what);
      return other > 0 ? { ...queued, otherPermits: other } : queued;
    }
    // A grant: '<fence>', or '<fence>:<permits others asked for>'.
    if (typeof value === 'string' && value.includes(':')) {
      const [fence, other] = value.split(':');
      return { kind: 'granted', fence: int(fence, what), otherPermits: int(other, what) };
    }
    const code = int(value, what);
    if (code > 0) return { kind: 'granted', fence: code };
    if (code === -1) return { kind: 'busy' };
    if (code === -2) return { kind: 'full' };
    if (code === -3) return { kind: 'gone' };
    if (code === -4) throw new LayoutVersionError(this.#key);
    throw unexpected(what, value);
  }
}
