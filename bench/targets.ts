/**
 * Issue 8's targets (and issue 14's for the client's cost: CPU per pair, W1 pair p50 ≤ 1.1×),
 * checked on figures measured in the same run. Each check
 * carries the diagnostic figures (same run) that bear on it, so that a MISS comes
 * with what to look at rather than with a verdict written in advance.
 */
import type { Config } from './config.js';
import type { LibId } from './protocol.js';
import { type Outcome, type Results, value } from './results.js';
import type { OpenFigures } from './workloads/open-loop.js';

export type Check = { target: string; figure: string; pass: boolean; evidence: string };

type Computed = { figure: string; pass: boolean; evidence?: string };

const peers: LibId[] = ['redis-semaphore', 'redlock'];

function f(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** A target whose inputs are missing (failed run) is a miss that says why. */
function check(target: string, compute: () => Computed | string): Check {
  const r = compute();
  return typeof r === 'string'
    ? { target, figure: r, pass: false, evidence: '' }
    : { target, figure: r.figure, pass: r.pass, evidence: r.evidence ?? '' };
}

function why(o: Outcome<unknown> | undefined, what: string): string {
  return o && !o.ok ? `${what} failed: ${o.error.split('\n')[0]}` : `${what}: no result`;
}

/** W7's targets (issue 8): this library's wait statistic against the best peer's, per load level. */
const openTargets = [
  { load: 0.5, stat: 'p50', most: 1.0 },
  { load: 0.8, stat: 'p99', most: 0.3 },
  { load: 0.95, stat: 'p99', most: 0.15 },
] as const;

export function checkTargets(cfg: Config, r: Results): Check[] {
  const solo = value(r.solo.fair);
  const mutex = value(r.mutex.fair);
  const sem = value(r.semaphore.fair);
  const rsSolo = value(r.solo['redis-semaphore']);
  const floor = value(r.publish);
  const checks: Check[] = [];

  // W1 compares with redis-semaphore, the cheaper peer per pair.
  const w1 = (target: string, compute: (x: NonNullable<typeof solo>, rs: NonNullable<typeof solo>) => Computed) =>
    checks.push(
      check(target, () => {
        if (!solo) return why(r.solo.fair, 'W1 fair');
        if (!rsSolo) return why(r.solo['redis-semaphore'], 'W1 redis-semaphore');
        return compute(solo, rsSolo);
      }),
    );
  w1('W1 Redis µs in scripts per pair ≤ 2× redis-semaphore', (x, rs) => {
    const ratio = x.scriptUsecPerPair / rs.scriptUsecPerPair;
    return {
      figure: `${f(x.scriptUsecPerPair, 1)} vs ${f(rs.scriptUsecPerPair, 1)} µs = ${f(ratio)}×`,
      pass: ratio <= 2,
      evidence:
        `all commands sent: ${f(x.commandUsecPerPair, 1)} vs ${f(rs.commandUsecPerPair, 1)} µs per pair ` +
        `(redis-semaphore acquires with a plain SET NX); per script call ${f(x.scriptUsec, 1)} vs ${f(rs.scriptUsec, 1)} µs`,
    };
  });
  w1('W1 client CPU per pair ≤ 1.0× redis-semaphore', (x, rs) => {
    const ratio = x.cpuUsecPerPair / rs.cpuUsecPerPair;
    return {
      figure: `${f(x.cpuUsecPerPair, 1)} vs ${f(rs.cpuUsecPerPair, 1)} µs = ${f(ratio)}×`,
      pass: ratio <= 1,
      evidence: `Node user + sys over back-to-back pairs, median of ${cfg.solo.rounds * cfg.solo.cpuChunks} chunks of ${Math.ceil(cfg.solo.cpuPairs / cfg.solo.cpuChunks)}`,
    };
  });
  w1('W1 pair p50 ≤ 1.1× redis-semaphore', (x, rs) => {
    const ratio = x.pairP50 / rs.pairP50;
    return {
      figure: `${f(x.pairP50, 3)} vs ${f(rs.pairP50, 3)} ms = ${f(ratio)}×`,
      pass: ratio <= 1.1,
      evidence:
        `${f(x.commandsPerPair)} vs ${f(rs.commandsPerPair)} commands per pair; ` +
        `PING p50 in the same rounds ${f(x.pingP50, 3)} vs ${f(rs.pingP50, 3)} ms`,
    };
  });
  for (const peer of peers) {
    checks.push(
      check(`W2 throughput ≥ 1.1× ${peer}`, () => {
        const p = value(r.mutex[peer]);
        if (!mutex) return why(r.mutex.fair, 'W2 fair');
        if (!p) return why(r.mutex[peer], `W2 ${peer}`);
        const ratio = mutex.perSec / p.perSec;
        return {
          figure: `${f(mutex.perSec, 0)} vs ${f(p.perSec, 0)} acq/s = ${f(ratio)}×`,
          pass: ratio >= 1.1,
          evidence:
            `${peer}: ${f(p.overtakenShare * 100, 1)} % overtaken, Jain ${f(p.jain, 3)}; ` +
            `this library: handoff p50 ${f(mutex.handoffP50, 3)} ms per acquisition`,
        };
      }),
    );
  }
  checks.push(
    check('W2 wait p99 ≤ 0.1× best peer', () => {
      if (!mutex) return why(r.mutex.fair, 'W2 fair');
      const best = Math.min(...peers.map((p) => value(r.mutex[p])?.waitP99 ?? Number.POSITIVE_INFINITY));
      if (!Number.isFinite(best)) return 'W2: no peer result';
      const ratio = mutex.waitP99 / best;
      // In a FIFO queue each waiter waits for everyone ahead of it: that is the floor.
      const fifo = (cfg.mutex.processes - 1) * (cfg.mutex.holdMs + mutex.handoffP50);
      return {
        figure: `${f(mutex.waitP99)} vs ${f(best)} ms = ${f(ratio, 3)}×`,
        pass: ratio <= 0.1,
        evidence: `FIFO wait ≈ ${cfg.mutex.processes - 1} × (hold + handoff p50) = ${f(fifo, 1)} ms; p50 ${f(mutex.waitP50, 1)} ms`,
      };
    }),
  );
  const fairness = (name: string, o: Outcome<unknown> | undefined, x: typeof mutex, maxHolders: number) => {
    checks.push(
      check(`${name} zero overtakes`, () =>
        x
          ? {
              figure: `${f(x.overtakenShare * 100)} % (worst ${x.worstOvertakes})`,
              pass: x.overtakenShare === 0,
              evidence:
                `in Redis grant order ${f(x.redisOrderOvertakenShare * 100)} %, by send time ` +
                `${f(x.redisOrderBySendOvertakenShare * 100)} %; call → send p99 ${f(x.sendDelayP99)} / max ${f(x.sendDelayMax, 1)} ms`,
            }
          : why(o, name),
      ),
    );
    if (name === 'W2') {
      checks.push(
        check('W2 Jain index ≥ 0.99', () => (x ? { figure: f(x.jain, 4), pass: x.jain >= 0.99 } : why(o, name))),
      );
    }
    checks.push(
      check(`${name} max concurrent ${maxHolders === 1 ? '= 1' : `≤ ${maxHolders}`}`, () =>
        x ? { figure: String(x.maxConcurrent), pass: x.maxConcurrent <= maxHolders } : why(o, name),
      ),
    );
  };
  // The handoff's floor: a bare PUBLISH between two processes, measured beside W2 and W3.
  const handoff = (name: string, x: typeof mutex, o: Outcome<unknown> | undefined, peer: typeof mutex) => {
    checks.push(
      check(`${name} handoff p50 ≤ 1.5× bare PUBLISH p50`, () => {
        if (!x) return why(o, name);
        if (!floor) return why(r.publish, 'PUBLISH floor');
        const ratio = x.handoffP50 / floor.p50;
        return {
          figure: `${f(x.handoffP50, 3)} vs ${f(floor.p50, 3)} ms = ${f(ratio)}×`,
          pass: ratio <= 1.5,
          evidence:
            `PUBLISH p99 ${f(floor.p99, 3)} ms over ${floor.messages} messages, p50 ${f(floor.briskP50, 3)} ms with ` +
            `${cfg.publish.briskGapMs.join('–')} ms gaps; Redis µs per script call ` +
            `${f(x.scriptUsec, 1)} (redis-semaphore ${f(peer?.scriptUsec ?? Number.NaN, 1)})`,
        };
      }),
    );
  };
  fairness('W2', r.mutex.fair, mutex, 1);
  handoff('W2', mutex, r.mutex.fair, value(r.mutex['redis-semaphore']));
  checks.push(
    check('W3 throughput ≥ 1.0× redis-semaphore', () => {
      const p = value(r.semaphore['redis-semaphore']);
      if (!sem) return why(r.semaphore.fair, 'W3 fair');
      if (!p) return why(r.semaphore['redis-semaphore'], 'W3 redis-semaphore');
      const ratio = sem.perSec / p.perSec;
      return {
        figure: `${f(sem.perSec, 0)} vs ${f(p.perSec, 0)} acq/s = ${f(ratio)}×`,
        pass: ratio >= 1.0,
        evidence: `redis-semaphore: ${f(p.overtakenShare * 100, 1)} % overtaken; this library: handoff p50 ${f(sem.handoffP50, 3)} ms`,
      };
    }),
  );
  fairness('W3', r.semaphore.fair, sem, 3);
  handoff('W3', sem, r.semaphore.fair, value(r.semaphore['redis-semaphore']));
  const deep = value(r.deep.fair);
  const [shallow, deepest] = deep ?? [];
  for (const [what, pick] of [
    ['enqueue', (d: NonNullable<typeof shallow>) => d.enqueueP50],
    ['release→grant', (d: NonNullable<typeof shallow>) => d.handoffP50],
  ] as const) {
    checks.push(
      check(`W4 ${what} p50 at depth ${deepest?.depth ?? '?'} ≤ 1.5× depth ${shallow?.depth ?? '?'}`, () => {
        if (!shallow || !deepest) return why(r.deep.fair, 'W4');
        const ratio = pick(deepest) / pick(shallow);
        return { figure: `${f(pick(deepest), 3)} vs ${f(pick(shallow), 3)} ms = ${f(ratio)}×`, pass: ratio <= 1.5 };
      }),
    );
  }
  checks.push(
    check(`W4 ≤ 200 bytes of Redis memory per waiter at depth ${deepest?.depth ?? '?'}`, () =>
      deepest && shallow
        ? {
            figure: `${f(deepest.keyBytesPerWaiter, 0)} B (MEMORY USAGE)`,
            pass: deepest.keyBytesPerWaiter <= 200,
            evidence: `${f(shallow.keyBytesPerWaiter, 0)} B at depth ${shallow.depth} (small keys are packed); INFO used_memory ${f(deepest.usedBytesPerWaiter, 0)} B`,
          }
        : why(r.deep.fair, 'W4'),
    ),
  );
  checks.push(
    check('W5 ≤ 1 command/s per idle waiter', () => {
      const x = value(r.idle.fair);
      if (!x) return why(r.idle.fair, 'W5');
      const peer = (id: LibId) => f(value(r.idle[id])?.clientCommandsPerWaiterSec ?? Number.NaN, 1);
      return {
        figure: `${f(x.clientCommandsPerWaiterSec, 3)} sent (${f(x.redisCallsPerWaiterSec, 2)} incl. in-script calls)`,
        pass: x.clientCommandsPerWaiterSec <= 1,
        evidence: `redis-semaphore ${peer('redis-semaphore')}, redlock ${peer('redlock')} sent`,
      };
    }),
  );
  for (const peer of peers) {
    checks.push(
      check(`W6 throughput ≥ 1.0× ${peer}`, () => {
        const x = value(r.many.fair);
        const p = value(r.many[peer]);
        if (!x) return why(r.many.fair, 'W6 fair');
        if (!p) return why(r.many[peer], `W6 ${peer}`);
        const ratio = x.pairsPerSec / p.pairsPerSec;
        // With 100 keys in one process Redis itself saturates first: its time per pair decides.
        const usec = (s: typeof solo) => f(s?.commandUsecPerPair ?? Number.NaN, 1);
        return {
          figure: `${f(x.pairsPerSec, 0)} vs ${f(p.pairsPerSec, 0)} pairs/s = ${f(ratio)}×`,
          pass: ratio >= 1.0,
          evidence:
            `pair p50 ${f(x.pairP50)} vs ${f(p.pairP50)} ms; ` +
            `Redis µs per pair in W1 ${usec(solo)} vs ${usec(value(r.solo[peer]))}`,
        };
      }),
    );
  }
  for (const t of openTargets) {
    const pick = (l: OpenFigures) => (t.stat === 'p50' ? l.waitP50 : l.waitP99);
    const level = (id: LibId) => value(r.open[id])?.find((l) => l.load === t.load);
    checks.push(
      check(`W7 wait ${t.stat} at ${Math.round(t.load * 100)} % load ≤ ${f(t.most, 2)}× best peer`, () => {
        const x = level('fair');
        if (!x) return r.open.fair?.ok ? `W7: no level at ${t.load}` : why(r.open.fair, 'W7 fair');
        const best = peers
          .flatMap((id) => {
            const l = level(id);
            return l ? [{ id, l }] : [];
          })
          .sort((a, b) => pick(a.l) - pick(b.l))[0];
        if (!best) return 'W7: no peer result';
        const ratio = pick(x) / pick(best.l);
        // At half load most requests find a free permit: the uncontended path decides the median.
        const cause =
          t.stat === 'p50'
            ? `W1 pair p50 ${f(solo?.pairP50 ?? Number.NaN, 3)} vs ${f(value(r.solo[best.id])?.pairP50 ?? Number.NaN, 3)} ms`
            : `an ideal zero-overhead FIFO on the same requests: p99 ${f(x.idealP99, 1)} ms ` +
              `(${f(x.idealP99 / pick(best.l), 3)}× the peer); max ${f(x.waitMax, 0)} vs ${f(best.l.waitMax, 0)} ms; ` +
              `overtaken ${f(x.overtakenShare * 100, 1)} vs ${f(best.l.overtakenShare * 100, 1)} %`;
        return {
          figure: `${f(pick(x))} vs ${f(pick(best.l))} ms (${best.id}) = ${f(ratio, 3)}×`,
          pass: ratio <= t.most,
          evidence: `${cause}; hold p50 ${f(x.holdP50)} vs ${f(best.l.holdP50)} ms; ${x.requests} vs ${best.l.requests} requests`,
        };
      }),
    );
  }
  // Issue 21: the holder is told before Redis can grant its permits to anyone else, by at
  // least the allowance less the lateness this process's timers showed when it was told.
  for (const id of ['fair', 'fair-node-redis'] as const) {
    const target = `W8 ${id === 'fair' ? '' : 'on node-redis: '}every holder told first (no unhandled rejection): least margin > 0 and ≥ allowance − timer lateness then`;
    checks.push(
      check(target, () => {
        const x = value(r.margin[id]);
        if (!x) return why(r.margin[id], `W8 ${id}`);
        if (x.toldFirst + x.toldLate === 0)
          return `W8 ${id}: no holder was told (${x.neverTold} never told, ${x.heldOn} held on)`;
        const peer = (p: LibId) => {
          const v = value(r.margin[p]);
          return v
            ? `${v.toldFirst} of ${v.runs} told first, ${v.toldLate} after, ${v.neverTold} never (${v.unhandled} unhandled rejections)`
            : '–';
        };
        return {
          figure:
            `least ${f(x.min, 1)} ms; ${x.toldFirst} told first, ${x.toldLate} after, ${x.neverTold} never, ` +
            `${x.heldOn} held on, ${x.lostBeforeCut} lost before the cut; ${x.unhandled} unhandled rejections`,
          pass:
            x.toldLate === 0 &&
            x.neverTold === 0 &&
            x.lostBeforeCut === 0 &&
            x.unhandled === 0 &&
            x.min > 0 &&
            x.usedBeyondLateness <= 0,
          evidence:
            `at most ${f(x.usedBeyondLateness, 2)} ms of the allowance used beyond the timer lateness seen then ` +
            `(the allowance budgets 2 ms for Redis's TIME and this process's timers counting whole ms); ` +
            `margin − allowance ≥ ${f(x.minOverAllowance, 1)} ms; timer lateness p99 ${f(x.lateP99, 1)}, max ${f(x.lateMax, 1)} ms; ` +
            `clock mapping good to ${f(x.roundTripMax / 2, 2)} ms; ` +
            `p50 ${f(x.p50, 1)} ms; redis-semaphore ${peer('redis-semaphore')}, redlock ${peer('redlock')}`,
        };
      }),
    );
  }
  return checks;
}
