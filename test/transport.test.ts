import test from 'ava';
import { LeaseLostError, Mutex, Semaphore } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import { heldAndWaiting } from './helpers/events.js';
import { connect, connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

test('SCRIPT FLUSH mid-run: the next calls reload the scripts and the queue goes on', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('flush');
  const mutex = new Mutex(redis, key);
  const { holder, waiting } = await heldAndWaiting(mutex);
  await admin.script('FLUSH');
  await holder.release();
  const lease = await waiting;
  t.true(lease.held);
  await admin.script('FLUSH');
  await lease.release();
  t.is((await mutex.status()).held, 0);
});

// Serial: killing every pub/sub connection of the Redis must not disturb the other tests here.
test.serial('a killed pub/sub connection: the waiter resubscribes, re-checks, and is granted', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('pubsub-kill');
  // A long ttl: only the re-check after resubscribing can find the grant in time.
  const mutex = new Mutex(redis, key, { ttl: 600_000 });
  const { holder, waiting } = await heldAndWaiting(mutex);
  await admin.client('KILL', 'TYPE', 'pubsub');
  // Released while the subscriber may still be reconnecting: its message can be lost.
  await holder.release();
  const lease = await waiting;
  t.true(lease.held);
  await lease.release();
});

test('Redis restarts empty: holders learn they lost the lease, waiters queue again and are granted', async (t) => {
  const server = await startRedisServer();
  const redis = await connectLibrary(server.url);
  const other = await connectLibrary(server.url);
  const key = uniqueKey('restart');
  const mutex = new Mutex(redis, key, { ttl: 900 });
  const { holder, waiting } = await heldAndWaiting(mutex, { waiter: new Mutex(other, key, { ttl: 900 }) });
  const lost = new Promise((resolve) => holder.signal.addEventListener('abort', () => resolve(holder.signal.reason)));
  await server.restart();
  t.true((await lost) instanceof LeaseLostError);
  const lease = await waiting;
  t.true(lease.held);
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
});

test('a resent enqueue does not create a second ticket; a resent release frees nobody else', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('resend');
  const scripts = new Scripts(redis, keyspace('rfs', key), key);
  const call = (token: string) => scripts.acquire({ token, ttl: 5_000, wait: true, maxWaiters: Infinity });
  const a = await call('x.a');
  t.is(a.kind, 'granted');
  t.deepEqual(await call('x.a'), a);
  t.like(await call('x.b'), { kind: 'queued', position: 0 });
  t.like(await call('x.b'), { kind: 'queued', position: 0 });
  t.is((await scripts.status(10)).waiting, 1);
  const fence = a.kind === 'granted' ? a.fence : 0;
  t.is(await scripts.release('x.a', fence), 'released');
  // 'b' now holds; 'a' releasing again (a resend) must not free b's permit.
  t.is(await scripts.release('x.a', fence), 'unknown');
  t.is(await scripts.release('x.a', undefined), 'unknown');
  const status = await scripts.status(10);
  t.deepEqual(
    status.holders.map((h) => h.token),
    ['x.b'],
  );
  t.is(status.held, 1);
});

test('a weighted semaphore keeps its count through releases of unknown tokens', async (t) => {
  const redis = await connectLibrary();
  const sem = new Semaphore(redis, uniqueKey('count'), { permits: 3 });
  const lease = await sem.acquire({ weight: 3 });
  const scripts = new Scripts(redis, keyspace('rfs', sem.key), sem.key);
  t.is(await scripts.release('x.never-queued', undefined), 'unknown');
  t.is(await scripts.release('x.never-queued', 1), 'unknown');
  t.is((await sem.status()).held, 3);
  await lease.release();
  t.is((await sem.status()).held, 0);
});

test("a script's first use on a server is sent whole, so a call sent right after it never overtakes it", async (t) => {
  // A server of its own: no script of this library is loaded on it yet.
  const server = await startRedisServer();
  const mutex = new Mutex(await connectLibrary(server.url), uniqueKey('first-use'));
  // The acquire and release scripts are used once; the refresh script not yet.
  await (await mutex.acquire()).release();
  const lease = await mutex.acquire({ autoRefresh: false });
  // The refresh script's first call and the release go out back to back, unawaited.
  const reading = lease.remaining();
  const releasing = lease.release();
  t.true((await reading) > 0, 'the read ran before the release');
  t.true(await releasing);
});
