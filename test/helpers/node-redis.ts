/**
 * node-redis clients for AVA tests, of each installed major version (see
 * node-redis-versions.ts). Closed when the test file ends; admin commands stay on ioredis.
 */
import test from 'ava';
import type { RedisClient } from '../../src/index.js';
import {
  type NodeRedisConnection,
  type NodeRedisVersion,
  shut,
  versionFromEnv,
  versions,
} from './node-redis-versions.js';

type Node = { host: string; port: number };

export type NodeRedis = {
  readonly name: string;
  readonly version: NodeRedisVersion;
  /** A connected client on `url`, with more of the version's client options if given. */
  connect(url: string, options?: object): Promise<RedisClient & NodeRedisConnection>;
  /** A connected cluster client from `rootNodes`, with more of the version's cluster options if given. */
  connectCluster(rootNodes: readonly Node[], options?: object): Promise<RedisClient & NodeRedisConnection>;
  /** A connected sentinel client (v5 and later), finding master `name` through `sentinels`. */
  readonly connectSentinel?: (name: string, sentinels: readonly Node[]) => Promise<RedisClient & NodeRedisConnection>;
};

const open = new Set<NodeRedisConnection>();
test.after.always('close node-redis clients', async () => {
  // Whether open or not: one still reconnecting (its server gone) keeps the process alive.
  for (const client of open) await shut(client);
});

async function connected(client: NodeRedisConnection): Promise<RedisClient & NodeRedisConnection> {
  // Tests that kill connections see errors; they observe them through commands.
  client.on('error', () => {});
  open.add(client);
  await client.connect();
  return client as unknown as RedisClient & NodeRedisConnection;
}

function wrap(v: NodeRedisVersion): NodeRedis {
  return {
    name: v.name,
    version: v,
    connect: async (u, options) => connected(await v.createClient(u, options)),
    connectCluster: async (nodes, options) => connected(await v.createCluster(nodes, options)),
    ...(v.hasSentinel && {
      connectSentinel: async (name: string, nodes: readonly Node[]) => connected(await v.createSentinel(name, nodes)),
    }),
  };
}

/** v6, v5, v4, in that order. */
export const nodeRedis: readonly NodeRedis[] = versions.map(wrap);

/** The version RFS_CLIENT names, or undefined for ioredis. .ci/run runs the suite so. */
export function fromEnv(): NodeRedis | undefined {
  const v = versionFromEnv();
  return v && nodeRedis.find((n) => n.version === v);
}
