/**
 * The moment a client is closed: `await redis.quit()` has resolved, or `redis.disconnect()`
 * has returned, but its socket is not closed yet, and ioredis still says "ready". Every
 * call of the library, made first in that moment, already meets a closed client, as it
 * would once the client ended: ClientClosedError, and nothing sent.
 */
import { once } from 'node:events';
import test from 'ava';
import type { Redis, RedisOptions } from 'ioredis';
import { ClientClosedError, ErrorCode, type Lease, LeaseLostError, Semaphore } from '../src/index.js';
import { connect, startRedisServer, uniqueKey } from './helpers/redis.js';

const ttl = 60_000;

/** A way to close a client, with `call` made right after it, before any event of ioredis. */
type Closing = {
  readonly name: string;
  readonly options?: RedisOptions;
  act<T>(redis: Redis, call: () => T): T | Promise<T>;
};

function disconnect<T>(redis: Redis, call: () => T): T {
  redis.disconnect();
  return call();
}

const closings: readonly Closing[] = [
  {
    name: 'right after await quit()',
    async act(redis, call) {
      await redis.quit();
      return call();
    },
  },
  { name: 'right after disconnect()', act: disconnect },
  // Without an offline queue, ioredis refuses a command on the closing socket at once, with an error of its own.
  {
    name: 'right after disconnect() of a client without offline queue',
    options: { enableOfflineQueue: false },
    act: disconnect,
  },
];

/** A semaphore of 2 permits on a client of the test's own, one of them held with a fixed term. */
async function holding(options?: RedisOptions) {
  const redis = await connect(undefined, options);
  if (redis.status !== 'ready') await once(redis, 'ready');
  const key = uniqueKey('closing');
  const semaphore = new Semaphore(redis, key, { permits: 2, ttl });
  const lease = await semaphore.acquire({ autoRefresh: false });
  return { redis, key, semaphore, lease, id: lease.id };
}

/**
 * Seen from another client, the key shows what it showed before the call: the fixed-term
 * lease alone, not extended, and still held (that client's handle on it releases it).
 */
async function untouched(t: import('ava').ExecutionContext, key: string, id: string): Promise<void> {
  const other = new Semaphore(await connect(), key, { permits: 2, ttl });
  const status = await other.status();
  t.is(status.waiting, 0);
  t.is(status.holders.length, 1);
  t.true(status.holders[0]!.expiresIn <= ttl);
  t.true(await (await other.lease(id)).release());
}

const calls: Record<string, (s: { semaphore: Semaphore; lease: Lease; id: string }) => Promise<unknown>> = {
  'lease.extend(ms)': ({ lease }) => lease.extend(2 * ttl),
  'lease.remaining()': ({ lease }) => lease.remaining(),
  'lease.release()': ({ lease }) => lease.release(),
  'semaphore.lease(id)': ({ semaphore, id }) => semaphore.lease(id),
  'semaphore.status()': ({ semaphore }) => semaphore.status(),
  'semaphore.acquire()': ({ semaphore }) => semaphore.acquire(),
  'semaphore.tryAcquire()': ({ semaphore }) => semaphore.tryAcquire(),
};

for (const closing of closings) {
  for (const [name, call] of Object.entries(calls)) {
    test(`${closing.name}, ${name} rejects with ClientClosedError and sends nothing`, async (t) => {
      const s = await holding(closing.options);
      const error = await t.throwsAsync(
        closing.act(s.redis, () => call(s)),
        { instanceOf: ClientClosedError },
      );
      t.is(error?.code, ErrorCode.clientClosed);
      t.is(error?.key, s.key);
      await untouched(t, s.key, s.id);
    });
  }

  test(`${closing.name}, lease.startAutoRefresh() of a fixed-term lease throws ClientClosedError`, async (t) => {
    const s = await holding(closing.options);
    const error = await closing.act(s.redis, () =>
      t.throws(() => s.lease.startAutoRefresh(), { instanceOf: ClientClosedError }),
    );
    t.is(error?.code, ErrorCode.clientClosed);
    t.false(s.lease.autoRefresh);
    await untouched(t, s.key, s.id);
  });

  test(`${closing.name}, a refreshing lease is found lost with its client at the first call, as once the client ended`, async (t) => {
    const redis = await connect(undefined, closing.options);
    if (redis.status !== 'ready') await once(redis, 'ready');
    const semaphore = new Semaphore(redis, uniqueKey('closing-refreshing'), { permits: 1, ttl });
    const lease = await semaphore.acquire();
    const extended = closing.act(redis, () => lease.extend(1_000));
    await t.throwsAsync(extended, { instanceOf: LeaseLostError, message: /client was closed/ });
    t.false(lease.held);
    t.true(lease.signal.reason instanceof LeaseLostError);
    // Lost: this handle no longer acts on the lease, and says there was nothing to give back.
    t.false(await lease.release());
  });
}

test('calls already sent when disconnect() is called reject with ClientClosedError too', async (t) => {
  const server = await startRedisServer();
  // A short disconnectTimeout: the socket of a stopped server is destroyed soon after disconnect().
  const redis = await connect(server.url, { disconnectTimeout: 100 });
  const key = uniqueKey('closing-in-flight');
  const semaphore = new Semaphore(redis, key, { permits: 2, ttl });
  const lease = await semaphore.acquire({ autoRefresh: false });
  const id = lease.id;
  // Stopped, the server can answer none of them: they are on the wire when the client closes.
  server.pause();
  const pending = [
    lease.extend(1_000),
    lease.remaining(),
    semaphore.lease(id),
    semaphore.status(),
    semaphore.tryAcquire(),
    lease.release(),
  ];
  redis.disconnect();
  const errors = await Promise.all(pending.map((call) => t.throwsAsync(call, { instanceOf: ClientClosedError })));
  t.deepEqual(
    errors.map((e) => e?.code),
    pending.map(() => ErrorCode.clientClosed),
  );
  server.resume();
});
