/**
 * A master killed outright, in a file of its own: node-redis v4 and v5 clusters never
 * leave a dead master (see README, Clients), so .ci/run runs this file on ioredis and
 * node-redis 6 only.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { Mutex } from '../src/index.js';
import { slotOf, startCluster } from './helpers/cluster.js';
import { heldAndWaiting } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { uniqueKey } from './helpers/redis.js';
import { promoted } from './helpers/replication.js';

test('a master killed outright: its replica is promoted and the semaphore grants again; two holders never both hold past the ttl', async (t) => {
  const c = await startCluster(3, 1);
  const client = await c.connectLibrary();
  const key = uniqueKey('forced-failover');
  const ttl = 3_000;
  const mutex = new Mutex(client, key, { ttl });
  const { holder, waiting } = await heldAndWaiting(mutex);
  const { range } = await slotOf(c, keysOf(key).tickets);
  const [, masterPort] = range[2]!;
  const [, replicaPort] = range[3]!;
  const replica = new Redis(replicaPort);
  // SIGKILL: no handover; the cluster promotes the replica once the master times out.
  await c.nodes.find((n) => n.port === masterPort)!.stop();
  await promoted(replica);
  replica.disconnect();
  // The holder lets go (or finds its lease gone: the promoted replica may lack the last writes).
  const holderReleased = performance.now();
  await holder.release().catch(() => {});
  const lease = await waiting;
  const grantedAt = performance.now();
  // Async replication may let the waiter in while the holder still believed it held;
  // that belief never outlives the holder's ttl.
  t.true(!holder.held || grantedAt - holderReleased < ttl);
  t.false(holder.held);
  t.true(lease.fencingToken > holder.fencingToken);
  await lease.release();
  const again = await mutex.acquire();
  t.true(again.fencingToken > lease.fencingToken);
  await again.release();
});
