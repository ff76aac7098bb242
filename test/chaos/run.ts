/**
 * The chaos suite: contender processes take a Semaphore(3), then a Mutex, in a loop
 * while a seeded fault injector kills, stalls and disconnects them and stalls, flushes
 * and restarts Redis. A resource process checks overlap and fencing; see checker.ts.
 * In the last run a resizer process (resizer.ts) also stores random limits on the
 * semaphore, pauses and resumes it, and every grant is judged by the limit in force
 * when it was made (settings.ts).
 *
 *   node --import tsx test/chaos/run.ts [--short] [--seed N] [--clients N] [--only NAME] [--verbose] [--no-long-stalls] [--plant-overlap] [--plant-resize]
 *
 * Faults include DEBUG SLEEP of 1.5 ttl, so leases expire on the server mid-stall; --no-long-stalls leaves it out.
 *
 * --plant-overlap gives the clients one permit more than the resource allows: a planted
 * bug the run must report as FAILED, which shows the checker can see overlap at all.
 * --plant-resize has the resizer make its changes on another key than the clients',
 * while the resource is told of them as usual: the resized run must report grants
 * over the limit and while paused (`--only resized --plant-resize` runs just that one).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { libraryFingerprint } from '../helpers/fingerprint.js';
import { startRedisProcess } from '../helpers/redis-server.js';
import { check, type RunResult } from './checker.js';
import { Injector } from './faults.js';
import { Pool } from './pool.js';
import { rng } from './prng.js';
import type { FromResource, ResourceSummary, ToResource } from './protocol.js';
import { ResizerProcess } from './resizer-process.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const short = args.includes('--short');
const seed = Number(flag('--seed') ?? Math.floor(Math.random() * 2 ** 31));
const clients = Number(flag('--clients') ?? 12);
const plant = args.includes('--plant-overlap');
const plantResize = args.includes('--plant-resize');
const verbose = args.includes('--verbose');
const longStalls = !args.includes('--no-long-stalls');
/** `--only aof` runs just the runs whose name contains it, to replay one quickly. */
const only = flag('--only');
if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(clients) || clients < 1) {
  console.error(
    'usage: run.ts [--short] [--seed N] [--clients N] [--plant-overlap] [--plant-resize] (N: non-negative integers)',
  );
  process.exit(2);
}
const ttl = 600;
const timeout = 3000;
const margin = 2000;
const log = (line: string) => console.log(line);

/** Each run stops at its target or at this many ms (its `cap`, if it has one), whichever comes first. */
const runCap = short ? 10_000 : 80_000;
const runs = [
  { name: 'semaphore(3)', key: 'chaos-semaphore', permits: 3, aof: false, target: short ? 220 : 1500 },
  { name: 'mutex', key: 'chaos-mutex', permits: 1, aof: false, target: short ? 100 : 700 },
  // Restarts of a Redis with an AOF fsynced on every write: leases must survive them.
  { name: 'mutex, AOF', key: 'chaos-mutex-aof', permits: 1, aof: true, target: short ? 60 : 400 },
  // A Semaphore(3) resized, paused and resumed at random; one acquisition in five takes
  // 2 permits, so a limit of 1 refuses some. Restarts without persistence forget the
  // settings. Last, so that adding it left the other runs' fault schedules as they were.
  {
    name: 'semaphore, resized',
    key: 'chaos-resized',
    permits: 3,
    aof: false,
    resized: true,
    target: short ? 120 : 1500,
    cap: short ? 4_000 : runCap,
  },
];

// Exit through process.exit so the helpers' exit hooks kill Redis and the clients.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

log(
  `chaos: seed ${seed} (replay: --seed ${seed} ${args.filter((a, i) => a !== '--seed' && args[i - 1] !== '--seed').join(' ')})${plant ? ', PLANTED BUG' : ''}${plantResize ? ', PLANTED BUG (resizer on another key)' : ''}${longStalls ? ', long stalls' : ''}, ${clients} clients, ttl ${ttl} ms`,
);

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
const library = libraryFingerprint();
const started = Date.now();

for (const [index, run] of runs.entries()) {
  if (only !== undefined && !run.name.toLowerCase().includes(only.toLowerCase())) continue;
  const began = Date.now();
  // One stream per run, so `--only` replays a run's faults as the full suite drew them.
  const random = rng(seed + index * 0x9e3779b9);
  const resizerSeed = run.resized ? random.int(0, 2 ** 32 - 1) : 0;
  // A fresh server per run; the AOF run's files live in a temporary directory.
  const dir = run.aof ? await mkdtemp(join(tmpdir(), 'chaos-aof-')) : undefined;
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : [];
  const server = await startRedisProcess(['--enable-debug-command', 'yes', ...persistence]);
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  admin.on('error', () => {});
  toResource({ t: 'run', permits: run.permits, fenced: run.permits === 1, ttl });
  const p = new Pool({
    redisUrl: server.url,
    key: run.key,
    permits: run.permits,
    clientPermits: run.permits + (plant ? 1 : 0),
    heavy: run.resized ? 0.2 : 0,
    ttl,
    timeout,
    margin,
    seed,
    verbose,
    toResource,
    log,
  });
  pool = p;
  // The resizer starts alongside the clients: a change made before they all are is harmless.
  const [resizer] = await Promise.all([
    run.resized
      ? ResizerProcess.start({
          redisUrl: server.url,
          key: run.key,
          permits: run.permits,
          seed: resizerSeed,
          plant: plantResize,
          toResource,
        })
      : undefined,
    ...Array.from({ length: clients }, () => p.start()),
  ]);
  const injector = new Injector({
    pool: p,
    server,
    admin,
    rng: random,
    ttl,
    persistent: run.aof,
    toResource,
    log,
    verbose,
    longStalls,
    resizer,
  });
  injector.start(150, 450);
  const cap = Date.now() + (run.cap ?? runCap);
  while (p.stats.acquisitions < run.target && Date.now() < cap) await sleep(50);
  await injector.stop();
  // Before the clients stop: it resumes the key, so none waits out its timeout at the end.
  await resizer?.stop(timeout + margin);
  const stuckClients = await p.stop(timeout + margin + 3000);
  // Whatever the clients left behind must expire within one ttl, but for the fencing
  // counter and entries of holders that died, which the next call on the key removes:
  // a `:tickets` key with no entry still in force is not a leak.
  await sleep(ttl + 200);
  const [seconds] = await admin.time();
  const keys: string[] = [];
  for (const key of (await admin.keys('*')) as string[]) {
    const live = key.endsWith(':tickets') ? await admin.zcount(key, `(${Number(seconds) * 1000}`, '+inf') : 1;
    if (live > 0) keys.push(key);
  }
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
    resizer: resizer?.stats,
  };
  failures.push(...check(result, log));
  admin.disconnect();
  await server.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}

resource.disconnect();
if (libraryFingerprint() !== library) {
  failures.push('src/ or scripts/ changed during the run, so its processes mixed library versions: run it again');
}
log(`chaos: seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
log(failures.length === 0 ? 'chaos: OK' : `chaos: FAILED (${failures.join('; ')})`);
process.exit(failures.length === 0 ? 0 : 1);
