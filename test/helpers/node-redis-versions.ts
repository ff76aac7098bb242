/**
 * The node-redis versions the tests run on, installed side by side: v6 as `redis` (what
 * `npm install redis` gives today), v5 as `redis5`, v4 as `redis4`. RFS_CLIENT names one
 * (`node-redis`, `node-redis5`, `node-redis4`) to give the library that client instead
 * of ioredis. No AVA here: contender processes (child.ts) use it too. Each package is
 * imported on first use only: loading all three cost every test process and every
 * contender most of a second, which ioredis runs never needed.
 */

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

/** The part of a node-redis package the tests call; each version's own types differ too much to share. */
type Package = {
  createClient(options: object): NodeRedisConnection;
  createCluster(options: object): NodeRedisConnection;
  createSentinel?(options: object): NodeRedisConnection;
};

export type NodeRedisVersion = {
  /** As RFS_CLIENT names it. */
  readonly env: 'node-redis' | 'node-redis5' | 'node-redis4';
  readonly name: string;
  /** A sentinel client exists in this version (v5 and later). */
  readonly hasSentinel: boolean;
  /** `options`: more of the version's own client options (v5 and later: RESP, commandOptions, ...). */
  createClient(url: string, options?: object): Promise<NodeRedisConnection>;
  /** `options`: more of the version's cluster options (`nodeAddressMap`, ...). */
  createCluster(rootNodes: readonly Node[], options?: object): Promise<NodeRedisConnection>;
  /** Refused (rejects) where the version has none. */
  createSentinel(name: string, sentinels: readonly Node[]): Promise<NodeRedisConnection>;
};

const url = (node: Node) => ({ url: `redis://${node.host}:${node.port}` });
const roots = (nodes: readonly Node[]) => nodes.map((n) => ({ host: n.host, port: n.port }));

function version(
  env: NodeRedisVersion['env'],
  name: string,
  load: () => Promise<unknown>,
  hasSentinel: boolean,
): NodeRedisVersion {
  let loaded: Promise<Package> | undefined;
  const pkg = () => (loaded ??= load() as Promise<Package>);
  return {
    env,
    name,
    hasSentinel,
    createClient: async (u, options) => (await pkg()).createClient({ url: u, ...options }),
    createCluster: async (nodes, options) => (await pkg()).createCluster({ rootNodes: nodes.map(url), ...options }),
    async createSentinel(sentinelName, sentinels) {
      const create = (await pkg()).createSentinel;
      if (!create) throw new Error(`${name} has no sentinel client`);
      return create({ name: sentinelName, sentinelRootNodes: roots(sentinels) });
    },
  };
}

export const versions: readonly NodeRedisVersion[] = [
  version('node-redis', 'node-redis v6', () => import('redis'), true),
  version('node-redis5', 'node-redis v5', () => import('redis5'), true),
  version('node-redis4', 'node-redis v4', () => import('redis4'), false),
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
  const client = await v.createClient(u);
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
