/**
 * A process that needs a cached value: refresh it under the mutex unless someone
 * else already did (the `skip` predicate), then report what it used.
 */
import { Redis } from 'ioredis';
import { Mutex, type RedisClient } from '../../src/index.js';
import { connectVersion, shut, versionFromEnv } from './node-redis-versions.js';

const key = process.argv[2] ?? '';
const url = process.env['REDIS_URL'] ?? '';
/** The cache and its counter are the test's own: always on ioredis. */
const redis = new Redis(url);
/** The client the library gets: ioredis, or node-redis with RFS_CLIENT (see .ci/run). */
const v = versionFromEnv();
const lib = v && (await connectVersion(v, url));
const mutex = new Mutex((lib ?? redis) as RedisClient, key, { ttl: 5_000 });
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
if (lib) await shut(lib);
