/**
 * `npm run bench [-- --quick]`: starts a private Redis, runs every workload against
 * every library in this one run, prints one table and the target checks, and writes
 * RESULTS.md and wait-times.svg (to bench/.tmp/ for --quick, so CI never dirties the tree).
 * Exits non-zero only when the benchmark itself breaks; missed targets are reported.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedisProcess } from '../test/helpers/redis-server.js';
import { waitChart } from './chart.js';
import { config } from './config.js';
import type { Ctx } from './context.js';
import { label, libs } from './libs.js';
import { Pool } from './pool.js';
import type { LibId } from './protocol.js';
import { redisVersion } from './redis-info.js';
import { failures, resultsMarkdown, resultsTable, targetsTable } from './report.js';
import type { Outcome, PerLib, Results } from './results.js';
import { checkTargets } from './targets.js';
import { type ContendFigures, contended } from './workloads/contended.js';
import { deepQueue } from './workloads/deep-queue.js';
import { idle } from './workloads/idle.js';
import { manyKeys } from './workloads/many-keys.js';
import { solo } from './workloads/solo.js';

const quick = process.argv.includes('--quick');
const cfg = config(quick);
const started = performance.now();
const log = (line: string) => process.stdout.write(`${line}\n`);

const server = await startRedisProcess();
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
const pool = new Pool(server.url, Math.max(cfg.mutex.processes, cfg.semaphore.processes));
await pool.start();
const ctx: Ctx = { cfg, url: server.url, admin, pool };

/** Runs one workload for one library; a failure is recorded and the clients are replaced. */
async function measure<T>(name: string, lib: LibId, run: () => Promise<T>): Promise<Outcome<T>> {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  try {
    const value = await run();
    log(`  ${name} ${label(lib)}: ${elapsed().toFixed(1)} s`);
    return { ok: true, value, seconds: elapsed() };
  } catch (error) {
    log(`  ${name} ${label(lib)}: FAILED after ${elapsed().toFixed(1)} s: ${String(error)}`);
    await pool.reset();
    return { ok: false, error: String((error as Error).message ?? error), seconds: elapsed() };
  } finally {
    await admin.flushall();
  }
}

async function each<T>(name: string, run: (lib: LibId) => Promise<T>, only?: (lib: LibId) => boolean): Promise<PerLib<T>> {
  const out: PerLib<T> = {};
  for (const l of libs) {
    if (!only || only(l.id)) out[l.id] = await measure(name, l.id, () => run(l.id));
  }
  return out;
}

log(`redis-fair-semaphore benchmark (${quick ? 'quick' : 'full'}) on Redis ${server.url}`);
const results: Results = {
  solo: await each('W1 solo', (lib) => solo(ctx, lib)),
  mutex: await each('W2 mutex', (lib) => contended(ctx, lib, { permits: 1, ...cfg.mutex }, 'w2')),
  semaphore: await each(
    'W3 semaphore',
    (lib) => contended(ctx, lib, cfg.semaphore, 'w3'),
    (lib) => libs.find((l) => l.id === lib)?.semaphore === true,
  ),
  deep: await each('W4 deep queue', (lib) => deepQueue(ctx, lib)),
  idle: await each('W5 idle', (lib) => idle(ctx, lib)),
  many: await each('W6 many keys', (lib) => manyKeys(ctx, lib)),
};
const redis = await redisVersion(admin);
await pool.stop();
admin.disconnect();
await server.stop();

const checks = checkTargets(results);
const seconds = (performance.now() - started) / 1000;
log('');
log(resultsTable(cfg, results));
log('');
log(targetsTable(checks));
for (const f of failures(results)) log(`FAILED: ${f}`);
log(`\n${checks.filter((c) => !c.pass).length} target(s) missed; ${quick ? 'quick' : 'full'} run took ${seconds.toFixed(1)} s`);

const waits = (pick: PerLib<ContendFigures>) =>
  libs.flatMap((l) => {
    const o = pick[l.id];
    return o?.ok ? [{ lib: l.id, waits: o.value.waits }] : [];
  });
const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const svg = waitChart(
  [
    { title: `W2 mutex: ${cfg.mutex.processes} processes, hold ${cfg.mutex.holdMs} ms`, series: waits(results.mutex) },
    {
      title: `W3 semaphore: ${cfg.semaphore.permits} permits, ${cfg.semaphore.processes} processes, hold ${cfg.semaphore.holdMs} ms`,
      series: waits(results.semaphore),
    },
  ],
  `Share of acquisitions that waited at most x ms (CDF); up and to the left is better. ${date}`,
);
const dir = new URL(quick ? './.tmp/' : './', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('RESULTS.md', dir), resultsMarkdown(cfg, results, checks, { date, redis, seconds }));
writeFileSync(new URL('wait-times.svg', dir), svg);
log(`wrote ${new URL('RESULTS.md', dir).pathname} and wait-times.svg`);
