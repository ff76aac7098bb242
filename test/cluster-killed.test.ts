/**
 * A master killed outright, in a file of its own: node-redis v4 and v5 clusters never
 * leave a dead master (see README, Clients), so .ci/run runs this file on ioredis and
 * node-redis 6 only.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { Mutex } from '../src/index.js';
import { slotOf, startCluster } from './helpers/cluster.js';
import { queued } from './helpers/events.js';
import { uniqueKey } from './helpers/redis.js';

test('a master killed outright: its replica is promoted and the semaphore grants again; two holders never both hold past the ttl', async (t) => {
  const c = await startCluster(3, 1);
  const client = await c.connectLibrary();
  const key = uniqueKey('forced-failover');
  const ttl = 3_000;
  const mutex = new Mutex(client, key, { ttl });
  const holder = await mutex.acquire();
  const isQueued = queued(key);
  const waiting = mutex.acquire();
  await isQueued;
  const { range } = await slotOf(c, `rfs:{${key}}:tickets`);
  const [, masterPort] = range[2]!;
  const [, replicaPort] = range[3]!;
  const replica = new Redis(replicaPort);
  // SIGKILL: no handover; the cluster promotes the replica once the master times out.
  await c.nodes.find((n) => n.port === masterPort)!.stop();
  while (!(await replica.info('replication')).includes('role:master')) {
    // The cluster decides after its node timeout (1 s here): no event to wait on.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
