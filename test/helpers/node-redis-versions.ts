/**
 * The node-redis versions the tests run on, installed side by side: v6 as `redis` (what
 * `npm install redis` gives today), v5 as `redis5`, v4 as `redis4`. RFS_CLIENT names one
 * (`node-redis`, `node-redis5`, `node-redis4`) to give the library that client instead
 * of ioredis. No AVA here: contender processes (child.ts) use it too.
 */
import * as v6 from 'redis';
import * as v5 from 'redis5';
import * as v4 from 'redis4';

type Node = { host: string; port: number };

/** What the tests use of a node-redis client or cluster, whichever version made it. */
export type NodeRedisConnection = {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  /** v5 and later; v4 has disconnect() only. */
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
};

export type NodeRedisVersion = {
  /** As RFS_CLIENT names it. */
  readonly env: 'node-redis' | 'node-redis5' | 'node-redis4';
  readonly name: string;
  /** `options`: more of the version's own client options (v5 and later: RESP, commandOptions, ...). */
  createClient(url: string, options?: object): NodeRedisConnection;
  createCluster(rootNodes: readonly Node[]): NodeRedisConnection;
  /** A sentinel client (v5 and later); v4 has none. */
  readonly createSentinel?: (name: string, sentinels: readonly Node[]) => NodeRedisConnection;
};

const url = (node: Node) => ({ url: `redis://${node.host}:${node.port}` });
const roots = (nodes: readonly Node[]) => nodes.map((n) => ({ host: n.host, port: n.port }));

export const versions: readonly NodeRedisVersion[] = [
  {
    env: 'node-redis',
    name: 'node-redis v6',
    createClient: (u, options) => v6.createClient({ url: u, ...options }),
    createCluster: (nodes) => v6.createCluster({ rootNodes: nodes.map(url) }),
    createSentinel: (name, sentinels) => v6.createSentinel({ name, sentinelRootNodes: roots(sentinels) }),
  },
  {
    env: 'node-redis5',
    name: 'node-redis v5',
    createClient: (u, options) => v5.createClient({ url: u, ...options }),
    createCluster: (nodes) => v5.createCluster({ rootNodes: nodes.map(url) }),
    createSentinel: (name, sentinels) => v5.createSentinel({ name, sentinelRootNodes: roots(sentinels) }),
  },
  {
    env: 'node-redis4',
    name: 'node-redis v4',
    createClient: (u, options) => v4.createClient({ url: u, ...options }),
    createCluster: (nodes) => v4.createCluster({ rootNodes: nodes.map(url) }),
  },
];

/** The version RFS_CLIENT names, or undefined for ioredis (unset, or `ioredis`). */
export function versionFromEnv(): NodeRedisVersion | undefined {
  const which = process.env['RFS_CLIENT'];
  if (which === undefined || which === '' || which === 'ioredis') return undefined;
  const v = versions.find((candidate) => candidate.env === which);
  if (!v) throw new Error(`RFS_CLIENT=${which}: expected ioredis, ${versions.map((c) => c.env).join(', ')}`);
  return v;
}

/** A connected client of `v` on `u`; errors are left to the commands that meet them. */
export async function connectVersion(v: NodeRedisVersion, u: string): Promise<NodeRedisConnection> {
  const client = v.createClient(u);
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Closes `client` at once, whichever version it is; an error (closed already) is of no interest. */
export async function shut(client: NodeRedisConnection): Promise<void> {
  try {
    if (client.destroy) await client.destroy();
    else await client.disconnect?.();
  } catch {
    // Closed already.
  }
}
