/**
 * A contender in another process: it runs the library against real Redis and does
 * what the test tells it over IPC, reporting what happens. Started by processes.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { once } from 'node:events';
import { subscribe } from 'node:diagnostics_channel';
import { Redis } from 'ioredis';
import { channels, Semaphore, type Lease, type QueuedEvent, type RedisClient } from '../../src/index.js';
import { connectVersion, versionFromEnv } from './node-redis-versions.js';
import type { Command, Report } from './protocol.js';

const skew = Number(process.env['CLOCK_SKEW_MS'] ?? 0);
if (skew !== 0) {
  // The library must never read the wall clock; this makes sure a wrong one cannot matter.
  const realNow = Date.now;
  Date.now = () => realNow() + skew;
}

const send = (report: Report) => process.send?.(report);
const url = process.env['REDIS_URL'] ?? '';
/** Commands of the test's own (the fenced resource, counters) always go through ioredis. */
const redis = new Redis(url, { maxRetriesPerRequest: null });
redis.on('error', () => {});
/** The client the library gets: ioredis, or node-redis with RFS_CLIENT (see .ci/run). */
const lib = await libraryClient();

async function libraryClient(): Promise<RedisClient> {
  const v = versionFromEnv();
  return v ? ((await connectVersion(v, url)) as unknown as RedisClient) : redis;
}
const leases = new Map<string, Lease>();
// Telemetry is published inside the acquire's own async context, which carries the test's id.
const currentId = new AsyncLocalStorage<string>();

subscribe(channels.queued.name, (message) => {
  const id = currentId.getStore();
  if (id) send({ ev: 'queued', id, position: (message as QueuedEvent).position });
});

process.on('unhandledRejection', (error) => {
  send({ ev: 'unhandled', message: String(error) });
});

/** Remembers a lease under the test's name for it, and reports its loss. */
function keep(id: string, lease: Lease): void {
  leases.set(id, lease);
  lease.signal.addEventListener('abort', () => {
    const reason = lease.signal.reason as Error;
    if (reason.name === 'LeaseLostError') send({ ev: 'lost', id, name: reason.name });
  });
}

async function loop(c: Extract<Command, { op: 'loop' }>): Promise<void> {
  const sem = new Semaphore(lib, c.key, { permits: c.permits, ttl: c.ttl });
  let violations = 0;
  let fencedRejects = 0;
  for (let i = 0; i < c.count; i++) {
    await sem.use(async (lease) => {
      // The protected resource is Redis itself, whose single thread orders every entry.
      const inside = await redis.incr(`${c.key}:inside`);
      if (inside > c.permits) violations++;
      const accepted = await redis.eval(
        "local m = tonumber(redis.call('GET', KEYS[1]) or '0'); " +
          "if tonumber(ARGV[1]) <= m then return 0 end; redis.call('SET', KEYS[1], ARGV[1]); return 1",
        1,
        `${c.key}:fence-resource`,
        String(lease.fencingToken),
      );
      if (c.permits === 1 && accepted !== 1) fencedRejects++;
      const until = performance.now() + c.holdMs;
      while (performance.now() < until) {
        // Busy-hold: the point is to occupy the permit, not to yield.
      }
      await redis.decr(`${c.key}:inside`);
    });
  }
  send({ ev: 'loopDone', count: c.count, violations, fencedRejects });
}

process.on('message', (message: Command) => {
  void (async () => {
    switch (message.op) {
      case 'acquire': {
        const sem = new Semaphore(lib, message.key, { permits: message.permits, ttl: message.ttl });
        try {
          const lease = await currentId.run(message.id, () =>
            sem.acquire({ weight: message.weight ?? 1, autoRefresh: message.autoRefresh ?? true }),
          );
          keep(message.id, lease);
          send({ ev: 'granted', id: message.id, fence: String(lease.fencingToken), leaseId: lease.id });
          if (message.releaseAtOnce) {
            await lease.release();
            send({ ev: 'released', id: message.id });
          }
        } catch (error) {
          send({ ev: 'error', id: message.id, name: (error as Error).name, message: String(error) });
        }
        break;
      }
      case 'takeOver': {
        const sem = new Semaphore(lib, message.key, { permits: message.permits, ttl: message.ttl });
        try {
          const lease = await sem.lease(message.leaseId);
          keep(message.id, lease);
          const remaining = await lease.remaining();
          send({ ev: 'tookOver', id: message.id, fence: String(lease.fencingToken), remaining });
        } catch (error) {
          send({ ev: 'error', id: message.id, name: (error as Error).name, message: String(error) });
        }
        break;
      }
      case 'extend': {
        try {
          const remaining = await leases.get(message.id)!.extend(message.ms);
          send({ ev: 'extended', id: message.id, remaining });
        } catch (error) {
          send({ ev: 'error', id: message.id, name: (error as Error).name, message: String(error) });
        }
        break;
      }
      case 'release': {
        const released = await leases.get(message.id)?.release();
        send({ ev: 'released', id: message.id, released });
        break;
      }
      case 'loop':
        await loop(message);
        break;
      case 'quit':
        if (message.release !== false) for (const lease of leases.values()) await lease.release();
        {
          // The leases hear of the end with the client's 'end' event, after quit() resolves.
          const ended = once(lib as unknown as NodeJS.EventEmitter, 'end');
          await (lib as unknown as { quit(): Promise<unknown> }).quit();
          await ended;
          if (lib !== redis) await redis.quit();
        }
        // No process.exit(): the test checks that nothing of the library keeps us alive.
        process.disconnect?.();
        break;
    }
  })();
});

send({ ev: 'ready' });
