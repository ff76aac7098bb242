/**
 * Fixed-term leases and handing a lease to another process: `autoRefresh: false`,
 * `lease.id`, `semaphore.lease(id)`, `extend`, `remaining`, `startAutoRefresh`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import { ClientClosedError, type Lease, LeaseLostError, Mutex, type RedisClient, Semaphore } from '../src/index.js';
import { decodeLeaseId } from '../src/lease-id.js';
import { keyspace } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import { movableClock } from './helpers/clock.js';
import { aborted, queued } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { expiryOf } from './helpers/keys.js';
import { Contender } from './helpers/processes.js';
import type { Report } from './helpers/protocol.js';
import { closedPort } from './helpers/ports.js';
import { connect, connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

/** The contender's report `ev` for `id`; an error it reports instead fails the test at once. */
async function outcome<E extends 'tookOver' | 'extended'>(c: Contender, ev: E, id: string) {
  const report = await c.next((r) => (r.ev === ev || r.ev === 'error') && 'id' in r && r.id === id);
  if (report.ev === 'error') throw new Error(`${id}: ${report.message}`);
  return report as Extract<Report, { ev: E }>;
}

/** The Redis server's clock in ms. */
async function serverMs(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Closes the library's client as its user would, and returns once it has ended. */
async function quit(client: RedisClient): Promise<void> {
  // ioredis's quit() resolves with Redis's OK, before the socket has closed; node-redis's once it has.
  const ended = client instanceof Redis ? once(client, 'end') : undefined;
  await (client as RedisClient & { quit(): Promise<unknown> }).quit();
  await ended;
}

test('a fixed-term lease is not refreshed: its term ends after ttl, its signal says so, and the next waiter gets the permit', async (t) => {
  const admin = await connect();
  const key = uniqueKey('term');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 1_500 });
  const lease = await mutex.acquire({ autoRefresh: false });
  t.false(lease.autoRefresh);
  const expiry = await expiryOf(admin, key, lease);
  const waiting = queued(key);
  const next = mutex.acquire();
  await waiting;

  const reason = await aborted(lease.signal);
  t.true(reason instanceof LeaseLostError);
  t.regex((reason as Error).message, /fixed term ended/);
  t.false(lease.held);
  const nextLease = await next;
  // Granted at all, so nothing refreshed the lease (a refreshing one would hold on for
  // ever); and at the end of the term, not before (fencing tokens are the server's µs).
  t.true(
    nextLease.fencingToken >= expiry! * 1000,
    `granted at ${nextLease.fencingToken} µs, term ended at ${expiry} ms`,
  );
  // Ended by its term: nothing to give back, and release says so without touching the new holder.
  t.false(await lease.release());
  t.true(nextLease.held);
  t.is((await mutex.status()).held, 1);
  t.true(await nextLease.release());
});

test('bad arguments are refused with the option and the value named, before anything reaches Redis', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('handover-bad');
  const sem = new Semaphore(redis, key, { permits: 2 });
  await t.throwsAsync(sem.acquire({ autoRefresh: 'no' as never }), {
    instanceOf: TypeError,
    message: /`autoRefresh` to be a boolean, got "no" \(string\)/,
  });
  await t.throwsAsync(sem.tryAcquire({ autoRefresh: 0 as never }), { instanceOf: TypeError, message: /`autoRefresh`/ });
  await t.throwsAsync(sem.acquire({ autoRefresh: null as never }), { instanceOf: TypeError, message: /got null/ });
  await t.throwsAsync(sem.lease(42 as never), { instanceOf: TypeError, message: /`id`/ });
  for (const id of [
    '',
    'nonsense',
    'rfs1.a.b',
    'rfs2.cmZz.YQ.YWFhYWFhYWFhYS4x.5',
    'rfs1.cmZz.YQ.YWFhYWFhYWFhYS4x.05',
    'rfs1.cmZz.YQ.bm90IGEgdG9rZW4.5',
  ]) {
    await t.throwsAsync(sem.lease(id), { instanceOf: RangeError, message: /`id`/ }, id);
  }
  const lease = await sem.acquire({ autoRefresh: false });
  // An id of another key, or of the same key under another prefix.
  const other = await new Semaphore(redis, uniqueKey('elsewhere'), { permits: 2 }).acquire();
  await t.throwsAsync(sem.lease(other.id), { instanceOf: RangeError, message: /name a lease on semaphore/ });
  const prefixed = new Semaphore(redis, key, { permits: 2, prefix: 'other' });
  await t.throwsAsync(prefixed.lease(lease.id), { instanceOf: RangeError, message: /prefix "rfs"/ });
  for (const ms of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
    await t.throwsAsync(lease.extend(ms), { instanceOf: RangeError, message: /`ms`/ }, String(ms));
  }
  await t.throwsAsync(lease.extend('1000' as never), { instanceOf: TypeError, message: /`ms`/ });
  // None of that changed the lease.
  t.is(await expiryOf(admin, key, lease), Math.floor(lease.fencingToken / 1000) + sem.ttl);
  await lease.release();
  await other.release();
});

test('an id is URL-safe, names the lease exactly, and holds nothing but what Redis shows', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('id ünïcode key');
  const sem = new Semaphore(redis, key, { permits: 5, prefix: 'jobs' });
  const lease = await sem.acquire({ weight: 3, label: 'report (nightly) #7', autoRefresh: false });
  t.regex(lease.id, /^[A-Za-z0-9._-]+$/);
  t.is(encodeURIComponent(lease.id), lease.id);
  t.deepEqual(decodeLeaseId(lease.id), {
    prefix: 'jobs',
    key,
    token: lease.token,
    fencingToken: lease.fencingToken,
    weight: 3,
    permits: 5,
  });
  // What status() shows anyone: the same token and fencing token.
  const [holder] = (await sem.status()).holders;
  t.is(holder?.token, lease.token);
  t.is(holder?.fencingToken, lease.fencingToken);
  t.is(lease.id, lease.id, 'stable');
  await lease.release();
});

test('a handle from another client extends, reads and releases the same permits; fencing tokens never change', async (t) => {
  const key = uniqueKey('handle');
  const a = new Semaphore(await connectLibrary(), key, { permits: 2, ttl: 2_000 });
  const b = new Semaphore(await connectLibrary(), key, { permits: 2, ttl: 2_000 });
  const redis = await connect();
  const lease = await a.acquire({ weight: 2, autoRefresh: false });
  const last = (await a.status()).lastFencingToken;

  const handle = await b.lease(lease.id);
  t.is(handle.fencingToken, lease.fencingToken);
  t.is(handle.token, lease.token);
  t.is(handle.weight, 2);
  t.is(handle.key, key);
  t.false(handle.autoRefresh);
  t.true(handle.held);
  t.is(b.localHeld, 2);
  const left = await handle.remaining();
  t.true(left > 0 && left <= 2_000, String(left));

  const before = await serverMs(redis);
  const extended = await handle.extend(60_000);
  t.true(extended >= 59_000 && extended <= 60_000, String(extended));
  t.true((await expiryOf(redis, key, lease))! >= before + 60_000);
  // A shorter extension never shortens it.
  t.true((await handle.extend(10)) > 50_000);
  // The original knows only its own term; Redis has the extension.
  t.true((await lease.remaining()) > 50_000);
  t.is((await a.status()).lastFencingToken, last);

  t.true(await handle.release());
  t.is(b.localHeld, 0);
  t.is((await a.status()).held, 0);
  // Every other handle now learns it is gone, and acting on it changes nothing.
  t.false(await lease.release());
  await t.throwsAsync(b.lease(lease.id), { instanceOf: LeaseLostError });
  await t.throwsAsync(handle.extend(1_000), { instanceOf: LeaseLostError, message: /released/ });
  await t.throwsAsync(handle.remaining(), { instanceOf: LeaseLostError });
  t.throws(() => handle.startAutoRefresh(), { instanceOf: LeaseLostError });
  const status = await a.status();
  t.is(status.held, 0);
  t.is(status.lastFencingToken, last);
});

test('a handle on a lease held by someone else now is refused: an old id never acts on a new holder', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('handle-stale');
  const mutex = new Mutex(redis, key, { ttl: 2_000 });
  const first = await mutex.acquire({ autoRefresh: false });
  const id = first.id;
  await first.release();
  const second = await mutex.acquire();
  // Same key, same client (so the same inbox and token scheme); only the fencing token differs.
  await t.throwsAsync(mutex.lease(id), { instanceOf: LeaseLostError });
  const forged = id.replace(/\.\d+$/, `.${second.fencingToken}`);
  // A token of another acquisition with the new holder's fencing token names nothing either.
  await t.throwsAsync(mutex.lease(forged), { instanceOf: LeaseLostError });
  t.true(second.held);
  t.deepEqual(
    (await mutex.status()).holders.map((h) => h.fencingToken),
    [second.fencingToken],
  );
  await second.release();
});

test('an expired lease is gone for every handle, even before any call on the key removed its entry', async (t) => {
  // Scripts on a clock the test moves, so that the entry is still in Redis after its expiry.
  const redis = await connect();
  const key = uniqueKey('expired-handle');
  const space = keyspace('rfs', key);
  const scripts = new Scripts(await connectLibrary(), space, key, { rewrite: movableClock });
  const clock = `${space.keys[0]}:clock`;
  await redis.set(clock, 1_800_000_000_000);
  const granted = await scripts.acquire({ token: 'abcdefghij.1', ttl: 1_000, wait: true, maxWaiters: Infinity });
  if (granted.kind !== 'granted') return t.fail('not granted');
  t.is(await scripts.refresh('abcdefghij.1', granted.fence, 0), 1_000);
  await redis.set(clock, 1_800_000_000_999);
  t.is(await scripts.refresh('abcdefghij.1', granted.fence, 5_000), 5_000);
  await redis.set(clock, 1_800_000_006_000);
  t.is(await scripts.refresh('abcdefghij.1', granted.fence, 5_000), undefined);
  t.is(await scripts.refresh('abcdefghij.1', granted.fence, 0), undefined);
  // The entry is still there (nothing evicted it), but nobody may use it.
  t.is(await redis.zcard(space.keys[1]), 1);
});

test('two handles racing, one extending and one releasing, always end released and consistent', async (t) => {
  const key = uniqueKey('race');
  const a = new Semaphore(await connectLibrary(), key, { permits: 1, ttl: 5_000 });
  const b = new Semaphore(await connectLibrary(), key, { permits: 1, ttl: 5_000 });
  const outcomes = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const lease = await a.acquire({ autoRefresh: false });
    const [h1, h2] = await Promise.all([a.lease(lease.id), b.lease(lease.id)]);
    // Sent in either order, from two connections: whichever Redis runs first, the end is the same.
    let extend: Promise<number>;
    let release: Promise<boolean>;
    if (i % 2 === 0) {
      extend = h1.extend(60_000);
      release = h2.release();
    } else {
      release = h2.release();
      extend = h1.extend(60_000);
    }
    const [extended, released] = await Promise.allSettled([extend, release]);
    t.is(released.status, 'fulfilled');
    t.true(released.status === 'fulfilled' && released.value, 'the release found the lease');
    if (extended.status === 'rejected') {
      t.true(extended.reason instanceof LeaseLostError, String(extended.reason));
      outcomes.add('release first');
    } else {
      outcomes.add('extend first');
    }
    t.is((await a.status()).held, 0, 'released either way');
    // Whichever went first, no handle can act on it any more.
    await t.throwsAsync(h1.extend(1_000), { instanceOf: LeaseLostError });
    t.false(await lease.release());
  }
  t.log(`outcomes seen: ${[...outcomes].join(', ')}`);
});

test('startAutoRefresh turns a fixed term into a refreshing lease that outlives it', async (t) => {
  const redis = await connect();
  const key = uniqueKey('resume');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 2_000 });
  const lease = await mutex.acquire({ autoRefresh: false });
  const handle = await new Mutex(await connectLibrary(), key, { ttl: 2_000 }).lease(lease.id);
  handle.startAutoRefresh();
  t.true(handle.autoRefresh);
  handle.startAutoRefresh();
  // Follow the expiry in Redis: refreshes (every ttl / 3) push it a whole ttl past the term.
  const termEnd = Math.floor(lease.fencingToken / 1000) + 2_000;
  const expiry = await eventually(
    () => expiryOf(redis, key, lease),
    (ms) => ms === null || handle.signal.aborted || ms >= termEnd + 2_000,
    { within: 20_000, every: 50 },
  );
  if (expiry === null || handle.signal.aborted) return t.fail('the lease was lost');
  if (expiry < termEnd + 2_000) return t.fail(`the expiry never moved past ${expiry}`);
  t.true(handle.held);
  t.true(await handle.release());
});

test('a refresh never undoes an extension', async (t) => {
  const redis = await connect();
  const key = uniqueKey('extend-auto');
  // Long enough that a busy machine cannot stall this process past the lease's deadline
  // between the acquire and the extension's reply (that would end the lease first).
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 1_500 });
  // Read before the acquire: a round trip between it and the extension could outlast the ttl on a busy machine.
  const extendedTo = (await serverMs(redis)) + 60_000;
  const lease = await mutex.acquire();
  t.true(lease.autoRefresh);
  await lease.extend(60_000);
  // Refreshes (every 500 ms) go on; the expiry stays where the extension put it.
  const first = (await expiryOf(redis, key, lease))!;
  t.true(first >= extendedTo);
  await delay(1_100);
  t.is(await expiryOf(redis, key, lease), first);
  await lease.release();
});

test('a fixed-term waiter granted by a release gets a whole term from its grant', async (t) => {
  const redis = await connectLibrary();
  const key = uniqueKey('term-renew');
  const mutex = new Mutex(redis, key, { ttl: 60_000 });
  const holder = await mutex.acquire();
  const waiting = queued(key);
  const next = mutex.acquire({ autoRefresh: false });
  await waiting;
  // Time passes after the waiter's last heartbeat, which set its deadline to then + ttl.
  await delay(1_000);
  await holder.release();
  const lease = await next;
  // Without the renewal the term would end at the waiter's deadline, 1 s sooner.
  t.true((await lease.remaining()) > 59_500);
  await lease.release();
});

test('a lease taken with a fixed term outlives its process; another process takes it over, extends and releases it; a waiter is granted at that release and not before', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
  const lib = await connectLibrary();
  const key = uniqueKey('cross-process');
  const permits = 1;
  const ttl = 4_000;
  const [scheduler, worker, waiter] = await Promise.all([
    Contender.start(url),
    Contender.start(url),
    Contender.start(url),
  ]);

  scheduler.send({ op: 'acquire', id: 'job', key, permits, ttl, autoRefresh: false });
  const granted = await scheduler.event('granted', 'job');
  scheduler.send({ op: 'quit', release: false });
  t.is(await scheduler.exited(), 0);
  t.deepEqual(
    (await new Mutex(lib, key).status()).holders.map((h) => String(h.fencingToken)),
    [granted.fence],
    'still held after its process exited',
  );

  waiter.send({ op: 'acquire', id: 'next', key, permits, ttl });
  await waiter.event('queued', 'next');

  worker.send({ op: 'takeOver', id: 'job', key, permits, ttl, leaseId: granted.leaseId });
  const took = await outcome(worker, 'tookOver', 'job');
  t.is(took.fence, granted.fence);
  worker.send({ op: 'extend', id: 'job', ms: 60_000 });
  t.true((await outcome(worker, 'extended', 'job')).remaining > 59_000);
  // Past the original term: the waiter is still waiting, because of the extension.
  const termEnd = Number(granted.fence) / 1000 + ttl;
  const past = await eventually(
    () => serverMs(redis),
    (ms) => ms >= termEnd + 500,
    { within: ttl + 1_000, every: 100 },
  );
  t.true(past >= termEnd + 500, 'the original term is over');
  const mid = await new Mutex(lib, key).status();
  t.deepEqual(
    mid.holders.map((h) => String(h.fencingToken)),
    [granted.fence],
  );
  t.is(mid.waiting, 1);
  t.false(waiter.reports.some((r) => r.ev === 'granted'));

  const releasedAt = await serverMs(redis);
  worker.send({ op: 'release', id: 'job' });
  t.true((await worker.event('released', 'job')).released);
  const next = await waiter.event('granted', 'next');
  t.true(BigInt(next.fence) > BigInt(granted.fence));
  t.true(Number(next.fence) / 1000 >= releasedAt, 'granted at the release, not before');
  for (const c of [worker, waiter]) {
    c.send({ op: 'quit' });
    t.is(await c.exited(), 0);
  }
  t.false([scheduler, worker, waiter].some((c) => c.reports.some((r) => r.ev === 'unhandled' || r.ev === 'error')));
});

test('a worker that dies between taking a lease over and releasing it: the permit comes back when its term ends', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
  const key = uniqueKey('dead-worker');
  const permits = 2;
  const ttl = 3_000;
  const sem = new Semaphore(await connectLibrary(), key, { permits, ttl });
  const worker = await Contender.start(url);
  const lease = await sem.acquire({ weight: 2, autoRefresh: false });
  worker.send({ op: 'takeOver', id: 'job', key, permits, ttl, leaseId: lease.id });
  await outcome(worker, 'tookOver', 'job');
  worker.send({ op: 'extend', id: 'job', ms: 4_000 });
  await outcome(worker, 'extended', 'job');
  const expiry = (await expiryOf(redis, key, lease))!;
  await worker.kill();

  const next = await sem.acquire({ timeout: 20_000 });
  t.true(next.fencingToken >= expiry * 1000, 'not before the term ends');
  t.false(lease.held);
  t.false(await lease.release());
  await next.release();
});

test('a fixed-term lease does not keep its process alive, and a closed client leaves it held', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('exit');
  const c = await Contender.start(url);
  c.send({ op: 'acquire', id: 'x', key, permits: 1, ttl: 600_000, autoRefresh: false });
  const granted = await c.event('granted', 'x');
  c.send({ op: 'quit', release: false });
  // Exits on its own (the test would time out otherwise) while the term has minutes to run.
  t.is(await c.exited(), 0);
  t.false(
    c.reports.some((r) => r.ev === 'lost'),
    'a closed client is no loss for a fixed-term lease',
  );
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 600_000 });
  const handle = await mutex.lease(granted.leaseId);
  t.true((await handle.remaining()) > 500_000);
  t.true(await handle.release());
});

test('taking over through a Redis that cannot be reached rejects with the connection error, not a loss', async (t) => {
  const key = uniqueKey('takeover-down');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 5_000 });
  const lease = await mutex.acquire({ autoRefresh: false });
  const port = await closedPort();
  // ioredis on purpose: its options fail a command at once; node-redis queues it while it reconnects.
  const unreachable = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  unreachable.on('error', () => {});
  const error = await t.throwsAsync(new Mutex(unreachable, key, { ttl: 5_000 }).lease(lease.id));
  t.false(error instanceof LeaseLostError, String(error));
  unreachable.disconnect();
  // Nothing changed: the lease is still held, and still extends.
  t.true((await lease.extend(10_000)) > 9_000);
  t.true(await lease.release());
});

test('release resolves to whether it gave permits back, the same answer every time; leases are disposable', async (t) => {
  const mutex = new Mutex(await connectLibrary(), uniqueKey('types'));
  const held = async (): Promise<number> => {
    await using lease = await mutex.acquire({ autoRefresh: false });
    return lease.remaining();
  };
  t.true((await held()) > 0);
  t.is((await mutex.status()).held, 0, 'disposed');
  const lease: Lease = await mutex.acquire();
  const released: boolean = await lease.release();
  t.true(released);
  t.true(await lease.release());
});

test('a handle whose own term ended acts on nothing: the extension another handle made stands', async (t) => {
  const key = uniqueKey('inert');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 2_000 });
  const scheduler = await mutex.acquire({ autoRefresh: false });
  const worker = await new Mutex(await connectLibrary(), key, { ttl: 2_000 }).lease(scheduler.id);
  await worker.extend(60_000);
  t.true((await aborted(scheduler.signal)) instanceof LeaseLostError);
  t.false(await scheduler.release(), 'the ended handle gives nothing back');
  await t.throwsAsync(scheduler.extend(1_000), { instanceOf: LeaseLostError });
  t.is((await mutex.status()).held, 1);
  t.true(worker.held);
  t.true(await worker.release());
});

test('a fixed-term lease whose client was closed stays held; its handle refuses to act with ClientClosedError', async (t) => {
  const key = uniqueKey('closed-fixed');
  const client = await connectLibrary();
  const lease = await new Mutex(client, key, { ttl: 60_000 }).acquire({ autoRefresh: false });
  const id = lease.id;
  await quit(client);
  t.false(lease.signal.aborted);
  await t.throwsAsync(lease.extend(1_000), { instanceOf: ClientClosedError });
  await t.throwsAsync(lease.remaining(), { instanceOf: ClientClosedError });
  await t.throwsAsync(lease.release(), { instanceOf: ClientClosedError });
  t.throws(() => lease.startAutoRefresh(), { instanceOf: ClientClosedError });
  const other = new Mutex(await connectLibrary(), key, { ttl: 60_000 });
  t.is((await other.status()).held, 1);
  t.true(await (await other.lease(id)).release());
});
