/**
 * node-redis clients for the tests, of each installed major version: v5 as `redis`,
 * v4 as `redis4`. Closed when the test file ends; admin commands stay on ioredis.
 */
import test from 'ava';
import * as v5 from 'redis';
import * as v4 from 'redis4';

type Closable = { readonly isOpen: boolean; disconnect(): Promise<unknown>; on(event: 'error', listener: () => void): unknown };

export type NodeRedis = {
  readonly name: string;
  /** A connected client on `url`. */
  connect(url: string): Promise<v5.RedisClientType | v4.RedisClientType>;
  /** A connected cluster client from `rootNodes`. */
  connectCluster(rootNodes: readonly { host: string; port: number }[]): Promise<Closable & object>;
};

const open = new Set<Closable>();
test.after.always('close node-redis clients', async () => {
  for (const client of open) if (client.isOpen) await client.disconnect().catch(() => {});
});

async function connected<C extends Closable & { connect(): Promise<unknown> }>(client: C): Promise<C> {
  // Tests that kill connections see errors; they observe them through commands.
  client.on('error', () => {});
  open.add(client);
  await client.connect();
  return client;
}

const url = (node: { host: string; port: number }) => ({ url: `redis://${node.host}:${node.port}` });

/**
 * The version RFS_CLIENT names (`node-redis`: v5, `node-redis4`), or undefined for
 * ioredis (unset, or `ioredis`). .ci/run runs part of the suite so.
 */
export function fromEnv(): NodeRedis | undefined {
  const which = process.env['RFS_CLIENT'];
  if (which === undefined || which === 'ioredis') return undefined;
  const v = { 'node-redis': nodeRedis[0], 'node-redis4': nodeRedis[1] }[which];
  if (!v) throw new Error(`RFS_CLIENT=${which}: expected ioredis, node-redis or node-redis4`);
  return v;
}

export const nodeRedis: readonly NodeRedis[] = [
  {
    name: 'node-redis v5',
    connect: (u) => connected(v5.createClient({ url: u }) as v5.RedisClientType),
    connectCluster: (nodes) => connected(v5.createCluster({ rootNodes: nodes.map(url) })),
  },
  {
    name: 'node-redis v4',
    connect: (u) => connected(v4.createClient({ url: u }) as v4.RedisClientType),
    connectCluster: (nodes) => connected(v4.createCluster({ rootNodes: nodes.map(url) })),
  },
];
