/**
 * The chaos suite: contender processes take a Semaphore(3), then a Mutex, in a loop
 * while a seeded fault injector kills, stalls and disconnects them and stalls, flushes
 * and restarts Redis. A resource process checks overlap and fencing; see checker.ts.
 *
 *   node --import tsx test/chaos/run.ts [--short] [--seed N] [--clients N]
 */
import { fork } from 'node:child_process';
import { Redis } from 'ioredis';
import { startRedisProcess } from '../helpers/redis-server.js';
import { check, type RunResult } from './checker.js';
import { Injector } from './faults.js';
import { Pool } from './pool.js';
import { rng } from './prng.js';
import type { FromResource, ResourceSummary, ToResource } from './protocol.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const short = args.includes('--short');
const seed = Number(flag('--seed') ?? Math.floor(Math.random() * 2 ** 31));
const clients = Number(flag('--clients') ?? 12);
const ttl = 600;
const timeout = 3000;
const margin = 2000;
const log = (line: string) => console.log(line);

const runs = [
  { name: 'semaphore(3)', key: 'chaos-semaphore', permits: 3, target: short ? 250 : 1500 },
  { name: 'mutex', key: 'chaos-mutex', permits: 1, target: short ? 120 : 700 },
];
/** Each run stops at its target or at this many ms, whichever comes first. */
const runCap = short ? 18_000 : 90_000;

log(`chaos: seed ${seed} (replay with --seed ${seed})${short ? ', short mode' : ''}, ${clients} clients, ttl ${ttl} ms`);
const random = rng(seed);
const server = await startRedisProcess(['--enable-debug-command', 'yes']);
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
admin.on('error', () => {});

const resource = fork(new URL('./resource.ts', import.meta.url), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const toResource = (m: ToResource) => resource.send(m);
let pool: Pool | undefined;
let summaryWaiter: ((s: ResourceSummary) => void) | undefined;
resource.on('message', (m: FromResource) => {
  if (m.t === 'reply') pool?.reply(m.client, m.seq, m.ok);
  else summaryWaiter?.(m.summary);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failures: string[] = [];
const started = Date.now();

for (const run of runs) {
  const began = Date.now();
  toResource({ t: 'run', permits: run.permits, fenced: run.permits === 1, ttl });
  const p = new Pool({ redisUrl: server.url, key: run.key, permits: run.permits, ttl, timeout, margin, seed, toResource, log });
  pool = p;
  await Promise.all(Array.from({ length: clients }, () => p.start()));
  const injector = new Injector({ pool: p, server, admin, rng: random, ttl, toResource, log });
  injector.start(150, 450);
  const cap = Date.now() + runCap;
  while (p.stats.acquisitions < run.target && Date.now() < cap) await sleep(50);
  await injector.stop();
  const stuckClients = await p.stop(timeout + margin + 3000);
  // Whatever the clients left behind must expire within one ttl.
  await sleep(ttl + 200);
  const keys = (await admin.keys('*')) as string[];
  const summary = await new Promise<ResourceSummary>((resolve) => {
    summaryWaiter = resolve;
    toResource({ t: 'summary' });
  });
  const result: RunResult = {
    name: run.name,
    seconds: (Date.now() - began) / 1000,
    pool: p.stats,
    faults: injector.counts,
    resource: summary,
    leakedKeys: keys.filter((k) => !k.endsWith(':fence')),
    stuckClients,
  };
  failures.push(...check(result, log));
}

admin.disconnect();
resource.disconnect();
await server.stop();
log(`chaos: seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
log(failures.length === 0 ? 'chaos: OK' : `chaos: FAILED (${failures.join('; ')})`);
process.exit(failures.length === 0 ? 0 : 1);
