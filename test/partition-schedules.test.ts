/**
 * A property over partition schedules: three clients, each through a proxy of its own,
 * contend for a Semaphore(2) while random partitions, heals, delays and resets strike
 * them at random moments. Redis is sampled throughout, and checked again once all has
 * settled: at most one ticket per acquire() at any moment, never more than the permits
 * held, every lease a client counts as held known to Redis by its token, and no permit
 * held for nobody once a ttl has passed. Replay a failure with the seed and path it
 * prints: RFS_PARTITION_SEED=<seed> RFS_PARTITION_PATH=<path> npx ava <this file>
 * (RFS_PARTITION_RUNS=<n> for more schedules than CI's six).
 */
import { fc } from '@fast-check/ava';
import test from 'ava';
import { Redis } from 'ioredis';
import { compiledScripts, shipped } from '../src/compiled-scripts.js';
import { type Lease, type RedisClient, Semaphore } from '../src/index.js';
import { eventually } from './helpers/eventually.js';
import { keysOf } from './helpers/keys.js';
import { type NodeRedisConnection, shut } from './helpers/node-redis-versions.js';
import { type PartitionProxy, startProxy } from './helpers/partition.js';
import { connect, connectLibrary, startRedisServer, uniqueKey } from './helpers/redis.js';

const ttl = 600;
const permits = 2;
const clients = 3;
/** How long a schedule runs: its steps fall within it. */
const span = 3 * ttl;

type Step = {
  readonly at: number;
  readonly who: number;
  readonly what: 'hold' | 'hold up' | 'hold down' | 'drop' | 'delay' | 'reset' | 'heal' | 'heal up' | 'heal down';
  readonly ms: number;
};

const steps = fc.array(
  fc.record({
    at: fc.integer({ min: 0, max: span }),
    who: fc.integer({ min: 0, max: clients - 1 }),
    what: fc.constantFrom(
      'hold',
      'hold up',
      'hold down',
      'drop',
      'delay',
      'reset',
      'heal',
      'heal up',
      'heal down',
    ) as fc.Arbitrary<Step['what']>,
    ms: fc.integer({ min: 1, max: ttl / 2 }),
  }),
  { minLength: 1, maxLength: 8 },
);

/** Proxies whose bytes were dropped since their last reset. */
const dropped = new WeakSet<PartitionProxy>();

/**
 * TCP never loses bytes from the middle of a stream: it resends them until it gives up
 * and resets. So a drop is a partition that ends in resets: healing one resets first.
 */
function apply(proxy: PartitionProxy, step: Step): void {
  const [verb, direction] = step.what.split(' ') as ['hold' | 'drop' | 'delay' | 'reset' | 'heal', 'up' | 'down'];
  if (verb === 'drop') dropped.add(proxy);
  if ((verb === 'heal' || verb === 'reset') && dropped.has(proxy)) {
    dropped.delete(proxy);
    proxy.reset();
  }
  if (verb === 'delay') proxy.delay(step.ms);
  else if (verb !== 'reset') proxy[verb](direction);
}

const acquireSha = compiledScripts(shipped).acquire.sha;
const acquireLua = compiledScripts(shipped).acquire.lua;

/**
 * Calls `seen(token)` for every acquire script call `client` sends: the acquire is the
 * one call that can put a ticket in Redis, and its token names the ticket.
 */
function onAcquireSent(client: RedisClient, seen: (token: string) => void): void {
  type Send = (...args: unknown[]) => unknown;
  const c = client as unknown as { sendCommand: Send; _self?: { sendCommand: Send } };
  const target = c._self ?? c;
  const original = target.sendCommand;
  target.sendCommand = function (this: unknown, ...args: unknown[]) {
    // ioredis: a Command with name and args; node-redis: an array (a cluster's after its routing arguments).
    const command = args[0] as { name?: string; args?: unknown[] } | undefined;
    const words = (command?.args ? [command.name, ...command.args] : args.find(Array.isArray)) as unknown[] | undefined;
    const [name, body, , , , , , , token] = words ?? [];
    const script = String(body);
    if (/^eval(sha)?$/i.test(String(name)) && (script === acquireSha || script === acquireLua)) seen(String(token));
    return original.apply(this, args);
  };
}

type Contender = {
  readonly proxy: PartitionProxy;
  readonly client: RedisClient;
  /** Tokens the acquire under way has sent (a resend sends the same one again). */
  tokens: Set<string>;
  lease: Lease | undefined;
  /** What its loop awaits now, and since when: said if it never ends. */
  doing: string;
  since: number;
};

/** Redis's view now: the unexpired holders' entries, the waiters' tokens, and its clock (ms). */
async function sample(redis: Redis, key: string) {
  const k = keysOf(key);
  const [time, holders, waiters] = (await redis
    .multi()
    .time()
    .zrange(k.tickets, 0, -1, 'WITHSCORES')
    .zrange(k.waiters, 0, -1, 'WITHSCORES')
    .exec()) as [[null, [string, string]], [null, string[]], [null, string[]]];
  const now = Number(time[1][0]) * 1000 + Math.floor(Number(time[1][1]) / 1000);
  const live = (flat: string[]) => {
    const out: string[] = [];
    for (let i = 0; i < flat.length; i += 2) if (Number(flat[i + 1]) > now) out.push(flat[i] as string);
    return out;
  };
  return { holders: live(holders[1]), waiters: live(waiters[1]) };
}

async function run(schedule: readonly Step[], seen: string[]): Promise<void> {
  const server = await startRedisServer();
  const admin = await connect(server.url);
  const key = uniqueKey('partition-schedule');
  const contenders: Contender[] = [];
  for (let i = 0; i < clients; i++) {
    const proxy = await startProxy(server.port);
    const client = await connectLibrary(proxy.url);
    const contender: Contender = { proxy, client, tokens: new Set(), lease: undefined, doing: 'starting', since: 0 };
    onAcquireSent(client, (token) => contender.tokens.add(token));
    contenders.push(contender);
  }
  try {
    const problems: string[] = [];
    let stop = false;

    // Each client takes a permit, holds it a moment, gives it back, and again, whatever the network does.
    const loops = contenders.map(async (c, i) => {
      const sem = new Semaphore(c.client, key, { permits, ttl });
      while (!stop) {
        c.tokens = new Set();
        const doing = (what: string) => {
          c.doing = what;
          c.since = performance.now();
        };
        try {
          doing('acquire()');
          c.lease = await sem.acquire({ timeout: 3 * ttl });
          doing('holding');
          await new Promise((resolve) => setTimeout(resolve, 20 + 30 * i));
          // A release settles by the lease's deadline, a ttl at most from now: twice that is
          // a bound no busy machine should reach, and a release waiting out a partition would.
          const from = performance.now();
          doing('release()');
          await c.lease.release().catch(() => {});
          const took = performance.now() - from;
          if (took > 2 * ttl) problems.push(`a release took ${Math.round(took)} ms to settle, on a ttl of ${ttl} ms`);
        } catch {
          // Timed out or cut off: the next round tries again.
        } finally {
          c.lease = undefined;
        }
      }
    });

    // The sampler: Redis's state against what each client believes, until the loops end.
    const sampler = (async () => {
      while (!stop) {
        const heldBefore = contenders.map((c) => (c.lease?.held ? c.lease : undefined));
        const s = await sample(admin, key);
        if (s.holders.length > permits) problems.push(`${s.holders.length} holders on ${permits} permits`);
        const present = new Set([...s.holders.map((h) => h.slice(0, h.lastIndexOf('|'))), ...s.waiters]);
        for (const c of contenders) {
          const mine = [...c.tokens].filter((t) => present.has(t));
          if (mine.length > 1) problems.push(`one acquire has ${mine.length} tickets: ${mine.join(', ')}`);
        }
        contenders.forEach((c, i) => {
          const lease = heldBefore[i];
          // Held before and after the read: Redis must have had it throughout.
          if (lease && c.lease === lease && lease.held && !s.holders.includes(`${lease.token}|${lease.fencingToken}`)) {
            problems.push(`a lease counted as held is not in Redis: ${lease.token}`);
          }
        });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    // The schedule, each step at its moment.
    const started = performance.now();
    for (const step of [...schedule].sort((a, b) => a.at - b.at)) {
      const wait = step.at - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      apply(contenders[step.who]!.proxy, step);
      seen.push(`${Math.round(performance.now() - started)} ms: client ${step.who} ${step.what}`);
    }
    for (const c of contenders) apply(c.proxy, { at: 0, who: 0, what: 'heal', ms: 0 });
    stop = true;
    // Every loop ends within its acquire's timeout and a release's ttl; far longer means one hangs.
    let hung: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.all([...loops, sampler]).then(() => true),
      new Promise<false>((resolve) => {
        hung = setTimeout(() => resolve(false), 8 * ttl);
      }),
    ]);
    clearTimeout(hung);
    if (!ended) {
      const now = performance.now();
      const stuck = contenders.map((c, i) => `client ${i}: ${c.doing} for ${Math.round(now - c.since)} ms`);
      throw new Error(`a client never settled once every partition healed:\n${stuck.join('\n')}`);
    }
    // Everything settled and healed: within a ttl, nothing may be left held or waiting.
    const end = await eventually(
      () => sample(admin, key),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
      { within: 2 * ttl, every: 20 },
    );
    if (end.holders.length > 0 || end.waiters.length > 0) {
      problems.push(
        `a ttl after the end: held by ${end.holders.join(', ') || 'none'}, waiting ${end.waiters.join(', ')}`,
      );
    }
    if (problems.length > 0) throw new Error(problems.slice(0, 5).join('\n'));
  } finally {
    // This run's clients and proxies go with its server, failed or not: none may be left
    // reconnecting to it, which would keep the test's process from exiting.
    for (const c of contenders) {
      if (c.client instanceof Redis) c.client.disconnect();
      else await shut(c.client as unknown as NodeRedisConnection);
      await c.proxy.close();
    }
    admin.disconnect();
    await server.stop();
  }
}

test('partitions, heals, delays and resets at random moments: one ticket per acquire, no permit held for nobody', async (t) => {
  t.timeout(120_000);
  const seed = process.env['RFS_PARTITION_SEED'];
  const path = process.env['RFS_PARTITION_PATH'];
  let last: string[] = [];
  const result = await fc.check(
    fc.asyncProperty(steps, async (schedule) => {
      last = [];
      await run(schedule, last);
    }),
    {
      numRuns: Number(process.env['RFS_PARTITION_RUNS'] ?? 6),
      endOnFailure: true,
      ...(seed && { seed: Number(seed) }),
      ...(path && { path }),
    },
  );
  t.log(`seed ${result.seed}${result.failed ? `, path ${result.counterexamplePath}` : ''}`);
  t.false(result.failed, `${String(result.errorInstance)}\nschedule as it ran:\n${last.join('\n')}`);
});
