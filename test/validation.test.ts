import test from 'ava';
import { Mutex, type RedisClient, Semaphore } from '../src/index.js';
import { recordCommands } from './helpers/commands.js';
import { connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

type Case = [title: string, run: (redis: RedisClient) => unknown, error: typeof TypeError, pattern: RegExp];

const cases: Case[] = [
  ['permits missing', (r) => new Semaphore(r, 'k', {} as never), TypeError, /`permits`.*undefined/],
  ['permits 0', (r) => new Semaphore(r, 'k', { permits: 0 }), RangeError, /`permits`.*0 \(number\)/],
  ['permits 1.5', (r) => new Semaphore(r, 'k', { permits: 1.5 }), RangeError, /`permits`.*1\.5/],
  ['permits "3"', (r) => new Semaphore(r, 'k', { permits: '3' as never }), TypeError, /`permits`.*"3" \(string\)/],
  ['ttl 0', (r) => new Semaphore(r, 'k', { permits: 1, ttl: 0 }), RangeError, /`ttl`.*0/],
  ['ttl -5', (r) => new Mutex(r, 'k', { ttl: -5 }), RangeError, /`ttl`.*-5/],
  ['ttl Infinity', (r) => new Mutex(r, 'k', { ttl: Infinity }), RangeError, /`ttl`.*Infinity/],
  ['ttl NaN', (r) => new Mutex(r, 'k', { ttl: NaN }), RangeError, /`ttl`.*NaN/],
  ['empty key', (r) => new Mutex(r, ''), TypeError, /`key`.*""/],
  ['key not a string', (r) => new Mutex(r, 42 as never), TypeError, /`key`.*42 \(number\)/],
  ['prefix not a string', (r) => new Mutex(r, 'k', { prefix: 1 as never }), TypeError, /`prefix`/],
  // Each would let two different (prefix, key) pairs name the same Redis keys.
  ['a key with "}"', (r) => new Mutex(r, 'b}:{c', { prefix: 'a' }), RangeError, /`key` without "}".*"b}:{c"/],
  ['a prefix with "{"', (r) => new Mutex(r, 'c', { prefix: 'a:{b' }), RangeError, /`prefix` without "{".*"a:{b"/],
  ['a prefix with "}"', (r) => new Mutex(r, 'c', { prefix: 'a}' }), RangeError, /`prefix` without "}"/],
  ['a key with a lone surrogate', (r) => new Mutex(r, '\uD800'), RangeError, /`key` to be well-formed Unicode/],
  [
    'a prefix with a lone surrogate',
    (r) => new Mutex(r, 'k', { prefix: '\uDC00' }),
    RangeError,
    /`prefix` to be well-formed/,
  ],
  ['not an ioredis client', () => new Mutex({} as never, 'k'), TypeError, /`redis`.*ioredis/],
  ['null client', () => new Mutex(null as never, 'k'), TypeError, /`redis`.*null/],
  ['Mutex with permits 2', (r) => new Mutex(r, 'k', { permits: 2 } as never), RangeError, /one permit/],
];

for (const [title, run, type, pattern] of cases) {
  test(`constructor rejects ${title}`, async (t) => {
    const redis = await connectLibrary();
    const recorder = recordCommands(redis);
    const error = t.throws(() => run(redis), { instanceOf: type });
    t.regex(error!.message, pattern);
    t.deepEqual(recorder.names, [], 'nothing was sent to Redis');
  });
}

const acquireCases: [string, Record<string, unknown>, typeof TypeError, RegExp][] = [
  ['weight 0', { weight: 0 }, RangeError, /`weight`.*0/],
  ['weight 2.5', { weight: 2.5 }, RangeError, /`weight`.*2\.5/],
  ['weight above permits', { weight: 4 }, RangeError, /`weight`.*at most permits \(3\).*4/],
  ['negative timeout', { timeout: -1 }, RangeError, /`timeout`.*-1/],
  ['timeout NaN', { timeout: NaN }, TypeError, /`timeout`.*NaN/],
  ['timeout as string', { timeout: '100' }, TypeError, /`timeout`.*"100"/],
  ['signal not an AbortSignal', { signal: {} }, TypeError, /`signal`/],
];

for (const [title, options, type, pattern] of acquireCases) {
  test(`acquire, tryAcquire and use reject ${title} before any command`, async (t) => {
    const redis = await connectLibrary();
    const sem = new Semaphore(redis, uniqueKey('bad'), { permits: 3 });
    const recorder = recordCommands(redis);
    const calls: Promise<unknown>[] = [sem.acquire(options), sem.use(async () => 1, options)];
    if ('weight' in options) calls.push(sem.tryAcquire(options));
    for (const call of calls) {
      const error = await t.throwsAsync(call, { instanceOf: type });
      t.regex(error!.message, pattern);
    }
    t.deepEqual(recorder.names, []);
  });
}

test('use rejects a missing fn and a non-function skip', async (t) => {
  const mutex = new Mutex(await connectLibrary(), uniqueKey('bad-use'));
  await t.throwsAsync(mutex.use(undefined as never), { instanceOf: TypeError, message: /`fn`/ });
  await t.throwsAsync(
    mutex.use(async () => 1, { skip: true as never }),
    { instanceOf: TypeError, message: /`skip`/ },
  );
});

test('a Redis that may evict keys gets one warning per client', async (t) => {
  const server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
  const redis = await connectLibrary(server.url);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === 'RFS_EVICTION_POLICY') warnings.push(w);
  };
  process.on('warning', onWarning);
  const mutex = new Mutex(redis, uniqueKey('evict'));
  await (await mutex.acquire()).release();
  await (await mutex.acquire()).release();
  // The check runs beside the first acquire; a PING behind it on the same connection orders us after it.
  await (redis as unknown as { ping(): Promise<unknown> }).ping();
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!.message, /allkeys-lru/);
  t.is(warnings[0]!.name, 'SemaphoreWarning');
});
