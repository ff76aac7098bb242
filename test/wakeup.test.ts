import test from 'ava';
import { Redis } from 'ioredis';
import { ClientClosedError, Mutex } from '../src/index.js';
import { recordCommands, scriptCalls } from './helpers/commands.js';
import { heldAndWaiting, queued } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { type NodeRedisConnection, shut } from './helpers/node-redis-versions.js';
import { Contender } from './helpers/processes.js';
import { connect, connectLibrary, redisUrl, uniqueKey } from './helpers/redis.js';

test('an uncontended acquire is one script call and no subscription; a release is one', async (t) => {
  const redis = await connectLibrary();
  const admin = await connect();
  const mutex = new Mutex(redis, uniqueKey('one-trip'));
  // The first acquire on a client also checks maxmemory-policy, beside it; count from the second.
  await (await mutex.acquire()).release();
  const recorder = recordCommands(redis);
  const lease = await mutex.acquire();
  t.deepEqual(recorder.names, ['evalsha']);
  await lease.release();
  t.deepEqual(recorder.names, ['evalsha', 'evalsha']);
  recorder.stop();
  const names = keysOf(mutex.key);
  t.deepEqual(await admin.pubsub('NUMSUB', names.wake('x')), [names.wake('x'), 0]);
  t.is(((await admin.pubsub('CHANNELS', names.pattern)) as string[]).length, 0);
});

test('a waiter is woken by the grant message itself: no polling, no confirm round trip', async (t) => {
  const url = await redisUrl();
  const redis = await connectLibrary();
  const key = uniqueKey('push');
  // A ttl far beyond the test means no heartbeat can be what finds the grant.
  const mutex = new Mutex(redis, key, { ttl: 600_000 });
  const holder = await mutex.acquire();
  const first = queued(key);
  // The first wait in a process subscribes, then re-checks once to close the subscribe race.
  const warmup = mutex.acquire();
  await first;
  const child = await Contender.start(url);
  await holder.release();
  await (await warmup).release();

  const holder2 = await mutex.acquire();
  const recorder = recordCommands(redis);
  const second = queued(key);
  const waiting = mutex.acquire();
  await second;
  // Release from another process, so that nothing on our connection is involved.
  child.send({ op: 'acquire', id: 'c', key, permits: 1, ttl: 600_000 });
  await child.event('queued', 'c');
  await holder2.release();
  const lease = await waiting;
  // The enqueue and the release: no heartbeat, no re-check, no confirm.
  t.is(scriptCalls(recorder.names), 2);
  recorder.stop();
  await lease.release();
  await child.event('granted', 'c');
  await child.kill();
});

test('a process that acquired, waited, released and closed its client exits by itself', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('exit');
  const mutex = new Mutex(await connectLibrary(), key, { ttl: 600_000 });
  const holder = await mutex.acquire();
  const child = await Contender.start(url);
  child.send({ op: 'acquire', id: 'w', key, permits: 1, ttl: 600_000 });
  await child.event('queued', 'w');
  await holder.release();
  await child.event('granted', 'w');
  // The child's wake-up subscription lingers, but must not keep the process alive.
  child.send({ op: 'quit' });
  t.is(await child.exited(), 0);
});

test('closing the client rejects a pending acquire with ClientClosedError instead of leaving it hanging', async (t) => {
  const holderClient = await connectLibrary();
  const waiterClient = await connectLibrary();
  const key = uniqueKey('closed');
  const waiter = new Mutex(waiterClient, key);
  const { holder, waiting } = await heldAndWaiting(new Mutex(holderClient, key), { waiter });
  // Closed at once, as each client does it (node-redis v4 has no destroy()).
  if (waiterClient instanceof Redis) waiterClient.disconnect();
  else void shut(waiterClient as unknown as NodeRedisConnection);
  const error = await t.throwsAsync(waiting, { instanceOf: ClientClosedError });
  t.is(error?.code, 'ERR_SEMAPHORE_CLIENT_CLOSED');
  await holder.release();
});
