/**
 * How many commands each path of the scripts runs inside Redis, counted by Redis
 * itself (INFO commandstats counts the calls a script makes): every redis.call costs
 * about as much as the script call's own overhead, so a regression here shows up as
 * Redis time for every user. Change a count here only with a reason.
 */
import test from 'ava';
import type { Redis } from 'ioredis';
import { keyspace } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import { connect, connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

/** The commands `run` made Redis execute from inside scripts, by name. */
async function callsOf(admin: Redis, run: () => Promise<unknown>): Promise<Record<string, number>> {
  await admin.config('RESETSTAT');
  await run();
  const stats = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, n] of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (!['evalsha', 'eval', 'config', 'info'].includes(name!)) calls[name!] = Number(n);
  }
  return calls;
}

test('redis.calls per path: 4 for an uncontended acquire, 2 for its release, and a handoff in one call', async (t) => {
  // A server of its own: nothing else may run commands while they are counted.
  const server = await startRedisServer();
  const redis = await connectLibrary(server.url);
  const admin = await connect(server.url);
  const key = uniqueKey('calls');
  const scripts = new Scripts(redis, keyspace('rfs', key), key);
  const acquire = (token: string) => scripts.acquire({ token, ttl: 10_000, wait: true, maxWaiters: Infinity });
  // Load the scripts first, so EVAL fallbacks do not blur the counts.
  await scripts.release('x.warmup', undefined);
  await scripts.heartbeat('x.warmup', 10_000);
  await scripts.refresh('x.warmup', 1, 10_000);
  await scripts.status(1);
  let holder = await acquire('x.0');
  await scripts.release('x.0', holder.kind === 'granted' ? holder.fence : 0);

  const paths: Record<string, Record<string, number>> = {};
  paths['uncontended acquire'] = await callsOf(admin, async () => (holder = await acquire('x.1')));
  const fence = holder.kind === 'granted' ? holder.fence : 0;
  // Longer than the acquire's ttl, so it moves the expiry even within the same ms.
  paths['refresh'] = await callsOf(admin, () => scripts.refresh('x.1', fence, 20_000));
  paths['read of a lease'] = await callsOf(admin, () => scripts.refresh('x.1', fence, 0));
  paths['release, nobody waiting'] = await callsOf(admin, () => scripts.release('x.1', fence));
  holder = await acquire('x.2');
  paths['acquire that queues'] = await callsOf(admin, () => acquire('x.3'));
  paths['heartbeat while queued'] = await callsOf(admin, () => scripts.heartbeat('x.3', 10_000));
  paths['release that hands over'] = await callsOf(admin, () =>
    scripts.release('x.2', holder.kind === 'granted' ? holder.fence : 0),
  );
  await acquire('x.4');
  paths['a waiter gives up'] = await callsOf(admin, () => scripts.release('x.4', undefined));

  t.deepEqual(paths, {
    'uncontended acquire': { time: 1, exists: 1, set: 1, zadd: 1 },
    refresh: { time: 1, zscore: 1, zadd: 1 },
    'read of a lease': { time: 1, zscore: 1 },
    'release, nobody waiting': { zrem: 1, zcard: 1 },
    'acquire that queues': {
      ...{ time: 1, exists: 1, zremrangebyscore: 1, zrange: 2 },
      ...{ zadd: 1, rpush: 1, pexpire: 2, get: 1 },
    },
    'heartbeat while queued': {
      ...{ time: 1, zremrangebyscore: 1, zrange: 3, zcard: 1, zscore: 1 },
      ...{ zadd: 1, pexpire: 2, lpos: 1, get: 1 },
    },
    // One script call: the release, the grant, the fencing token and the wake-up message.
    'release that hands over': {
      ...{ zrem: 2, zcard: 1, time: 1, zremrangebyscore: 1, zrange: 1 },
      ...{ lpop: 1, zscore: 1, set: 1, zadd: 1, publish: 1 },
    },
    'a waiter gives up': { zrem: 1, lindex: 1, lpop: 1, zcard: 1, del: 1 },
  });
});

test('a resize that grows the limit by k grants k waiters in one call, with as many commands on a line of 20 as of 2,000', async (t) => {
  const server = await startRedisServer();
  const redis = await connectLibrary(server.url);
  const admin = await connect(server.url);
  const grow = async (waiting: number) => {
    const key = uniqueKey('grow-calls');
    const scripts = new Scripts(redis, keyspace('rfs', key), key);
    const acquire = (token: string) => scripts.acquire({ token, ttl: 60_000, wait: true, maxWaiters: Infinity });
    await scripts.configure({ change: 'limit', limit: 1 });
    // A Semaphore's tokens (a Mutex's, without '/1', would stay at its one permit).
    t.is((await acquire('x.holder/1')).kind, 'granted');
    for (let i = 0; i < waiting; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, waiting - i) }, (_, j) => acquire(`x.${i + j}/1`)));
    }
    let reply: Awaited<ReturnType<Scripts['configure']>> | undefined;
    const calls = await callsOf(admin, async () => {
      reply = await scripts.configure({ change: 'limit', limit: 4 });
    });
    t.like(reply, { previousLimit: 1, granted: 3, refused: 0 });
    t.like(await scripts.status(0), { held: 4, waiting: waiting - 3 });
    return calls;
  };
  const short = await grow(20);
  const long = await grow(2_000);
  t.deepEqual(long, short);
  // Three grants: each a pop from the line, a fencing token, a holder and a message.
  t.is(short['publish'], 3);
  t.is(short['lpop'], 3);
});
