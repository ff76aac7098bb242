/**
 * `npm run bench [-- --quick]`: starts a private Redis, runs every workload against
 * every library in this one run, prints one table and the target checks, and writes
 * RESULTS.md, wait-times.svg and open-loop.svg (to bench/.tmp/ for --quick, so CI never
 * dirties the tree).
 * Exits non-zero only when the benchmark itself breaks; missed targets are reported.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { libraryFingerprint } from '../test/helpers/fingerprint.js';
import { startRedisProcess } from '../test/helpers/redis-server.js';
import { openLoopChart, waitChart } from './chart.js';
import { config } from './config.js';
import type { Ctx } from './context.js';
import { label, libs } from './libs.js';
import { Pool } from './pool.js';
import type { LibId } from './protocol.js';
import { redisVersion } from './redis-info.js';
import { failures, resultsMarkdown, resultsTable, targetsTable } from './report.js';
import type { Outcome, PerLib, Results } from './results.js';
import { checkTargets } from './targets.js';
import { libraryVersion } from './version.js';
import { type ContendFigures, contendFigures, contendRound } from './workloads/contended.js';
import { deepQueue } from './workloads/deep-queue.js';
import { idle } from './workloads/idle.js';
import { marginFigures, marginRound } from './workloads/margin.js';
import { manyFigures, manyRound } from './workloads/many-keys.js';
import { capacityPerSec, openFigures, openRound } from './workloads/open-loop.js';
import { type FloorFigures, type FloorRound, floorFigures, floorRound } from './workloads/publish-floor.js';
import { soloFigures, soloRound } from './workloads/solo.js';

const quick = process.argv.includes('--quick');
// `--only=w2,w3` runs some workloads (while working on them); like --quick, it never touches the committed report.
// The PUBLISH floor runs with W2 and W3, whose handoff is set against it.
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .toLowerCase()
  .split(',');
const wanted = (workload: string) => !only || only.includes(workload);
const scratch = quick || only !== undefined;
const cfg = config(quick);
const started = performance.now();
const libraryAtStart = libraryFingerprint();
const measured = libraryVersion();
const log = (line: string) => process.stdout.write(`${line}\n`);

const server = await startRedisProcess();
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
const pool = new Pool(server.url, Math.max(cfg.mutex.processes, cfg.semaphore.processes));
await pool.start();
const ctx: Ctx = { cfg, url: server.url, admin, pool };

/** Runs one workload (for one library); a failure is recorded and the clients are replaced. */
async function measure<T>(title: string, run: () => Promise<T>): Promise<Outcome<T>> {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  try {
    const value = await run();
    log(`  ${title}: ${elapsed().toFixed(1)} s`);
    return { ok: true, value, seconds: elapsed() };
  } catch (error) {
    log(`  ${title}: FAILED after ${elapsed().toFixed(1)} s: ${String(error)}`);
    await pool.reset();
    return { ok: false, error: String((error as Error).message ?? error), seconds: elapsed() };
  } finally {
    await admin.flushall();
  }
}

async function each<T>(name: string, run: (lib: LibId) => Promise<T>): Promise<PerLib<T>> {
  const out: PerLib<T> = {};
  for (const l of libs) out[l.id] = await measure(`${name} ${l.label}`, () => run(l.id));
  return out;
}

/** The bare PUBLISH floor, gathered a round at a time; one failed round fails it. */
const floor: { rounds: FloorRound[]; seconds: number; error?: string } = { rounds: [], seconds: 0 };

async function floorStep(): Promise<void> {
  if (floor.error !== undefined) return;
  const o = await measure('bare PUBLISH floor', () => floorRound(ctx));
  floor.seconds += o.seconds;
  if (o.ok) floor.rounds.push(o.value);
  else floor.error = o.error;
}

function floorOutcome(): Outcome<FloorFigures> | undefined {
  if (floor.error !== undefined) return { ok: false, error: floor.error, seconds: floor.seconds };
  return floor.rounds.length === 0
    ? undefined
    : { ok: true, value: floorFigures(floor.rounds), seconds: floor.seconds };
}

/**
 * Rounds that alternate the libraries, each round in a rotated order; a library's
 * figures come from all its rounds. One failed round fails that library's result.
 * `beforeRound` measures something shared (the PUBLISH floor) at the start of every round.
 */
async function interleaved<R, T>(
  name: string,
  rounds: number,
  round: (lib: LibId) => Promise<R>,
  figures: (rounds: R[]) => T,
  options: { applies?: (lib: LibId) => boolean; beforeRound?: () => Promise<void> } = {},
): Promise<PerLib<T>> {
  const ids = libs.map((l) => l.id).filter(options.applies ?? (() => true));
  const data = new Map<LibId, R[]>(ids.map((id) => [id, []]));
  const failed = new Map<LibId, Outcome<T>>();
  const seconds = new Map<LibId, number>(ids.map((id) => [id, 0]));
  for (let r = 0; r < rounds; r++) {
    await options.beforeRound?.();
    const order = [...ids.slice(r % ids.length), ...ids.slice(0, r % ids.length)];
    for (const id of order) {
      if (failed.has(id)) continue;
      const title = `${rounds > 1 ? `${name} (round ${r + 1}/${rounds})` : name} ${label(id)}`;
      const o = await measure(title, () => round(id));
      seconds.set(id, (seconds.get(id) ?? 0) + o.seconds);
      if (o.ok) data.get(id)?.push(o.value);
      else failed.set(id, o);
    }
  }
  const out: PerLib<T> = {};
  for (const id of ids) {
    out[id] = failed.get(id) ?? { ok: true, value: figures(data.get(id) ?? []), seconds: seconds.get(id) ?? 0 };
  }
  return out;
}

log(`redis-fair-semaphore benchmark (${quick ? 'quick' : 'full'}) on Redis ${server.url}`);
const semaphoreLib = (lib: LibId) => libs.find((l) => l.id === lib)?.semaphore === true;
const results: Results = {
  solo: wanted('w1')
    ? await interleaved('W1 solo', cfg.solo.rounds, (lib) => soloRound(ctx, lib, cfg.solo.seconds), soloFigures)
    : {},
  mutex: wanted('w2')
    ? await interleaved(
        'W2 mutex',
        cfg.mutex.rounds,
        (lib) => contendRound(ctx, lib, { permits: 1, ...cfg.mutex }, cfg.mutex.seconds, 'w2'),
        contendFigures,
        { beforeRound: floorStep },
      )
    : {},
  semaphore: wanted('w3')
    ? await interleaved(
        'W3 semaphore',
        cfg.semaphore.rounds,
        (lib) => contendRound(ctx, lib, cfg.semaphore, cfg.semaphore.seconds, 'w3'),
        contendFigures,
        { applies: semaphoreLib, beforeRound: floorStep },
      )
    : {},
  deep: wanted('w4') ? await each('W4 deep queue', (lib) => deepQueue(ctx, lib)) : {},
  idle: wanted('w5') ? await each('W5 idle', (lib) => idle(ctx, lib)) : {},
  many: wanted('w6')
    ? await interleaved('W6 many keys', cfg.many.rounds, (lib) => manyRound(ctx, lib, cfg.many.seconds), manyFigures)
    : {},
  open: wanted('w7')
    ? await interleaved('W7 open loop', cfg.open.rounds, (lib) => openRound(ctx, lib), openFigures, {
        applies: semaphoreLib,
      })
    : {},
  margin: wanted('w8')
    ? await each('W8 holder margin', async (lib) => marginFigures(lib, [await marginRound(ctx, lib)]))
    : {},
};
const publish = floorOutcome();
if (publish) results.publish = publish;
const redis = await redisVersion(admin);
await pool.stop();
admin.disconnect();
await server.stop();

const library = libraryAtStart === libraryFingerprint() ? libraryAtStart : undefined;
if (!library) log('WARNING: src/ or scripts/ changed during the run; the figures may mix two versions of the library.');
const checks = checkTargets(cfg, results);
const seconds = (performance.now() - started) / 1000;
log('');
log(resultsTable(cfg, results));
log('');
log(targetsTable(checks));
const failed = failures(results);
for (const f of failed) log(`FAILED: ${f}`);
// A workload that could not run fails the run (CI runs --quick so that none rots); a missed target does not.
if (failed.length > 0) process.exitCode = 1;
log(
  `\n${checks.filter((c) => !c.pass).length} target(s) missed; ${quick ? 'quick' : 'full'} run took ${seconds.toFixed(1)} s`,
);

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
  `Share of acquisitions that waited longer than x (log–log): a curve that drops early and steeply has a short tail. ${date}`,
);
const w7 = cfg.open;
const openSvg = openLoopChart(
  `W7 open loop: Semaphore(${w7.permits}), hold ${w7.holdMs} ms (sleeping), Poisson arrivals from ${w7.processes} processes`,
  libs.flatMap((l) => {
    const x = results.open[l.id];
    return x?.ok ? [{ lib: l.id, levels: x.value }] : [];
  }),
  `wait = acquire() call → resolved; capacity = ${w7.permits} permits ÷ ${w7.holdMs} ms = ${capacityPerSec(w7.permits, w7.holdMs)} req/s. ${date}`,
);
const dir = new URL(scratch ? './.tmp/' : './', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(
  new URL('RESULTS.md', dir),
  resultsMarkdown(cfg, results, checks, { date, redis, seconds, library, measured }),
);
writeFileSync(new URL('wait-times.svg', dir), svg);
writeFileSync(new URL('open-loop.svg', dir), openSvg);
// Raw figures (waits included) for re-drawing or digging in; never committed.
mkdirSync(new URL('./.tmp/', import.meta.url), { recursive: true });
writeFileSync(new URL('./.tmp/last-run.json', import.meta.url), JSON.stringify({ cfg, results, checks }));
log(`wrote ${new URL('RESULTS.md', dir).pathname}, wait-times.svg and open-loop.svg`);
