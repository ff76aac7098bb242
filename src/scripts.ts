import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/** Either ioredis client: every script call goes through the user's connection. */
export type Client = Redis | Cluster;

export function isCluster(client: Client): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Bumped whenever a script's behaviour changes, so two versions of this library on
 * one Redis (mid-deploy) never run each other's scripts under one command name.
 */
const version = 4;
const scriptsDir = new URL('../scripts/', import.meta.url);

/** Reads `scripts/<file>` and inlines each `--@include name` from scripts/includes/. */
function loadLua(file: string): string {
  const text = readFileSync(new URL(file, scriptsDir), 'utf8');
  return text.replace(/^--@include (\w+)$/gm, (_line, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, scriptsDir), 'utf8'),
  );
}

const files = {
  acquire: 'acquire-5.lua',
  release: 'release-5.lua',
  refresh: 'refresh-5.lua',
  status: 'status-5.lua',
} as const;

type ScriptName = keyof typeof files;
type Raw = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A variant of the scripts under other command names, with their Lua rewritten: the
 * seam model-based tests use to put the scripts on a clock they can move. The
 * library itself always uses the scripts as they are.
 */
export type ScriptVariant = { readonly name: string; readonly rewrite: (lua: string) => string };

const original: ScriptVariant = { name: '', rewrite: (lua) => lua };
let sources: Record<ScriptName, string> | undefined;
const registered = new WeakMap<Client, Set<string>>();

/**
 * Registers the scripts on a client once. ioredis then sends EVALSHA, falls back to
 * EVAL on NOSCRIPT (after SCRIPT FLUSH or a restart), per connection and cluster node.
 */
function bind(client: Client, variant: ScriptVariant): Record<ScriptName, Raw> {
  let names = registered.get(client);
  if (!names) registered.set(client, (names = new Set()));
  if (!names.has(variant.name)) {
    sources ??= {
      acquire: loadLua(files.acquire),
      release: loadLua(files.release),
      refresh: loadLua(files.refresh),
      status: loadLua(files.status),
    };
    for (const name of Object.keys(files) as ScriptName[]) {
      const numberOfKeys = Number(/-(\d+)\.lua$/.exec(files[name])?.[1]);
      client.defineCommand(commandName(name, variant), { lua: variant.rewrite(sources[name]), numberOfKeys });
    }
    names.add(variant.name);
  }
  const commands = client as unknown as Record<string, Raw>;
  const call =
    (name: ScriptName): Raw =>
    (...args) =>
      (commands[commandName(name, variant)] as Raw).call(client, ...args);
  return { acquire: call('acquire'), release: call('release'), refresh: call('refresh'), status: call('status') };
}

function commandName(name: ScriptName, variant: ScriptVariant): string {
  return `rfs${version}${variant.name}_${name}`;
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`Unexpected reply from the ${what} script: ${JSON.stringify(value)}`);
  }
  return value;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`Unexpected reply from the ${what} script: ${JSON.stringify(value)}`);
  }
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new TypeError(`Unexpected reply from the ${what} script: ${JSON.stringify(value)}`);
}

export type AcquireReply =
  | { readonly kind: 'granted'; readonly fence: number }
  | {
      readonly kind: 'queued';
      readonly position: number;
      readonly nextExpiryIn: number;
      /** Any grant message with a fencing token up to this one predates the call. */
      readonly lastFence: number;
    }
  | { readonly kind: 'busy' }
  | { readonly kind: 'full'; readonly waiting: number };

export type ReleaseReply = 'released' | 'dequeued' | 'unknown';

export type HolderInfo = {
  readonly token: string;
  readonly weight: number;
  readonly fencingToken: number;
  /** Milliseconds until the lease expires unless refreshed (server clock). */
  readonly expiresIn: number;
  /** Milliseconds since the grant (server clock). */
  readonly heldFor: number;
};

export type WaiterInfo = {
  readonly token: string;
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
  readonly holders: readonly HolderInfo[];
  /** The first `limit` waiters, head first. */
  readonly waiters: readonly WaiterInfo[];
};

/** Typed calls of the scripts in scripts/, for one semaphore. The only place replies are decoded. */
export class Scripts {
  readonly #raw: Record<ScriptName, Raw>;
  readonly #space: Keyspace;
  /** Sharded pub/sub in a cluster keeps each wake-up inside the key's shard. */
  readonly #publish: 'PUBLISH' | 'SPUBLISH';

  constructor(client: Client, space: Keyspace, variant: ScriptVariant = original) {
    this.#raw = bind(client, variant);
    this.#space = space;
    this.#publish = isCluster(client) ? 'SPUBLISH' : 'PUBLISH';
  }

  async acquire(a: {
    token: string;
    weight: number;
    permits: number;
    ttl: number;
    wait: boolean;
    inbox: string;
    /** Infinity for no cap. */
    maxWaiters: number;
  }): Promise<AcquireReply> {
    const reply = array(
      await this.#raw.acquire(
        ...this.#space.keys,
        a.token,
        a.weight,
        a.permits,
        a.ttl,
        a.wait ? 1 : 0,
        a.inbox,
        this.#space.channelPrefix,
        this.#publish,
        Number.isFinite(a.maxWaiters) ? a.maxWaiters : 0,
      ),
      'acquire',
    );
    const code = int(reply[0], 'acquire');
    if (code === 1) return { kind: 'granted', fence: int(reply[1], 'acquire') };
    if (code === 0) {
      return {
        kind: 'queued',
        position: int(reply[1], 'acquire'),
        nextExpiryIn: int(reply[2], 'acquire'),
        lastFence: int(reply[3], 'acquire'),
      };
    }
    if (code === -1) return { kind: 'busy' };
    if (code === -2) return { kind: 'full', waiting: int(reply[1], 'acquire') };
    throw new TypeError(`Unexpected reply from the acquire script: ${JSON.stringify(reply)}`);
  }

  async release(token: string, permits: number): Promise<ReleaseReply> {
    const code = int(
      await this.#raw.release(...this.#space.keys, token, permits, this.#space.channelPrefix, this.#publish),
      'release',
    );
    if (code === 1) return 'released';
    if (code === 0) return 'dequeued';
    if (code === -1) return 'unknown';
    throw new TypeError(`Unexpected reply from the release script: ${code}`);
  }

  /** True while the lease is held; false once it is gone. */
  async refresh(token: string, ttl: number, permits: number): Promise<boolean> {
    const code = int(
      await this.#raw.refresh(...this.#space.keys, token, ttl, permits, this.#space.channelPrefix, this.#publish),
      'refresh',
    );
    return code === 1;
  }

  async status(permits: number, limit: number): Promise<StatusReply> {
    const r = array(
      await this.#raw.status(...this.#space.keys, permits, this.#space.channelPrefix, limit, this.#publish),
      'status',
    );
    const n = (i: number) => int(r[i], 'status');
    const holderCount = n(3);
    const waiterCount = n(4);
    const holders: HolderInfo[] = [];
    let i = 5;
    for (let h = 0; h < holderCount; h++, i += 5) {
      holders.push({
        token: str(r[i], 'status'),
        weight: n(i + 1),
        fencingToken: n(i + 2),
        expiresIn: n(i + 3),
        heldFor: n(i + 4),
      });
    }
    const waiters: WaiterInfo[] = [];
    for (let w = 0; w < waiterCount; w++, i += 3) {
      waiters.push({ token: str(r[i], 'status'), weight: n(i + 1), expiresIn: n(i + 2) });
    }
    return { held: n(0), waiting: n(1), lastFencingToken: n(2), holders, waiters };
  }
}
