/**
 * The three libraries behind one tiny interface, each with its default settings
 * except an unbounded wait, so that a contended run always finishes.
 */
import { Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Mutex as RsMutex, Semaphore as RsSemaphore } from 'redis-semaphore';
import { Mutex, Semaphore } from '../src/index.js';
import type { LibId, LockSpec } from './protocol.js';

export type Held = { release(): Promise<unknown> };
export type Lock = { acquire(): Promise<Held> };

export const libs: readonly { id: LibId; label: string; semaphore: boolean }[] = [
  { id: 'fair', label: 'redis-fair-semaphore' },
  { id: 'fair-node-redis', label: 'redis-fair-semaphore on node-redis' },
  { id: 'redis-semaphore', label: 'redis-semaphore' },
  { id: 'redlock', label: '@sesamecare-oss/redlock' },
].map((l) => ({ ...l, id: l.id as LibId, semaphore: l.id !== 'redlock' }));

export function label(id: LibId): string {
  return libs.find((l) => l.id === id)?.label ?? id;
}

// One Redlock per connection, as an application would keep one.
const redlocks = new WeakMap<Redis, Redlock>();

export function openLock(redis: Redis, spec: LockSpec): Lock {
  const { key, permits, ttl } = spec;
  switch (spec.lib) {
    case 'fair': {
      // One instance serves any number of concurrent acquires.
      const lock = permits === 1 ? new Mutex(redis, key, { ttl }) : new Semaphore(redis, key, { permits, ttl });
      return { acquire: () => lock.acquire() };
    }
    case 'fair-node-redis': {
      // A node-redis 6 client beside the harness's ioredis connection, on the same Redis, closed with it.
      const ready = nodeRedisTwin(redis).then((client) =>
        permits === 1 ? new Mutex(client, key, { ttl }) : new Semaphore(client, key, { permits, ttl }),
      );
      return { acquire: async () => (await ready).acquire() };
    }
    case 'redis-semaphore': {
      // An instance carries one identifier, so concurrent acquires need one each.
      const options = { lockTimeout: ttl, acquireTimeout: Number.POSITIVE_INFINITY };
      return {
        acquire: async () => {
          const lock = permits === 1 ? new RsMutex(redis, key, options) : new RsSemaphore(redis, key, permits, options);
          await lock.acquire();
          return lock;
        },
      };
    }
    case 'redlock': {
      if (permits !== 1) throw new Error('redlock has no counting semaphore');
      let redlock = redlocks.get(redis);
      if (!redlock) {
        redlock = new Redlock([redis], { retryCount: -1 });
        redlocks.set(redis, redlock);
      }
      const r = redlock;
      return { acquire: () => r.acquire([key], ttl) };
    }
  }
}

type NodeRedisClient = ReturnType<typeof createClient>;
const twins = new WeakMap<Redis, Promise<NodeRedisClient>>();

/** One connected node-redis client per harness connection, destroyed when that connection ends. */
function nodeRedisTwin(redis: Redis): Promise<NodeRedisClient> {
  let twin = twins.get(redis);
  if (!twin) {
    const { host, port, db } = redis.options;
    const client: NodeRedisClient = createClient({
      socket: { host: host ?? '127.0.0.1', port: port ?? 6379 },
      database: db ?? 0,
    });
    client.on('error', () => {});
    const connected = client.connect().then(() => client);
    twins.set(redis, connected);
    redis.once('end', () => void connected.then((c) => c.destroy()));
    twin = connected;
  }
  return twin;
}
