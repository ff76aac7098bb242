/**
 * The clients the library takes, and the one adapter each gets: the only module that
 * knows which client is which. Everything else holds an `Adapter`.
 */
import type { Adapter } from './adapter.js';
import { type IoredisClient, ioredisAdapter, isIoredis } from './ioredis.js';
import { isNodeRedis, type NodeRedisClient, nodeRedisAdapter } from './node-redis.js';

/** An ioredis `Redis` or `Cluster`, or a node-redis client, cluster or sentinel: every script call goes through it. */
export type Client = IoredisClient | NodeRedisClient;

/** Duck-typed, so a second copy of either package in node_modules still counts. */
export function requireClient(client: unknown): Client {
  if (typeof client !== 'object' || client === null || !(isIoredis(client) || isNodeRedis(client))) {
    throw new TypeError(
      'Expected `redis` to be an ioredis Redis or Cluster client, or a node-redis (`redis` package) client from ' +
        `createClient(), createCluster() or createSentinel(), got ${client === null ? 'null' : typeof client}`,
    );
  }
  return client;
}

const adapters = new WeakMap<Client, Adapter>();

/** One adapter per client, shared by every semaphore on it. */
export function adapterFor(client: Client): Adapter {
  let adapter = adapters.get(client);
  if (!adapter) {
    adapter = isIoredis(client) ? ioredisAdapter(client) : nodeRedisAdapter(client);
    adapters.set(client, adapter);
  }
  return adapter;
}
