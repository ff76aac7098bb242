import test from 'ava';
import { Mutex, type RedisClient } from '../src/index.js';
import { heldAndWaiting, subscriberEvent } from './helpers/events.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { uniqueKey } from './helpers/redis.js';
import { promoted } from './helpers/replication.js';
import { startSentinel } from './helpers/sentinel.js';
import { settingsScenario } from './helpers/settings.js';

// A ttl far beyond any test: no heartbeat can be what finds a grant, only its message.
const long = 600_000;

/** A holder, a waiter with a ttl so long that only a pushed grant can reach it in time, then the handoff. */
async function pushedHandoff(redis: RedisClient, key: string): Promise<number> {
  const { holder, waiting } = await heldAndWaiting(new Mutex(redis, key, { ttl: long }));
  await holder.release();
  const lease = await waiting;
  await lease.release();
  return lease.fencingToken;
}

test.serial(
  'through Redis Sentinel: pushed wake-ups before and after a failover, and the semaphore grants on the new master',
  async (t) => {
    const s = await startSentinel();
    const redis = await s.connectLibrary();
    const key = uniqueKey('sentinel');
    const before = await pushedHandoff(redis, key);
    // The master dies; the sentinel promotes the replica, and the client follows it there.
    await s.master.stop();
    await promoted(s.connect());
    const after = await pushedHandoff(redis, key);
    t.true(after > before);
    const mutex = new Mutex(redis, key);
    await (await mutex.acquire()).release();
    t.is((await mutex.status()).held, 0);
  },
);

test.serial(
  'through Redis Sentinel: a resize, pause and resume from one client steer the waiters of another',
  async (t) => {
    const s = await startSentinel();
    await settingsScenario(t, await s.connectLibrary(), await s.connectLibrary(), uniqueKey('sentinel-settings'));
  },
);

// Serial: another test's subscriber events must not stand in for this one's.
test.serial(
  'through Redis Sentinel: a killed pub/sub connection is restored and the waiter granted by its message',
  async (t) => {
    const s = await startSentinel();
    const redis = await s.connectLibrary();
    const admin = s.connect();
    const key = uniqueKey('sentinel-kill');
    const { holder, waiting } = await heldAndWaiting(new Mutex(redis, key, { ttl: long }));
    // Queued is reported before the subscription is confirmed: kill it once Redis has it.
    await eventually(
      async () => ((await admin.pubsub('CHANNELS', keysOf(key).wake('*'))) as string[]).length,
      (n) => n === 1,
    );
    const back = subscriberEvent('resubscribed');
    // The sentinel's own hello subscription on the master goes too; it reconnects by itself.
    t.true(Number(await admin.client('KILL', 'TYPE', 'pubsub')) >= 1);
    await back;
    // Only the message can wake it now: the re-check after the restore found the lock still held.
    await holder.release();
    const lease = await waiting;
    t.true(lease.fencingToken > holder.fencingToken);
    await lease.release();
  },
);
