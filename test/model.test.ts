import { deepStrictEqual } from 'node:assert/strict';
import { fc, testProp } from '@fast-check/ava';
import test from 'ava';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../src/index.js';
import { keyspace } from '../src/keys.js';
import type { ScriptVariant } from '../src/compiled-scripts.js';
import { Scripts } from '../src/scripts.js';
import { movableClock } from './helpers/clock.js';
import { SemaphoreModel } from './helpers/model.js';
import { connect, connectLibrary, uniqueKey } from './helpers/redis.js';

function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`planted change not applicable: ${from}`);
  return text.split(from).join(to);
}

const permits = 3;
const slots = ['t0', 't1', 't2', 't3', 't4', 't5'];
const start = 1_800_000_000_000;

/** A token as src/tokens.ts writes it for this semaphore. */
const tokenOf = (slot: string, weight: number) => `${slot}${weight === 1 ? '' : `*${weight}`}/${permits}`;

/** `redis` moves the clock; the scripts run on the library's client. */
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
    deepStrictEqual(await real.scripts.status(100), model.status(100), `${this.toString()}: status`);
  }
  abstract toString(): string;
}

class Acquire extends Step {
  constructor(
    readonly token: string,
    readonly ttl: number,
    readonly wait: boolean,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    const a = { token: this.token, ttl: this.ttl, wait: this.wait, maxWaiters: Infinity };
    return [model.acquire(this.token, this.ttl, this.wait), await real.scripts.acquire(a)];
  }
  toString() {
    return `${this.wait ? 'acquire' : 'try'}(${this.token}, ttl ${this.ttl})`;
  }
}

class Heartbeat extends Step {
  constructor(
    readonly token: string,
    readonly ttl: number,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    return [model.heartbeat(this.token, this.ttl), await real.scripts.heartbeat(this.token, this.ttl)];
  }
  toString() {
    return `heartbeat(${this.token}, ttl ${this.ttl})`;
  }
}

/** `exact`: as a lease releases (naming its fencing token); else as a waiter giving up. */
class Release extends Step {
  constructor(
    readonly token: string,
    readonly exact: boolean,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    // A lease knows its fencing token; for a token that holds nothing, any number will do.
    const fence = this.exact ? (model.holders.get(this.token)?.fence ?? 1) : undefined;
    return [model.release(this.token, fence), await real.scripts.release(this.token, fence)];
  }
  toString() {
    return `release(${this.token}${this.exact ? ', with its fence' : ''})`;
  }
}

/**
 * A holder's refresh (`ms` = its ttl), an extension by some handle (any `ms`), or a
 * read of the time left (`ms` = 0); `stale`: by a handle with an old fencing token.
 */
class Refresh extends Step {
  constructor(
    readonly token: string,
    readonly ms: number,
    readonly stale: boolean,
  ) {
    super();
  }
  async apply(model: SemaphoreModel, real: Real) {
    const fence = (model.holders.get(this.token)?.fence ?? 2) - (this.stale ? 1 : 0);
    return [model.refresh(this.token, fence, this.ms), await real.scripts.refresh(this.token, fence, this.ms)];
  }
  toString() {
    return `refresh(${this.token}, ${this.ms} ms${this.stale ? ', stale fence' : ''})`;
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

const token = fc
  .tuple(fc.constantFrom(...slots), fc.integer({ min: 1, max: permits }))
  .map(([slot, weight]) => tokenOf(slot, weight));
const ttl = fc.constantFrom(100, 300);
const steps = fc.commands(
  [
    fc.tuple(token, ttl, fc.boolean()).map(([k, t, wait]) => new Acquire(k, t, wait)),
    fc.tuple(token, ttl).map(([k, t]) => new Heartbeat(k, t)),
    fc.tuple(token, fc.boolean()).map(([k, exact]) => new Release(k, exact)),
    fc
      .tuple(token, fc.constantFrom(0, 100, 300, 1000), fc.boolean())
      .map(([k, ms, stale]) => new Refresh(k, ms, stale)),
    fc.constantFrom(1, 50, 99, 100, 150, 301).map((ms) => new Advance(ms)),
  ],
  { size: '+1' },
);

async function property(
  redis: Redis,
  lib: RedisClient,
  variant: ScriptVariant,
  cmds: Iterable<fc.AsyncCommand<SemaphoreModel, Real>>,
) {
  const key = uniqueKey('model');
  const space = keyspace('model', key);
  const clockKey = `${space.keys[0]}:clock`;
  await redis.set(clockKey, start);
  const real: Real = { redis, scripts: new Scripts(lib, space, key, variant), clockKey };
  await fc.asyncModelRun(() => ({ model: new SemaphoreModel(start), real }), cmds);
}

const shipped: ScriptVariant = { rewrite: movableClock };

testProp(
  'the scripts behave as the model under any sequence of acquires, heartbeats, releases, refreshes, extensions, reads and elapsed time',
  [steps],
  async (t, cmds) => {
    await property(await connect(), await connectLibrary(), shipped, cmds);
    t.pass();
  },
  { numRuns: 150 },
);

/** Bugs planted in the scripts on purpose: the property above must catch each of them. */
const planted: Record<string, (lua: string) => string> = {
  'purging expired waiters only from the front': (lua) =>
    lua.includes("local dead = redis.call('ZRANGE', KEYS[3], '-inf', nowMs, 'BYSCORE', 'LIMIT', 0, PURGE_BATCH)")
      ? swap(
          lua,
          "local dead = redis.call('ZRANGE', KEYS[3], '-inf', nowMs, 'BYSCORE', 'LIMIT', 0, PURGE_BATCH)",
          "local head = redis.call('LINDEX', KEYS[4], 0)\n" +
            '  local dead = {}\n' +
            "  local d = head and tonumber(redis.call('ZSCORE', KEYS[3], head))\n" +
            '  if d and d <= nowMs then dead = { head } end',
        )
      : lua,
  'release without an owner check': (lua) =>
    lua.includes('local result = -1\n')
      ? swap(
          lua,
          'local result = -1\n',
          'local result = -1\n' +
            "if not string.find(ticket, '|', 1, true) and not redis.call('ZSCORE', KEYS[3], ticket) then\n" +
            "  local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]\n" +
            "  if first then ticket = string.match(first, '^(.*)|') end\n" +
            'end\n',
        )
      : lua,
  'a permit off by one': (lua) => lua.split('permits - s.held').join('permits - s.held + 1'),
  'an extension that shortens the lease': (lua) =>
    lua.includes('if wanted > expiry then') ? swap(lua, 'if wanted > expiry then', "if ARGV[3] ~= '0' then") : lua,
};

for (const [bug, plant] of Object.entries(planted)) {
  test(`the model-based property catches a planted bug: ${bug}`, async (t) => {
    const redis = await connect();
    const lib = await connectLibrary();
    const variant: ScriptVariant = { rewrite: (lua) => plant(movableClock(lua)) };
    const result = await fc.check(
      fc.asyncProperty(steps, (cmds) => property(redis, lib, variant, cmds)),
      { numRuns: 300 },
    );
    t.true(result.failed, `the property did not catch: ${bug}`);
    // Caught as a disagreement with the model, not as a broken script.
    t.is((result.errorInstance as Error | undefined)?.name, 'AssertionError', String(result.errorInstance));
  });
}
