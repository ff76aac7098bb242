/** Renders results as one markdown table (libraries side by side), the target checks, and RESULTS.md. */
import { missAnalysis } from './misses.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Config } from './config.js';
import { label, libs } from './libs.js';
import type { LibId } from './protocol.js';
import type { Outcome, PerLib, Results } from './results.js';
import type { Check } from './targets.js';
import { capacityPerSec } from './workloads/open-loop.js';
import type { FloorFigures } from './workloads/publish-floor.js';

/** Three significant digits, fixed notation: enough for noisy timings. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function pct(share: number): string {
  return Number.isNaN(share) ? '–' : `${num(share * 100)} %`;
}

type Row = { workload: string; figure: string; cell: (r: Results, lib: LibId) => string };

/** A figure of one workload: "n/a" where it does not apply, "FAILED" where the run failed. */
function cell<T>(pick: (r: Results) => PerLib<T>, show: (v: T, r: Results) => string) {
  return (r: Results, lib: LibId): string => {
    const o: Outcome<T> | undefined = pick(r)[lib];
    if (!o) return 'n/a';
    return o.ok ? show(o.value, r) : 'FAILED';
  };
}

/** The PUBLISH floor involves no library: the same figure stands in every column. */
function floorCell(show: (f: FloorFigures) => string) {
  return (r: Results): string => {
    if (!r.publish) return 'n/a';
    return r.publish.ok ? show(r.publish.value) : 'FAILED';
  };
}

function percent(load: number): string {
  return `${Math.round(load * 100)} %`;
}

function rows(cfg: Config): Row[] {
  const out: Row[] = [];
  const add = <T>(
    workload: string,
    pick: (r: Results) => PerLib<T>,
    figures: [string, (v: T, r: Results) => string][],
  ) => {
    for (const [figure, show] of figures) out.push({ workload, figure, cell: cell(pick, show) });
  };
  add('W1 solo', (r) => r.solo, [
    ['pairs/s', (v) => num(v.pairsPerSec)],
    ['pair p50 / p99 (ms)', (v) => `${num(v.pairP50)} / ${num(v.pairP99)}`],
    ['PING p50 (ms)', (v) => num(v.pingP50)],
    ['pair p50 ÷ PING p50', (v) => `${num(v.pairP50 / v.pingP50)}×`],
    ['commands sent per pair', (v) => num(v.commandsPerPair)],
    ['Redis µs per script call', (v) => num(v.scriptUsec)],
    ['Redis µs per pair in scripts (EVALSHA/EVAL)', (v) => num(v.scriptUsecPerPair)],
    ['Redis µs per pair, all commands sent', (v) => num(v.commandUsecPerPair)],
    ['client CPU µs per pair (Node user + sys)', (v) => num(v.cpuUsecPerPair)],
  ]);
  const m = cfg.mutex;
  const s = cfg.semaphore;
  for (const [workload, pick, withFloor] of [
    [`W2 mutex (${m.processes} proc, hold ${m.holdMs} ms, ${m.rounds * m.seconds} s)`, (r: Results) => r.mutex, true],
    [
      `W3 semaphore (${s.permits} permits, ${s.processes} proc, hold ${s.holdMs} ms, ${s.rounds * s.seconds} s)`,
      (r: Results) => r.semaphore,
      false,
    ],
  ] as const) {
    add(workload, pick, [
      ['acquisitions/s', (v) => num(v.perSec)],
      ['wait p50 / p99 / max (ms)', (v) => `${num(v.waitP50)} / ${num(v.waitP99)} / ${num(v.waitMax)}`],
      ['handoff p50 / p99 (ms)', (v) => `${num(v.handoffP50)} / ${num(v.handoffP99)}`],
    ]);
    if (withFloor) {
      const [shortest, longest] = cfg.publish.briskGapMs;
      out.push(
        {
          workload,
          figure: 'bare PUBLISH → idle subscriber p50 / p99 (ms; one figure)',
          cell: floorCell((f) => `${num(f.p50)} / ${num(f.p99)}`),
        },
        {
          workload,
          figure: `…with only ${shortest}–${longest} ms between messages`,
          cell: floorCell((f) => `${num(f.briskP50)} / ${num(f.briskP99)}`),
        },
      );
    }
    add(workload, pick, [
      ['handoff p50 ÷ PUBLISH p50', (v, r) => (r.publish?.ok ? `${num(v.handoffP50 / r.publish.value.p50)}×` : '–')],
      ['acquire() call → request sent p99 / max (ms)', (v) => `${num(v.sendDelayP99)} / ${num(v.sendDelayMax)}`],
      ['overtaken by a later request', (v) => `${num(v.overtakenShare * 100)} % (worst ${v.worstOvertakes})`],
      ['…in Redis grant order (fencing tokens)', (v) => pct(v.redisOrderOvertakenShare)],
      ['…in Redis grant order, by send time', (v) => pct(v.redisOrderBySendOvertakenShare)],
      ["Jain's index (per process)", (v) => v.jain.toFixed(3)],
      ['max concurrent holders', (v) => String(v.maxConcurrent)],
      ['commands sent per acquisition', (v) => num(v.commandsPerAcquisition)],
      ['Redis µs per script call', (v) => num(v.scriptUsec)],
    ]);
  }
  const [d0, d1] = cfg.deep.depths;
  for (const [i, depth] of [
    [0, d0],
    [1, d1],
  ] as const) {
    add(`W4 deep queue, depth ${depth.toLocaleString('en-US')}`, (r) => r.deep, [
      ['enqueue p50 / p99 (ms)', (v) => (v[i] ? `${num(v[i].enqueueP50)} / ${num(v[i].enqueueP99)}` : '–')],
      ['release→grant p50 / p99 (ms)', (v) => (v[i] ? `${num(v[i].handoffP50)} / ${num(v[i].handoffP99)}` : '–')],
      ['grants/s', (v) => (v[i] ? num(v[i].handoffsPerSec) : '–')],
      [
        'bytes per waiter: keys / used_memory',
        (v) => (v[i] ? `${num(v[i].keyBytesPerWaiter)} / ${num(v[i].usedBytesPerWaiter)}` : '–'),
      ],
    ]);
  }
  add(`W5 idle (${cfg.idle.waiters.toLocaleString('en-US')} waiters, ${cfg.idle.seconds} s)`, (r) => r.idle, [
    ['commands sent /s per waiter', (v) => num(v.clientCommandsPerWaiterSec)],
    ['commandstats calls /s per waiter (incl. in-script)', (v) => num(v.redisCallsPerWaiterSec)],
  ]);
  add(`W6 many keys (${cfg.many.concurrency} keys, 1 proc)`, (r) => r.many, [
    ['pairs/s', (v) => num(v.pairsPerSec)],
    ['pair p50 (ms)', (v) => num(v.pairP50)],
    ['commands sent per pair', (v) => num(v.commandsPerPair)],
  ]);
  const o = cfg.open;
  const capacity = capacityPerSec(o.permits, o.holdMs);
  o.loads.forEach((load, i) => {
    const workload =
      `W7 open loop, ${percent(load)} load: ${num(load * capacity)} req/s ` +
      `(${o.permits} permits, hold ${o.holdMs} ms, ${o.processes} proc, ${o.rounds * o.seconds} s)`;
    add(workload, (r) => r.open, [
      [
        'wait p50 / p99 / max (ms)',
        (v) => (v[i] ? `${num(v[i].waitP50)} / ${num(v[i].waitP99)} / ${num(v[i].waitMax)}` : '–'),
      ],
      [
        'ideal FIFO on the same requests: wait p50 / p99 (ms)',
        (v) => (v[i] ? `${num(v[i].idealP50)} / ${num(v[i].idealP99)}` : '–'),
      ],
      [
        'overtaken by a later request',
        (v) => (v[i] ? `${v[i].overtaken} = ${num(v[i].overtakenShare * 100)} % (worst ${v[i].worstOvertakes})` : '–'),
      ],
      ['requests completed (arrivals/s)', (v) => (v[i] ? `${v[i].requests} (${num(v[i].perSec)})` : '–')],
      [`hold p50 (ms; sleep of ${o.holdMs} ms)`, (v) => (v[i] ? num(v[i].holdP50) : '–')],
      ['max concurrent holders', (v) => (v[i] ? String(v[i].maxConcurrent) : '–')],
    ]);
  });
  const g = cfg.margin;
  add(
    `W8 holder margin (${g.runs} cuts per library, ttl ${g.ttls.map((t) => t / 1000).join(' / ')} s)`,
    (r) => r.margin,
    [
      [
        "holder told before its expiry in Redis / after it / never (a ttl past the contender's grant) / lock held on / lost before the cut",
        (v) => `${v.toldFirst} / ${v.toldLate} / ${v.neverTold} / ${v.heldOn} / ${v.lostBeforeCut}`,
      ],
      ['margin min / p1 / p50 / max (ms)', (v) => `${num(v.min)} / ${num(v.p1)} / ${num(v.p50)} / ${num(v.max)}`],
      [
        'allowance (ms, by ttl) / least margin − allowance / most allowance used beyond the lateness then (ms)',
        (v) =>
          `${Object.values(v.allowances).map(num).join(' / ')} / ${num(v.minOverAllowance)} / ${num(v.usedBeyondLateness)}`,
      ],
      [
        'least margin by cut: hold, drop, hold up, hold down, delay (ms)',
        (v) =>
          (['hold', 'drop', 'hold up', 'hold down', 'delay'] as const)
            .map((k) => num(v.byKind[k] ?? Number.NaN))
            .join(', '),
      ],
      [
        "contender's grant heard after the holder was told: min / p50 (ms)",
        (v) => `${num(v.heardMin)} / ${num(v.heardP50)}`,
      ],
      ['unhandled rejections (a process without a handler crashes)', (v) => String(v.unhandled)],
      ['clock mapping: longest TIME round trip (margins good to half of it, ms)', (v) => num(v.roundTripMax)],
      [
        'timer lateness meanwhile p50 / p99 / max (ms)',
        (v) => `${num(v.lateP50)} / ${num(v.lateP99)} / ${num(v.lateMax)}`,
      ],
    ],
  );
  return out;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function resultsTable(cfg: Config, r: Results): string {
  let last = '';
  const body = rows(cfg).map((row) => {
    const workload = row.workload === last ? '' : row.workload;
    last = row.workload;
    return [workload, row.figure, ...libs.map((l) => row.cell(r, l.id))];
  });
  return table(['Workload', 'Figure', ...libs.map((l) => l.label)], body);
}

export function targetsTable(checks: readonly Check[]): string {
  return table(
    ['Target', 'Measured', 'Result', 'Evidence (same run)'],
    checks.map((c) => [c.target, c.figure, c.pass ? 'PASS' : '**MISS**', c.evidence]),
  );
}

/** Failed or timed-out runs, with their errors: never dropped silently. */
export function failures(r: Results): string[] {
  const { publish, ...perLibrary } = r;
  const out: string[] = publish && !publish.ok ? [`publish floor: ${publish.error.split('\n')[0]}`] : [];
  for (const [workload, perLib] of Object.entries(perLibrary) as [string, PerLib<unknown>][]) {
    for (const [lib, o] of Object.entries(perLib) as [LibId, Outcome<unknown>][]) {
      if (!o.ok) out.push(`${workload} / ${label(lib)}: ${o.error.split('\n')[0]}`);
    }
  }
  return out;
}

function version(pkg: string): string {
  const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** `library`: fingerprint of src/ and scripts/, undefined if they changed during the run. */
export type Environment = {
  date: string;
  redis: string;
  seconds: number;
  library: string | undefined;
  measured: string;
};

export function resultsMarkdown(cfg: Config, r: Results, checks: readonly Check[], env: Environment): string {
  const cpus = os.cpus();
  const failed = failures(r);
  const passed = checks.filter((c) => c.pass).length;
  const o = cfg.open;
  const p = cfg.publish;
  const floorRounds = cfg.mutex.rounds + cfg.semaphore.rounds;
  return `# Benchmark results

Generated by \`npm run bench\`${cfg.quick ? ' -- --quick (short runs: indicative only)' : ''} on ${env.date}, in ${Math.round(env.seconds)} s.

- Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; shared, so expect noise: compare ratios from the same run.
- Node ${process.version}, Redis ${env.redis} (private \`redis-server\` on loopback, no persistence).
- redis-fair-semaphore (this repository, ${env.measured}${env.library ? `, src+scripts fingerprint ${env.library}` : ': **WARNING: src/ or scripts/ changed during this run; figures may mix two versions**'}), redis-semaphore ${version('redis-semaphore')}, @sesamecare-oss/redlock ${version('@sesamecare-oss/redlock')}, ioredis ${version('ioredis')}.
- Settings: every library at its defaults except an unbounded wait (redis-semaphore \`acquireTimeout: Infinity\`, retry every 10 ms; redlock \`retryCount: -1\`, retry 200 ± 100 ms); lock TTL ${cfg.ttl / 1000} s for all.

## Results

${resultsTable(cfg, r)}

Failed or timed-out runs: ${failed.length === 0 ? 'none.' : `\n\n${failed.map((f) => `- ${f}`).join('\n')}`}

![Wait-time distribution per library](wait-times.svg)

![W7 open loop: wait p50 and p99 per load level](open-loop.svg)

## Targets: ${passed} of ${checks.length} met

${targetsTable(checks)}
${passed < checks.length ? `\n${missAnalysis}` : ''}
## How the figures are measured

- Every client runs in its own process (\`child_process.fork\`); timestamps are \`performance.timeOrigin + performance.now()\`, one clock for all processes. Holds are busy-waits in W2/W3 (timers are too coarse for 1–2 ms) and sleeps in W7.
- **wait**: \`acquire()\` call → it resolves, for requests made inside the window (after a warm-up); a request still waiting at the end is waited for, never dropped.
- **handoff** (release→grant): a holder's \`release()\` call → the next holder's \`acquire()\` resolving; for a semaphore, the latest release call made while that acquisition waited.
- **bare PUBLISH → idle subscriber**, the floor of any push handoff: one pool process subscribes on an ioredis connection of its own, another sends ${p.messages} \`PUBLISH\`es per round, one every ${p.idleGapMs[0]}–${p.idleGapMs[1]} ms at random, so that the subscriber's process is asleep when each one comes, as a waiting lock client's is. Latency = the time taken just before the \`PUBLISH\` call → the subscriber's \`message\` event, on the shared clock. It is measured at the start of every W2 and W3 round (${floorRounds * p.messages} messages in all), on the machine those rounds see, and the handoff targets are set against its p50. The row below it repeats the measurement with ${p.briskGapMs[0]}–${p.briskGapMs[1]} ms between messages: on this VM a process (and Redis) that slept a few ms wakes faster than one that slept longer; which of the two a contended lock's waiter is closer to depends on how busy Redis and the machine are.
- **overtaken**: an acquisition granted after a request made ≥ 1 ms later; "worst" is the most such requests ahead of one acquisition. This is what clients observe, so a client process that the OS runs late (more processes than cores) shows up too. Two diagnostic rows, for this library only, rank grants in the order Redis made them (fencing tokens): against the \`acquire()\` call time, and against the moment the request's first command was written to the socket. Overtakes left in the last row would be the queue's own fault.
- **Jain's index** over per-process acquisition counts (1 = perfectly even). **max concurrent holders**: from the clients' own grant/release timestamps.
- **client CPU µs per pair** (W1): the client process's own \`process.cpuUsage()\` (user + system) over back-to-back acquire + release pairs on one idle key, ${cfg.solo.cpuPairs} pairs per round in ${cfg.solo.cpuChunks} chunks, after the round's timed pairs; the figure is the median chunk over all rounds. It includes the socket system calls, which cost every library the same per command, and the harness's command counting below (the same for every library). On a shared VM it moves by tens of percent from run to run: compare the libraries of one run.
- **commands sent**: every command a client process wrote to Redis (scripts, retries, polls, subscriptions), counted by wrapping ioredis's \`sendCommand\`; the round trips an operation costs.
- **redis-fair-semaphore on node-redis**: the same library, given a node-redis 6 client (\`createClient\`) on the same Redis instead of the harness's ioredis connection. Only ioredis's commands are counted, so its *commands sent* and *request sent* rows say 0 or nothing: they are the same commands as the ioredis column's. The targets are checked on the ioredis column.
- **Redis µs** (\`INFO commandstats\` CPU time over the run): *per script call* is EVALSHA/EVAL time ÷ their calls. W1 also divides by the acquire+release pairs (warm-up included: it ran in the same window): *in scripts* is EVALSHA/EVAL time, *all commands sent* adds every plain command the client sent (redis-semaphore's Mutex acquires with a plain \`SET NX PX\` and releases with a script, so only the second compares like with like). Left out: the interleaved PINGs, connection set-up and the harness's own INFO/MEMORY/FLUSHALL; and the commands scripts run, which commandstats counts under their own names as well as inside the EVALSHA time (a command counts only in the share of its calls the client sent).
- **W4** runs a closed loop (acquire, release at once, acquire again) over ${cfg.deep.processes} processes at each depth; bytes per waiter are the \`MEMORY USAGE\` (SAMPLES 0) delta of the key's data and the \`INFO memory\` delta, divided by the depth. The peers keep no queue, so they have no enqueue step (–) and no per-waiter state.
- **W5** counts commands over ${cfg.idle.seconds} s while ${cfg.idle.waiters} waiters in ${cfg.idle.processes} processes wait behind one holder; the \`commandstats\` figure also counts every command a script runs.
- W4/W5 waiters are stopped by killing their processes (redlock's acquire cannot be cancelled), the same way for every library.
- **W8, holder margin** (seed ${cfg.margin.seed}; \`RFS_MARGIN_SEED\` replays the schedule): each library's holder takes a lock (ttl ${cfg.margin.ttls.join(' or ')} ms, its lease kept alive the library's own way: this library's automatic refresh, redis-semaphore's refresh interval with \`onLockLost\`, redlock's \`using()\` with its abort signal) through a TCP proxy in the benchmark's process, while a contender of the same library waits on a direct connection. At a moment drawn uniformly over one ttl the proxy cuts the holder off, one of five ways at random: both directions held, both dropped (ending in a reset), commands held, replies held (commands still run), or both directions delayed by 0.5–1.5 ttl. **margin** = the holder's expiry in Redis (read every 2 ms until the contender is granted, mapped onto this process's clock by the shortest of three \`TIME\` round trips per cut) − the moment the library tells the holder. While the holder is silent Redis grants nobody before its expiry, so a positive margin means the holder knew first (a holder of this library then gives the permits back at once, which frees them sooner in the cuts that let its release through, but only after it was told). **told after**: a negative margin; **never**: the contender was granted and the holder heard nothing for one more ttl; **held on**: the lock outlived 3 ttls of the cut (a short delay, or refreshes that still land while their answers are held), which measures nothing; **lost before the cut**: the library lost the lock with no partition at all (redlock's extension, sent 500 ms before expiry, coming too late on a busy machine while its contender polls), also left out. ${cfg.margin.parallel} cuts run at a time, and a 2 ms probe timer in the same process gives the timer lateness the holders' own timers saw. This library's target: every holder told (none told after, none never told, no unhandled rejection), the least margin > 0, and every margin ≥ the allowance minus the timer lateness observed when that holder was told (the probe's firings within 3 ms of that moment); the allowance also budgets 2 ms for the two clocks read in whole milliseconds, so *allowance used beyond the lateness then* up to 2 ms is within the design, and above 0 a miss of the target as set.
- **W7, open loop**: ${o.processes} processes each make requests as a Poisson process (exponential gaps, each at 1/${o.processes} of the rate); a request is \`acquire()\` → sleep ${o.holdMs} ms (\`setTimeout\`: an I/O-bound holder, like a call to a partner's API) → \`release()\`, made on schedule whatever the earlier requests are doing. Capacity = ${o.permits} permits ÷ ${o.holdMs} ms = ${num(capacityPerSec(o.permits, o.holdMs))} req/s. A round runs ${o.loads.map(percent).join(', ')} of it one after the other, each level ${o.warmupSeconds} s of warm-up then ${o.seconds} s measured, and arrivals go on for ${o.cooldownSeconds} s after the last level, so the last measured requests still compete with later ones; ${o.rounds} round(s) alternate the libraries, ${o.rounds * o.seconds} s per level per library. **wait**, **overtaken** (as above; later requests of any level count) and **max concurrent holders** are over the requests made in the measured windows, each one waited for to its release. A sleep lasts a little longer than asked (the hold p50 row), and a permit is also taken during the grant's handoff and the release's round trip, so the real load is somewhat above the nominal one: at 95 % a semaphore runs close to saturation, where its p99 is most sensitive to what each handoff costs. redlock has no counting semaphore (n/a). **ideal FIFO** replays each library's own requests (arrival times and the holds they really had) through a FIFO semaphore with no overhead at all: no queue discipline has a shorter tail on those arrivals, so it shows how much of a wait is the queue itself and how much the lock's own cost.
`;
}
