import test from 'ava';
import { Mutex } from '../src/index.js';
import { keysOf } from './helpers/keys.js';
import { connect, connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

async function serverMicros(redis: import('ioredis').Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1e6 + Number(micros);
}

test('fencing tokens rise with every grant and are at least the server clock in µs', async (t) => {
  const mutex = new Mutex(await connectLibrary(), uniqueKey('fence'));
  const before = await serverMicros(await connect());
  const tokens: number[] = [];
  for (let i = 0; i < 20; i++) {
    const lease = await mutex.acquire();
    tokens.push(lease.fencingToken);
    await lease.release();
  }
  t.true(tokens[0]! >= before);
  t.true(Number.isSafeInteger(tokens[19]!));
  for (let i = 1; i < tokens.length; i++) t.true(tokens[i]! > tokens[i - 1]!);
});

test('fencing tokens keep rising after the queue expired and after Redis restarts empty', async (t) => {
  const server = await startRedisServer();
  const redis = await connect(server.url);
  const key = uniqueKey('fence-restart');
  const mutex = new Mutex(await connectLibrary(server.url), key);
  const first = await mutex.acquire();
  await first.release();
  // Idle: every key but the counter is gone.
  t.deepEqual(await redis.keys(keysOf(key).pattern), [keysOf(key).fence]);
  const second = await mutex.acquire();
  await second.release();
  t.true(second.fencingToken > first.fencingToken);
  await server.restart();
  t.deepEqual(await redis.keys('*'), []);
  const third = await mutex.acquire();
  t.true(third.fencingToken > second.fencingToken);
  await third.release();
});
