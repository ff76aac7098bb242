/**
 * What can fail inside a script for reasons outside it (a refused PUBLISH, a key of
 * the wrong type, Redis out of memory) never leaves state that a later call misreads:
 * each case is played against a real Redis, and the semaphore carries on.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { LeaseLostError, Mutex } from '../src/index.js';
import { aborted, heldAndWaiting } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { expiryOf, keysOf } from './helpers/keys.js';
import { type NodeRedisConnection, shut } from './helpers/node-redis-versions.js';
import { connect, connectLibrary, redisUrl, startRedisServer, uniqueKey } from './helpers/redis.js';

// Each test has a holder and a waiter behind it, on a short ttl so heartbeats come quickly
// (yet long enough that a lease outlives a busy CI machine's pauses).
const ttl = 600;

test('a Redis user without channel rights: releases still hand over, and nothing is left inconsistent', async (t) => {
  const admin = await connect();
  const user = `rfs-nochan-${process.pid}`;
  // Redis 7's default for a new user: keys and commands, but no pub/sub channel.
  await admin.acl('SETUSER', user, 'reset', 'on', 'nopass', '~*', 'resetchannels', '+@all');
  const url = new URL(await redisUrl());
  url.username = user;
  url.password = 'any';
  const redis = await connectLibrary(url.href);
  // Deleting the user drops its connections: close ours first, so none is left reconnecting.
  t.teardown(async () => {
    await (redis instanceof Redis ? redis.disconnect() : shut(redis as unknown as NodeRedisConnection));
    await admin.acl('DELUSER', user);
  });
  const key = uniqueKey('nochan');
  const mutex = new Mutex(redis, key, { ttl });
  const { holder, waiting: waiter } = await heldAndWaiting(mutex, { timeout: 10_000 });
  // The grant's PUBLISH is refused; the release must not fail for it.
  await holder.release();
  // The waiter finds its grant by its heartbeat instead.
  const lease = await waiter;
  t.true(lease.fencingToken > holder.fencingToken);
  const status = await mutex.status();
  t.is(status.held, 1);
  t.is(status.waiting, 0);
  t.deepEqual(
    status.holders.map((h) => h.token),
    [lease.token],
  );
  await lease.release();
  // Still usable afterwards, by anyone.
  await (await new Mutex(await connectLibrary(), key).acquire()).release();
  t.deepEqual(await admin.keys(keysOf(key).pattern), [keysOf(key).fence]);
});

type Role = 'fence' | 'tickets' | 'waiters' | 'line';
const corruptions: readonly [role: Role, how: string, write: (redis: Redis, name: string) => Promise<unknown>][] = [
  ['fence', 'a hash', (r, name) => r.multi().del(name).hset(name, 'x', '1').exec()],
  ['tickets', 'a string', (r, name) => r.set(name, 'x')],
  ['tickets', 'a hash without a lifetime', (r, name) => r.multi().del(name).hset(name, 'x', '1').exec()],
  ['waiters', 'a string', (r, name) => r.set(name, 'x')],
  ['line', 'a string', (r, name) => r.set(name, 'x')],
];

for (const [name, how, write] of corruptions) {
  test(`:${name} replaced by ${how}: no Lua error, and the semaphore recovers`, async (t) => {
    const redis = await connectLibrary();
    const admin = await connect();
    const key = uniqueKey(`wrongtype-${name}`);
    const mutex = new Mutex(redis, key, { ttl });
    const { holder, waiting: waiter } = await heldAndWaiting(mutex, { timeout: 10_000 });
    const holderLost = aborted(holder.signal);
    await write(admin, keysOf(key)[name]);
    // Every script reads the wrong type with pcall and repairs it; none throws.
    const status = await mutex.status();
    t.true(status.held <= 1);
    if (name === 'tickets') {
      // The holders' entries are gone with the key: the holder learns at its next refresh.
      t.true((await holderLost) instanceof LeaseLostError);
    }
    await holder.release();
    // A waiter whose entries were lost queues again by itself, under a new token.
    const lease = await waiter;
    t.true(lease.fencingToken > holder.fencingToken);
    t.deepEqual(
      (await mutex.status()).holders.map((h) => h.token),
      [lease.token],
    );
    await lease.release();
    const next = await mutex.acquire();
    t.true(next.fencingToken > lease.fencingToken);
    await next.release();
    t.deepEqual(await admin.keys(keysOf(key).pattern), [keysOf(key).fence]);
  });
}

test('Redis out of memory (noeviction): acquires are refused whole; releases, heartbeats and refreshes go on', async (t) => {
  const server = await startRedisServer();
  const redis = await connectLibrary(server.url);
  const admin = await connect(server.url);
  const key = uniqueKey('oom');
  const mutex = new Mutex(redis, key, { ttl });
  const { holder, waiting: waiter } = await heldAndWaiting(mutex, { timeout: 10_000 });
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
  await admin.config('SET', 'maxmemory', String(used - 100_000));
  // A new ticket would grow the data: refused before it writes anything. Redis's own
  // error, as the client reports it (each names its error class differently).
  await t.throwsAsync(new Mutex(redis, key).acquire(), { message: /^OOM/ });
  t.is((await mutex.status()).waiting, 1);
  // The release frees memory, so it runs, and hands the permit to the waiter.
  await holder.release();
  const lease = await waiter;
  t.true(lease.fencingToken > holder.fencingToken);
  // Refreshes never grow the data: the lease outlives its ttl while Redis is full.
  const first = Number(await expiryOf(admin, key, lease));
  const later = await eventually(
    () => expiryOf(admin, key, lease),
    (ms) => Number(ms) >= first + ttl,
    { within: 5_000, every: 20 },
  );
  t.true(Number(later) >= first + ttl, `refreshed past a whole ttl: expiry ${later}, first ${first}`);
  t.true(lease.held);
  await lease.release();
  await admin.config('SET', 'maxmemory', '0');
  await (await mutex.acquire()).release();
  t.deepEqual(await admin.keys(keysOf(key).pattern), [keysOf(key).fence]);
});
