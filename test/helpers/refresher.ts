/**
 * A process that needs a cached value: refresh it under the mutex unless someone
 * else already did (the `skip` predicate), then report what it used.
 */
import { Redis } from 'ioredis';
import { Mutex } from '../../src/index.js';

const key = process.argv[2] ?? '';
const redis = new Redis(process.env['REDIS_URL'] ?? '');
const mutex = new Mutex(redis, key, { ttl: 5_000 });
const fresh = async () => (await redis.exists(`${key}:cache`)) === 1;

const refreshed = await mutex.use(
  async (lease) => {
    if (!lease) return false;
    await redis.incr(`${key}:refreshes`);
    // Slow work, so the others really do arrive while it runs.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await redis.set(`${key}:cache`, `value-${lease.fencingToken}`);
    return true;
  },
  { skip: fresh },
);
process.send?.({ value: await redis.get(`${key}:cache`), refreshed });
await redis.quit();
