import { deepStrictEqual } from 'node:assert/strict';
import { fc, testProp } from '@fast-check/ava';
import test from 'ava';
import type { Redis } from 'ioredis';
import { keyspace } from '../src/keys.js';
import { Scripts, type ScriptVariant } from '../src/scripts.js';
import { SemaphoreModel } from './helpers/model.js';
import { connect, uniqueKey } from './helpers/redis.js';

/**
 * The scripts as shipped, but reading the time from a key the test sets instead of
 * from TIME, so that expiry can be driven step by step. Nothing else is changed.
 */
const movableClock = (lua: string) =>
  swap(
    lua,
    "local t = redis.call('TIME')",
    "local ms = tonumber(redis.call('GET', KEYS[5] .. ':clock'))\n" +
      '  local t = { tostring(math.floor(ms / 1000)), tostring((ms % 1000) * 1000) }',
  );

function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`planted change not applicable: ${from}`);
  return text.split(from).join(to);
}

const permits = 3;
const tokens = ['t0', 't1', 't2', 't3', 't4', 't5'];
const start = 1_800_000_000_000;

type Real = { redis: Redis; scripts: Scripts; clockKey: string };

abstract class Step implements fc.AsyncCommand<SemaphoreModel, Real> {
  check(): boolean {
    return true;
  }
  abstract apply(model: SemaphoreModel, real: Real): Promise<unknown[]>;
  async run(model: SemaphoreModel, real: Real): Promise<void> {
    const [expected, actual] = await this.apply(model, real);
    deepStrictEqual(actual, expected, `${this.toString()}: reply`);
    // After every step the whole visible state must agree too.
    deepStrictEqual(await real.scripts.status(permits, 100), model.status(100), `${this.toString()}: status`);
  }
  abstract toString(): string;
}

class Acquire extends Step {
  constructor(
    readonly token: string,
    readonly weight: number,
    readonly ttl: number,
    readonly wait: boolean,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    const a = { token: this.token, weight: this.weight, permits, ttl: this.ttl, wait: this.wait, inbox: 'm', maxWaiters: Infinity };
    return [model.acquire(this.token, this.weight, this.ttl, this.wait), await real.scripts.acquire(a)];
  }
  toString() {
    return `${this.wait ? 'acquire' : 'try'}(${this.token}, w${this.weight}, ttl ${this.ttl})`;
  }
}

class Release extends Step {
  constructor(readonly token: string) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    return [model.release(this.token), await real.scripts.release(this.token, permits)];
  }
  toString() {
    return `release(${this.token})`;
  }
}

class Refresh extends Step {
  constructor(
    readonly token: string,
    readonly ttl: number,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    return [model.refresh(this.token, this.ttl), await real.scripts.refresh(this.token, this.ttl, permits)];
  }
  toString() {
    return `refresh(${this.token}, ttl ${this.ttl})`;
  }
}

/** Time passes; a process that stops calling for its token has crashed, as far as Redis knows. */
class Advance extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    model.now += this.ms;
    await real.redis.set(real.clockKey, model.now);
    return [true, true];
  }
  toString() {
    return `advance(${this.ms} ms)`;
  }
}

const token = fc.constantFrom(...tokens);
const ttl = fc.constantFrom(100, 300);
const steps = fc.commands(
  [
    fc.tuple(token, fc.integer({ min: 1, max: permits }), ttl, fc.boolean()).map(([k, w, t, wait]) => new Acquire(k, w, t, wait)),
    token.map((k) => new Release(k)),
    fc.tuple(token, ttl).map(([k, t]) => new Refresh(k, t)),
    fc.constantFrom(1, 50, 99, 100, 150, 301).map((ms) => new Advance(ms)),
  ],
  { size: '+1' },
);

async function property(redis: Redis, variant: ScriptVariant, cmds: Iterable<fc.AsyncCommand<SemaphoreModel, Real>>) {
  const space = keyspace('model', uniqueKey('model'));
  const clockKey = `${space.keys[4]}:clock`;
  await redis.set(clockKey, start);
  const real: Real = { redis, scripts: new Scripts(redis, space, variant), clockKey };
  await fc.asyncModelRun(() => ({ model: new SemaphoreModel(permits, start), real }), cmds);
}

const shipped: ScriptVariant = { name: '_model', rewrite: movableClock };

testProp(
  'the scripts behave as the model under any sequence of acquires, releases, refreshes and elapsed time',
  [steps],
  async (t, cmds) => {
    await property(await connect(), shipped, cmds);
    t.pass();
  },
  { numRuns: 150 },
);

/** Bugs planted in the scripts on purpose: the property above must catch each of them. */
const planted: Record<string, (lua: string) => string> = {
  'purging expired waiters only from the head': (lua) =>
    swap(
      lua,
      "stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', s.nowMs, 'LIMIT', 0, PURGE_BATCH)",
      "local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]\n" +
        "    stale = {}\n" +
        "    if head and tonumber(redis.call('ZSCORE', KEYS[3], head)) <= s.nowMs then stale = { head } end",
    ),
  'release without an owner check': (lua) =>
    lua.includes("local result = -1\nlocal raw = redis.call('HGET', KEYS[4], token)")
      ? swap(
          lua,
          "local result = -1\nlocal raw = redis.call('HGET', KEYS[4], token)",
          "local result = -1\nlocal raw = redis.call('HGET', KEYS[4], token)\n" +
            "if not raw then\n  token = redis.call('ZRANGE', KEYS[1], 0, 0)[1] or token\n" +
            "  raw = redis.call('HGET', KEYS[4], token)\nend",
        )
      : lua,
  'a permit off by one': (lua) => lua.split('s.held + weight').join('s.held + weight - 1'),
};

for (const [bug, plant] of Object.entries(planted)) {
  test(`the model-based property catches a planted bug: ${bug}`, async (t) => {
    const redis = await connect();
    const variant: ScriptVariant = {
      name: `_bug${Object.keys(planted).indexOf(bug)}`,
      rewrite: (lua) => plant(movableClock(lua)),
    };
    const result = await fc.check(
      fc.asyncProperty(steps, (cmds) => property(redis, variant, cmds)),
      { numRuns: 300 },
    );
    t.true(result.failed, `the property did not catch: ${bug}`);
    // Caught as a disagreement with the model, not as a broken script.
    t.is((result.errorInstance as Error | undefined)?.name, 'AssertionError', String(result.errorInstance));
  });
}
