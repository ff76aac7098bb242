/**
 * Any one key deleted or overwritten between calls, at any moment: no call fails with
 * a Lua error, status() always answers, the permits counted never exceed the limit,
 * and at the latest one ttl later the semaphore is whole again.
 */
import { fc, testProp } from '@fast-check/ava';
import type { Redis } from 'ioredis';
import { keyspace } from '../src/keys.js';
import type { ScriptVariant } from '../src/compiled-scripts.js';
import { Scripts } from '../src/scripts.js';
import { movableClock } from './helpers/clock.js';
import { shape } from './helpers/model.js';
import { connect, connectLibrary, uniqueKey } from './helpers/redis.js';

const permits = 3;
const ttl = 300;
const start = 1_800_000_000_000;

/** The scripts as shipped, on a clock the test moves (see helpers/clock.ts). */
const movable: ScriptVariant = { rewrite: movableClock };

/** `redis` moves the clock and does the damage; the scripts run on the library's client. */
type World = {
  redis: Redis;
  scripts: Scripts;
  keys: readonly string[];
  clockKey: string;
  now: number;
  fences: Map<string, number>;
};

const damages = {
  deleted: (r: Redis, k: string) => r.del(k),
  'a string': (r: Redis, k: string) => r.set(k, 'garbage'),
  'a number beyond 2^53': (r: Redis, k: string) => r.set(k, '99999999999999999999'),
  'a hash': (r: Redis, k: string) => r.multi().del(k).hset(k, 'garbage', '1').exec(),
  'a list': (r: Redis, k: string) => r.multi().del(k).rpush(k, 'x.junk', 'garbage').exec(),
  'a set': (r: Redis, k: string) => r.multi().del(k).zadd(k, 1, 'x.junk').exec(),
} as const;

type Op =
  | { op: 'acquire'; token: string; wait: boolean }
  | { op: 'heartbeat'; token: string }
  | { op: 'release'; token: string; exact: boolean }
  | { op: 'refresh'; token: string }
  | { op: 'advance'; ms: number }
  | { op: 'damage'; key: number; how: keyof typeof damages };

async function apply(w: World, step: Op): Promise<void> {
  switch (step.op) {
    case 'acquire': {
      const r = await w.scripts.acquire({ token: step.token, ttl, wait: step.wait, maxWaiters: Infinity });
      if (r.kind === 'granted') w.fences.set(step.token, r.fence);
      return;
    }
    case 'heartbeat': {
      const r = await w.scripts.heartbeat(step.token, ttl);
      if (r.kind === 'granted') w.fences.set(step.token, r.fence);
      return;
    }
    case 'release':
      await w.scripts.release(step.token, step.exact ? (w.fences.get(step.token) ?? 1) : undefined);
      return;
    case 'refresh':
      await w.scripts.refresh(step.token, w.fences.get(step.token) ?? 1, ttl);
      return;
    case 'advance':
      w.now += step.ms;
      await w.redis.set(w.clockKey, w.now);
      return;
    case 'damage':
      await damages[step.how](w.redis, w.keys[step.key]!);
      return;
  }
}

/** What must hold after every step, whatever was damaged. */
async function checkStatus(w: World, after: string): Promise<void> {
  const s = await w.scripts.status(100);
  const weights = s.holders.reduce((sum, h) => sum + h.weight, 0);
  if (s.held > permits || weights !== s.held) throw new Error(`${after}: held ${s.held}, holders weigh ${weights}`);
  const tokens = [...s.holders.map((h) => h.token), ...s.waiters.map((x) => x.token)];
  if (new Set(tokens).size !== tokens.length) throw new Error(`${after}: a token listed twice: ${tokens.join(', ')}`);
  if (s.waiters.length > s.waiting) throw new Error(`${after}: ${s.waiters.length} listed, ${s.waiting} waiting`);
}

const token = fc
  .tuple(fc.constantFrom('t0', 't1', 't2', 't3', 't4'), fc.integer({ min: 1, max: permits }))
  .map(([slot, weight]) => `x.${slot}${weight === 1 ? '' : `*${weight}`}/${permits}`);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('acquire' as const), token, wait: fc.boolean() }),
  fc.record({ op: fc.constant('heartbeat' as const), token }),
  fc.record({ op: fc.constant('release' as const), token, exact: fc.boolean() }),
  fc.record({ op: fc.constant('refresh' as const), token }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(1, 99, 150, 301) }),
  fc.record({
    op: fc.constant('damage' as const),
    key: fc.integer({ min: 0, max: 3 }),
    how: fc.constantFrom(...(Object.keys(damages) as (keyof typeof damages)[])),
  }),
);

testProp(
  'a key deleted or overwritten at any moment: no Lua error, never more than the permits, whole again within one ttl',
  [fc.array(op, { minLength: 1, maxLength: 40 })],
  async (t, ops) => {
    const redis = await connect();
    const key = uniqueKey('corrupt');
    const space = keyspace('corrupt', key);
    const clockKey = `${space.keys[0]}:clock`;
    await redis.set(clockKey, start);
    const w: World = {
      redis,
      scripts: new Scripts(await connectLibrary(), space, key, movable),
      keys: space.keys,
      clockKey,
      now: start,
      fences: new Map(),
    };
    for (const [i, step] of ops.entries()) {
      const after = `step ${i} ${JSON.stringify(step)}`;
      await apply(w, step);
      await checkStatus(w, after);
    }
    // Nobody calls for one ttl: every lease and ticket runs out, whatever was damaged.
    await apply(w, { op: 'advance', ms: ttl });
    const idle = await w.scripts.status(100);
    t.is(idle.held, 0);
    t.is(idle.waiting, 0);
    // And the semaphore serves again, in full.
    const all = `x.fresh*${permits}/${permits}`;
    const granted = await w.scripts.acquire({ token: all, ttl, wait: true, maxWaiters: Infinity });
    t.is(granted.kind, 'granted');
    t.is((await w.scripts.status(100)).held, permits);
    t.is(await w.scripts.release(all, granted.kind === 'granted' ? granted.fence : 0), 'released');
    const tokensBefore = [...w.fences.values()];
    if (granted.kind === 'granted' && tokensBefore.length > 0) t.true(granted.fence > Math.max(...tokensBefore));
    t.is(shape(all).weight, permits);
  },
  { numRuns: 150 },
);
