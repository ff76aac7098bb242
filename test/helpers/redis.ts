/**
 * Real Redis for the tests, never a mock: REDIS_URL if set, else a private
 * `redis-server` from PATH on a free loopback port, else one in Docker through
 * testcontainers, else a failure that says how to get one.
 */
import test from 'ava';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from '../../src/index.js';
import { fromEnv } from './node-redis.js';
import { type RedisServer, startRedisProcess } from './redis-server.js';

export type { RedisServer } from './redis-server.js';

const ownServers = new Set<RedisServer>();

/** A Redis server of the test's own, which it may restart or stop; stopped when the file ends. */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServer> {
  const server = await startRedisProcess(extraArgs);
  ownServers.add(server);
  return server;
}

let shared: Promise<string> | undefined;

/** The Redis this test file shares between its tests (each test uses its own keys). */
export function redisUrl(): Promise<string> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv) return Promise.resolve(fromEnv);
  shared ??= startRedisServer().then((server) => server.url);
  return shared;
}

const clients = new Set<Redis>();

// Registered when a test file imports this helper, so every file cleans up after itself.
test.after.always('close Redis clients and servers', async () => {
  for (const client of clients) client.disconnect();
  const servers = [...ownServers];
  ownServers.clear();
  await Promise.all(servers.map((s) => s.stop()));
});

/** A new ioredis client on the shared test Redis (or on `url`), closed when the test file ends. */
export async function connect(url?: string, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url ?? (await redisUrl()), { maxRetriesPerRequest: null, ...options });
  clients.add(client);
  client.once('end', () => clients.delete(client));
  // Tests that restart Redis see refused connections; they observe them through commands.
  client.on('error', () => {});
  return client;
}

/**
 * A client for the library under test, closed when the test file ends: ioredis as
 * connect() makes it, or node-redis when RFS_CLIENT names it. Tests that also send
 * commands of their own send them through connect().
 */
export async function connectLibrary(url?: string): Promise<RedisClient> {
  const v = fromEnv();
  if (!v) return connect(url);
  return (await v.connect(url ?? (await redisUrl()))) as RedisClient;
}

let counter = 0;

/** A key no other test uses. */
export function uniqueKey(label: string): string {
  return `${label}-${process.pid}-${++counter}`;
}
