/**
 * Layout version 2 next to version 1 on one Redis (a rolling upgrade), keys that
 * never alias, and numbers that round-trip exactly.
 */
import { readFileSync } from 'node:fs';
import { fc, testProp } from '@fast-check/ava';
import test from 'ava';
import type { Redis } from 'ioredis';
import { ErrorCode, LayoutVersionError, Mutex, Semaphore } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { requireKey, requirePrefix } from '../src/validate.js';
import { queued } from './helpers/events.js';
import { connect, connectLibrary, uniqueKey } from './helpers/redis.js';

/** Version 1's scripts exactly as released (commit 4263f88), kept as fixtures. */
function v1Lua(file: string): string {
  const dir = new URL('fixtures/v1/', import.meta.url);
  return readFileSync(new URL(file, dir), 'utf8').replace(/^--@include (\w+)$/gm, (_l, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, dir), 'utf8'),
  );
}

/** A version 1 client of `key`, calling its scripts the way version 1 did. */
function v1(redis: Redis, key: string) {
  const base = `rfs:{${key}}`;
  const keys = ['holders', 'queue', 'deadlines', 'tickets', 'fence'].map((k) => `${base}:${k}`);
  const acquire = v1Lua('acquire-5.lua');
  const release = v1Lua('release-5.lua');
  return {
    acquire: (token: string) =>
      redis.eval(acquire, 5, ...keys, token, 1, 1, 10_000, 1, 'inbox', `${base}:wake:`, 'PUBLISH', 0) as Promise<
        number[]
      >,
    release: (token: string) =>
      redis.eval(release, 5, ...keys, token, 1, `${base}:wake:`, 'PUBLISH') as Promise<number>,
  };
}

/** Layout 2's scripts exactly as released before settings existed (commit fc84424), kept as fixtures. */
function v2Lua(file: string): string {
  const dir = new URL('fixtures/v2/', import.meta.url);
  return readFileSync(new URL(file, dir), 'utf8').replace(/^--@include (\w+)$/gm, (_l, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, dir), 'utf8'),
  );
}

/** A layout 2 client of `key`, calling its scripts the way the version before settings did. */
function v2(redis: Redis, key: string) {
  const keys = keyspace('rfs', key).keys;
  const acquire = v2Lua('acquire-4.lua');
  const release = v2Lua('release-4.lua');
  return {
    /** A grant's fencing token (digits), or the queued reply (an array). */
    acquire: (token: string) => redis.eval(acquire, 4, ...keys, 'pq0', token, 10_000) as Promise<string | unknown[]>,
    release: (ticket: string) => redis.eval(release, 4, ...keys, 'p', ticket) as Promise<number>,
  };
}

/** Every key of the semaphore with its type and content, to show nothing changed. */
async function snapshot(redis: Redis, key: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const name of (await redis.keys(`rfs:{${key}}:*`)).sort()) {
    const type = await redis.type(name);
    out[name] =
      type === 'hash'
        ? await redis.hgetall(name)
        : type === 'zset'
          ? await redis.zrange(name, 0, -1, 'WITHSCORES')
          : await redis.get(name);
  }
  return out;
}

test('while version 1 holds a key, version 2 refuses it with LayoutVersionError and changes nothing', async (t) => {
  const redis = await connect();
  const key = uniqueKey('v1-holds');
  const old = v1(redis, key);
  const [granted, v1Fence] = await old.acquire('v1-token');
  t.is(granted, 1);
  const before = await snapshot(redis, key);
  const mutex = new Mutex(await connectLibrary(), key);
  for (const call of [() => mutex.acquire(), () => mutex.tryAcquire(), () => mutex.status()]) {
    const error = await t.throwsAsync(call(), { instanceOf: LayoutVersionError });
    t.is(error?.code, ErrorCode.layoutVersion);
    t.regex(error!.message, /version 1/);
  }
  t.deepEqual(await snapshot(redis, key), before);
  // Once version 1 lets go, version 2 takes over the key, and its tokens continue v1's.
  t.is(await old.release('v1-token'), 1);
  const lease = await mutex.acquire();
  t.true(lease.fencingToken > v1Fence!);
  await lease.release();
});

test('while version 2 holds a key, version 1 fails at once (WRONGTYPE) and changes nothing; then it works again', async (t) => {
  const redis = await connect();
  const key = uniqueKey('v2-holds');
  const mutex = new Mutex(await connectLibrary(), key);
  const lease = await mutex.acquire();
  const before = await snapshot(redis, key);
  const old = v1(redis, key);
  await t.throwsAsync(old.acquire('v1-token'), { name: 'ReplyError', message: /WRONGTYPE/ });
  t.deepEqual(await snapshot(redis, key), before);
  await lease.release();
  // Both versions keep the fencing counter in the same string: tokens rise across them.
  const [granted, v1Fence] = await old.acquire('v1-token');
  t.is(granted, 1);
  t.true(v1Fence! > lease.fencingToken);
  t.is(await old.release('v1-token'), 1);
});

test('a key that layout 2 processes hold and wait on is served by this version beside them, in one line', async (t) => {
  const redis = await connect();
  const key = uniqueKey('v2-beside');
  const old = v2(redis, key);
  const granted = await old.acquire('v2inbox.1/2');
  t.is(typeof granted, 'string');
  const sem = new Semaphore(await connectLibrary(), key, { permits: 2 });
  const mine = await sem.acquire();
  t.true(Array.isArray(await old.acquire('v2inbox.2/2')));
  const isQueued = queued(key);
  const waiting = sem.acquire();
  await isQueued;
  t.like(await sem.status(), { held: 2, waiting: 2, permitsSource: 'callers', paused: false });
  // The layout 2 waiter is ahead: the first permit freed is its.
  t.is(await old.release(`v2inbox.1/2|${granted as string}`), 1);
  t.deepEqual((await sem.status()).holders.map((h) => h.token).sort(), [mine.token, 'v2inbox.2/2'].sort());
  await mine.release();
  const lease = await waiting;
  t.like(await sem.status(), { held: 2, waiting: 0 });
  await lease.release();
});

test('layout 2 processes grant nothing on a key with stored settings: they wait, and never break the limit or the pause', async (t) => {
  const redis = await connect();
  const key = uniqueKey('v2-settings');
  const old = v2(redis, key);
  const sem = new Semaphore(await connectLibrary(), key, { permits: 5 });
  // On the idle key a layout 2 acquire queues, and reads a number it can use where its
  // scripts compute with the earliest expiry (the settings' score is finite).
  await sem.pause();
  const idle = await old.acquire('v2inbox.0/5');
  t.true(Array.isArray(idle));
  t.true(Number.isSafeInteger((idle as unknown[])[1]));
  t.is(await old.release('v2inbox.0/5'), 0);
  await sem.resume();
  await sem.setPermits(1);
  const mine = await sem.acquire();
  // Ample permits as layout 2 sees them (1 of 5 held): still only queued.
  t.true(Array.isArray(await old.acquire('v2inbox.1/5')));
  t.like(await sem.status(), { held: 1, waiting: 1 });
  // Its waiter is served by this version, within the limit in force.
  await sem.setPermits(null);
  t.deepEqual((await sem.status()).holders.map((h) => h.token).sort(), [mine.token, 'v2inbox.1/5'].sort());
  await sem.pause();
  t.true(Array.isArray(await old.acquire('v2inbox.2/5')));
  t.like(await sem.status(), { held: 2, waiting: 1, paused: true });
  await sem.resume();
  t.like(await sem.status(), { held: 3, waiting: 0, paused: false });
  await mine.release();
});

// Few characters, so that near-collisions are common: every one a prefix may hold, and
// every one a key may hold (a key may contain '{', and whole surrogate pairs).
const prefix = fc.string({ unit: fc.constantFrom('a', ':', 'é'), maxLength: 4 });
const key = fc.string({ unit: fc.constantFrom('a', ':', '{', 'é', '😀'), minLength: 1, maxLength: 4 });

testProp(
  'distinct (prefix, key) pairs that pass validation never name the same Redis keys',
  [fc.tuple(prefix, key), fc.tuple(prefix, key)],
  (t, [p1, k1], [p2, k2]) => {
    // Valid by construction; the validation agrees.
    for (const [p, k] of [
      [p1, k1],
      [p2, k2],
    ] as const)
      t.notThrows(() => [requirePrefix(p), requireKey(k)]);
    const a = keyspace(p1, k1);
    const b = keyspace(p2, k2);
    const same = p1 === p2 && k1 === k2;
    // Compared as the bytes Redis receives.
    for (let i = 0; i < a.keys.length; i++) t.is(Buffer.from(a.keys[i]!).equals(Buffer.from(b.keys[i]!)), same);
    t.is(a.channelPrefix === b.channelPrefix, same);
  },
  { numRuns: 2_000 },
);

for (const permits of [1e14, Number.MAX_SAFE_INTEGER]) {
  test(`permits and weights of ${permits} are stored and read back exactly`, async (t) => {
    const sem = new Semaphore(await connectLibrary(), uniqueKey('big'), { permits });
    const all = await sem.acquire({ weight: permits });
    let status = await sem.status();
    t.is(status.permits, permits);
    t.is(status.held, permits);
    t.deepEqual(
      status.holders.map((h) => h.weight),
      [permits],
    );
    t.is(await sem.tryAcquire(), null);
    await all.release();
    const most = await sem.acquire({ weight: permits - 1 });
    const one = await sem.acquire({ weight: 1 });
    status = await sem.status();
    t.is(status.held, permits);
    t.is(status.available, 0);
    t.deepEqual(status.holders.map((h) => h.weight).sort(), [1, permits - 1].sort());
    await Promise.all([most.release(), one.release()]);
    t.is((await sem.status()).held, 0);
  });
}
