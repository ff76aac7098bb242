import test from 'ava';
import { Redis } from 'ioredis';
import { Mutex } from '../src/index.js';
import { slotOf, startCluster } from './helpers/cluster.js';
import { heldAndWaiting } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { uniqueKey } from './helpers/redis.js';
import { promoted } from './helpers/replication.js';

test('a semaphore keeps working when its master fails over to its replica', async (t) => {
  const c = await startCluster(3, 1);
  const client = await c.connectLibrary();
  const key = uniqueKey('failover');
  const mutex = new Mutex(client, key, { ttl: 3_000 });
  const { holder, waiting } = await heldAndWaiting(mutex);

  // Find the replica of the master that serves the key, and promote it (a manual failover).
  const { range } = await slotOf(c, keysOf(key).tickets);
  const replicaPort = range[3]![1];
  const replica = new Redis(replicaPort);
  await replica.cluster('FAILOVER');
  await promoted(replica);
  replica.disconnect();

  // The holder's lease survived (a manual failover loses no writes) and still releases;
  // the waiter is granted on the new master, and new acquires work there.
  t.true(holder.held);
  await holder.release();
  const lease = await waiting;
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
  const again = await mutex.acquire();
  t.true(again.fencingToken > lease.fencingToken);
  await again.release();
  t.is((await mutex.status()).held, 0);
});
