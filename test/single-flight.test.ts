import { fork } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { bundled } from './helpers/programs.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';

const worker = new URL('./helpers/refresher.ts', import.meta.url);

test('single flight: of many processes finding the cache stale, exactly one refreshes it', async (t) => {
  const url = await redisUrl();
  // Reads the cache only: the library runs in the workers, on the client RFS_CLIENT names.
  const redis = await connect();
  const key = uniqueKey('single-flight');
  const program = await bundled(worker);
  const children = Array.from({ length: 5 }, () =>
    fork(program, [key], { execArgv: [], env: { ...process.env, REDIS_URL: url }, stdio: 'inherit' }),
  );
  const results = await Promise.all(
    children.map(async (child) => {
      const [message] = (await once(child, 'message')) as [{ value: string; refreshed: boolean }];
      await once(child, 'exit');
      return message;
    }),
  );
  t.is(await redis.get(`${key}:refreshes`), '1');
  t.is(results.filter((r) => r.refreshed).length, 1);
  t.deepEqual(new Set(results.map((r) => r.value)).size, 1);
  t.is(results[0]!.value, (await redis.get(`${key}:cache`)) ?? 'missing');
});
