import test from 'ava';
import { Mutex, Semaphore } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import { queued } from './helpers/events.js';
import { Contender } from './helpers/processes.js';
import { connect, connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

/** The part of a key Redis Cluster hashes: the first non-empty {...}. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

test('every key and channel of a semaphore shares one hash tag', (t) => {
  const space = keyspace('app', 'partner-api');
  const tags = new Set([...space.keys, `${space.channelPrefix}inbox`].map(hashTag));
  t.deepEqual([...tags], ['partner-api']);
});

test('once nobody holds or waits, only the fencing counter remains', async (t) => {
  const redis = await connect();
  const key = uniqueKey('clean');
  const sem = new Semaphore(await connectLibrary(), key, { permits: 2 });
  const a = await sem.acquire();
  const b = await sem.acquire();
  const isQueued = queued(key);
  const c = sem.acquire();
  await isQueued;
  t.deepEqual((await redis.keys(`rfs:{${key}}:*`)).sort(), [
    `rfs:{${key}}:fence`,
    `rfs:{${key}}:line`,
    `rfs:{${key}}:tickets`,
    `rfs:{${key}}:waiters`,
  ]);
  await a.release();
  await b.release();
  await (await c).release();
  t.deepEqual(await redis.keys(`rfs:{${key}}:*`), [`rfs:{${key}}:fence`]);
});

test('a dead holder blocks nobody past its ttl, and the next call clears what it left', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
  const key = uniqueKey('abandoned');
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'h', key, permits: 1, ttl: 300 });
  await child.event('granted', 'h');
  await child.kill();
  // The lease outlives its process until its ttl, and not a moment longer.
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 300 });
  const lease = await mutex.acquire();
  t.deepEqual(
    (await mutex.status()).holders.map((h) => h.token),
    [lease.token],
  );
  await lease.release();
  t.deepEqual(await redis.keys(`rfs:{${key}}:*`), [`rfs:{${key}}:fence`]);
});

test('the keys of waiters that all died expire on their own, no later than their ttl', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
  const key = uniqueKey('dead-waiters');
  const holder = await new Mutex(await connectLibrary(), key, { ttl: 60_000 }).acquire();
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'w', key, permits: 1, ttl: 2_000 });
  await child.event('queued', 'w');
  await child.kill();
  for (const name of ['waiters', 'line']) {
    const ttl = await redis.pttl(`rfs:{${key}}:${name}`);
    t.true(ttl > 0 && ttl <= 2_000, `${name} expires in ${ttl} ms`);
  }
  t.is(await redis.pttl(`rfs:{${key}}:fence`), -1);
  await holder.release();
});

test('a custom prefix names every key', async (t) => {
  const redis = await connect();
  const key = uniqueKey('prefix');
  const mutex = new Mutex(await connectLibrary(), key, { prefix: 'myapp:locks' });
  const lease = await mutex.acquire();
  t.deepEqual((await redis.keys(`myapp:locks:{${key}}:*`)).sort(), [
    `myapp:locks:{${key}}:fence`,
    `myapp:locks:{${key}}:tickets`,
  ]);
  await lease.release();
});
