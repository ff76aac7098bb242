import { type Adapter, isNoScript, type Script, type ScriptArgs } from './adapters/adapter.js';
import { adapterFor, type Client } from './adapters/index.js';
import { compiledScripts, type ScriptVariant, shipped } from './compiled-scripts.js';
import { ClientClosedError, LayoutVersionError } from './errors.js';
import type { Keyspace } from './keys.js';
import type { ScriptName } from './lua.js';
import { labelOf } from './tokens.js';

const loadedBy = new WeakMap<Adapter, Set<string>>();

function loadedOn(adapter: Adapter): Set<string> {
  let loaded = loadedBy.get(adapter);
  if (!loaded) {
    loaded = new Set();
    loadedBy.set(adapter, loaded);
  }
  return loaded;
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
  | { readonly kind: 'full' }
  /** The weight is more than the limit stored in Redis: it can never be granted. */
  | { readonly kind: 'tooHeavy'; readonly limit: number };

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
  /** The limit stored in Redis (`setPermits()`); undefined when the callers' permits decide. */
  readonly limit: number | undefined;
  readonly paused: boolean;
  readonly holders: readonly HolderInfo[];
  /** The first `limit` waiters, front first. */
  readonly waiters: readonly WaiterInfo[];
};

/** What the key's settings were before configure() changed them, and what the change served. */
export type ConfigureReply = {
  /** The stored limit before, undefined if none. */
  readonly previousLimit: number | undefined;
  readonly wasPaused: boolean;
  /** Waiters granted at once. */
  readonly granted: number;
  /** Waiters taken out of the line because their weight is more than the new limit. */
  readonly refused: number;
};

export type Configuration =
  | { readonly change: 'limit'; readonly limit: number | null }
  | { readonly change: 'pause' }
  | { readonly change: 'resume' };

export type AcquireArgs = {
  /** From tokens.ts: names the caller's inbox, the weight and the permits. */
  readonly token: string;
  readonly ttl: number;
  readonly wait: boolean;
  /** Infinity for no cap. */
  readonly maxWaiters: number;
};

/** Typed calls of the scripts in scripts/, for one semaphore. The only place replies are decoded. */
export class Scripts {
  readonly #adapter: Adapter;
  readonly #scripts: Record<ScriptName, Script>;
  readonly #keys: readonly string[];
  readonly #key: string;
  /** Sharded pub/sub (`s`) in a cluster keeps each wake-up inside the key's shard. */
  readonly #publish: 'p' | 's';
  /**
   * SHAs of the scripts already sent whole to the server that serves this key: one set
   * per client for a single server, per semaphore in a cluster (its key's node).
   */
  readonly #loaded: Set<string>;
  /** The acquire's flags for the last maxWaiters asked for: one semaphore always asks the same. */
  #flags = { maxWaiters: Number.NaN, wait: '', try: '' };

  constructor(client: Client, space: Keyspace, key: string, variant: ScriptVariant = shipped) {
    this.#adapter = adapterFor(client);
    const cluster = this.#adapter.topology === 'cluster';
    this.#loaded = cluster ? new Set() : loadedOn(this.#adapter);
    this.#scripts = compiledScripts(variant);
    this.#keys = space.keys;
    this.#key = key;
    this.#publish = cluster ? 's' : 'p';
  }

  acquire(a: AcquireArgs): Promise<AcquireReply> {
    return new Promise((ok, fail) => this.acquireThen(a, ok, fail));
  }

  /** As acquire(), handing the reply to `ok` (or the error to `fail`) in the step that reads it. */
  acquireThen(a: AcquireArgs, ok: (reply: AcquireReply) => void, fail: (error: unknown) => void): void {
    const flags = this.#acquireFlags(a.maxWaiters);
    this.#call('acquire', [a.wait ? flags.wait : flags.try, a.token, a.ttl], this.#acquireReply, ok, fail);
  }

  heartbeat(token: string, ttl: number): Promise<HeartbeatReply> {
    return new Promise((ok, fail) => this.heartbeatThen(token, ttl, ok, fail));
  }

  heartbeatThen(token: string, ttl: number, ok: (reply: HeartbeatReply) => void, fail: (error: unknown) => void): void {
    this.#call('heartbeat', [this.#publish, token, ttl], this.#heartbeatReply, ok, fail);
  }

  /** `fence` undefined: a waiter gives up its place (or the grant that raced it). */
  release(token: string, fence: number | undefined): Promise<ReleaseReply> {
    return new Promise((ok, fail) => this.releaseThen(token, fence, ok, fail));
  }

  releaseThen(
    token: string,
    fence: number | undefined,
    ok: (reply: ReleaseReply) => void,
    fail: (error: unknown) => void,
  ): void {
    const ticket = fence === undefined ? token : `${token}|${fence}`;
    this.#call('release', [this.#publish, ticket], releaseReply, ok, fail);
  }

  /**
   * Makes the lease expire no sooner than `ms` from now (server clock; 0 only reads).
   * Resolves with the ms it has left, or undefined once it is gone (or expired).
   */
  refresh(token: string, fence: number, ms: number): Promise<number | undefined> {
    return this.#run('refresh', [this.#publish, `${token}|${fence}`, ms], refreshReply);
  }

  /** Stores or removes the key's limit, or pauses or resumes it (configure-4.lua). */
  async configure(c: Configuration): Promise<ConfigureReply> {
    const argv: ScriptArgs =
      c.change === 'limit'
        ? c.limit === null
          ? [this.#publish, 'u', '']
          : [this.#publish, 'n', c.limit]
        : [this.#publish, c.change === 'pause' ? 'z' : 'r', ''];
    const reply = await this.#run('configure', argv, (r) => r);
    this.#refusal(reply, 'configure');
    const r = array(reply, 'configure');
    const limit = int(r[0], 'configure');
    return {
      previousLimit: limit > 0 ? limit : undefined,
      wasPaused: int(r[1], 'configure') === 1,
      granted: int(r[2], 'configure'),
      refused: int(r[3], 'configure'),
    };
  }

  async status(limit: number): Promise<StatusReply> {
    const reply = await this.#run('status', [this.#publish, limit], (r) => r);
    this.#refusal(reply, 'status');
    const r = array(reply, 'status');
    const n = (i: number) => int(r[i], 'status');
    const holderCount = n(4);
    const waiterCount = n(5);
    const holders: HolderInfo[] = [];
    let i = 8;
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
    const stored = n(6);
    return {
      held: n(0),
      waiting: n(1),
      lastFencingToken: n(2),
      permits: permits > 0 ? permits : undefined,
      limit: stored > 0 ? stored : undefined,
      paused: n(7) === 1,
      holders,
      waiters,
    };
  }

  /** The codes every script but refresh may answer with, before writing anything. */
  #refusal(reply: unknown, what: string): void {
    if (Array.isArray(reply)) return;
    const code = int(reply, what);
    if (code === -4) throw new LayoutVersionError(this.#key);
    if (code === -6) throw new LayoutVersionError(this.#key, 'newer');
  }

  #run<T>(name: ScriptName, argv: ScriptArgs, decode: (reply: unknown) => T): Promise<T> {
    return new Promise((ok, fail) => this.#call(name, argv, decode, ok, fail));
  }

  /**
   * One script call: the semaphore's keys, then `argv`. Its reply is decoded and handed
   * to `ok` in one step: each promise step is a hop through the microtask queue, which
   * a process woken from sleep pays several µs for. NOSCRIPT: sent once more, whole. A
   * call the client dropped because it was closed meanwhile fails with ClientClosedError.
   */
  #call<T>(
    name: ScriptName,
    argv: ScriptArgs,
    decode: (reply: unknown) => T,
    ok: (value: T) => void,
    fail: (error: unknown) => void,
  ): void {
    const script = this.#scripts[name];
    const read = (reply: unknown): void => {
      let value: T;
      try {
        value = decode(reply);
      } catch (error) {
        return fail(error);
      }
      ok(value);
    };
    // A command the client dropped because it was closed meanwhile fails as a call made after would.
    const failed = (error: unknown): void =>
      fail(
        this.#adapter.isDropped(error) && this.#adapter.closed()
          ? new ClientClosedError(this.#key, { cause: error })
          : error,
      );
    // The first call of a script goes whole (EVAL), and so loads it before anything sent
    // after it: a NOSCRIPT answered and resent would let later calls on the connection
    // (a release after a refresh) overtake it.
    if (!this.#loaded.has(script.sha)) {
      this.#loaded.add(script.sha);
      this.#adapter.eval(script, this.#keys, argv).then(read, failed);
      return;
    }
    this.#adapter.evalsha(script, this.#keys, argv).then(read, (error: unknown) => {
      if (!isNoScript(error)) return failed(error);
      // Lost by Redis (a restart, SCRIPT FLUSH): sent whole again; only a call sent in the
      // same round trip can overtake this one, as with any client's fallback.
      this.#adapter.eval(script, this.#keys, argv).then(read, failed);
    });
  }

  #acquireFlags(maxWaiters: number): { wait: string; try: string } {
    const f = this.#flags;
    if (f.maxWaiters !== maxWaiters) {
      const cap = Number.isFinite(maxWaiters) ? maxWaiters : 0;
      this.#flags = { maxWaiters, wait: `${this.#publish}q${cap}`, try: `${this.#publish}t${cap}` };
    }
    return this.#flags;
  }

  readonly #acquireReply = (reply: unknown): AcquireReply => {
    const decoded = this.#waitReply(reply, 'acquire');
    if (decoded.kind === 'gone') throw unexpected('acquire', reply);
    return decoded;
  };

  readonly #heartbeatReply = (reply: unknown): HeartbeatReply => this.#waitReply(reply, 'heartbeat');

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
    // Refused: '!<the stored limit>'.
    if (typeof value === 'string' && value.startsWith('!')) {
      return { kind: 'tooHeavy', limit: int(value.slice(1), what) };
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
    this.#refusal(code, what);
    throw unexpected(what, value);
  }
}

function releaseReply(reply: unknown): ReleaseReply {
  const code = int(reply, 'release');
  if (code === 1) return 'released';
  if (code === 0) return 'dequeued';
  if (code === -1) return 'unknown';
  throw unexpected('release', reply);
}

function refreshReply(reply: unknown): number | undefined {
  const left = int(reply, 'refresh');
  if (left === -1) return undefined;
  if (left < 1) throw unexpected('refresh', reply);
  return left;
}
