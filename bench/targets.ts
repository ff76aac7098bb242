/**
 * The issue's targets, checked on figures measured in the same run. Each check
 * carries the diagnostic figures (same run) that bear on it, so that a MISS comes
 * with what to look at rather than with a verdict written in advance.
 */
import type { Config } from './config.js';
import type { LibId } from './protocol.js';
import { type Outcome, type Results, value } from './results.js';

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

export function checkTargets(cfg: Config, r: Results): Check[] {
  const solo = value(r.solo.fair);
  const mutex = value(r.mutex.fair);
  const sem = value(r.semaphore.fair);
  const rsSolo = value(r.solo['redis-semaphore']);
  const rsMutex = value(r.mutex['redis-semaphore']);
  // The handoff reference: the median of the three W1 runs' PING p50, steadier than any one of them.
  const pings = Object.values(r.solo)
    .flatMap((o) => (o?.ok ? [o.value.pingP50] : []))
    .sort((a, b) => a - b);
  const ping = pings.length === 0 ? undefined : pings[Math.floor((pings.length - 1) / 2)];
  const checks: Check[] = [];

  for (const peer of peers) {
    checks.push(
      check(`W2 throughput ≥ 1.3× ${peer}`, () => {
        const p = value(r.mutex[peer]);
        if (!mutex) return why(r.mutex.fair, 'W2 fair');
        if (!p) return why(r.mutex[peer], `W2 ${peer}`);
        const ratio = mutex.perSec / p.perSec;
        return {
          figure: `${f(mutex.perSec, 0)} vs ${f(p.perSec, 0)} acq/s = ${f(ratio)}×`,
          pass: ratio >= 1.3,
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
      const floor = (cfg.mutex.processes - 1) * (cfg.mutex.holdMs + mutex.handoffP50);
      return {
        figure: `${f(mutex.waitP99)} vs ${f(best)} ms = ${f(ratio, 3)}×`,
        pass: ratio <= 0.1,
        evidence: `FIFO wait ≈ ${cfg.mutex.processes - 1} × (hold + handoff p50) = ${f(floor, 1)} ms; p50 ${f(mutex.waitP50, 1)} ms`,
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
  fairness('W2', r.mutex.fair, mutex, 1);
  checks.push(
    check('W3 throughput ≥ 1.5× redis-semaphore', () => {
      const p = value(r.semaphore['redis-semaphore']);
      if (!sem) return why(r.semaphore.fair, 'W3 fair');
      if (!p) return why(r.semaphore['redis-semaphore'], 'W3 redis-semaphore');
      const ratio = sem.perSec / p.perSec;
      return {
        figure: `${f(sem.perSec, 0)} vs ${f(p.perSec, 0)} acq/s = ${f(ratio)}×`,
        pass: ratio >= 1.5,
        evidence: `redis-semaphore: ${f(p.overtakenShare * 100, 1)} % overtaken; this library: handoff p50 ${f(sem.handoffP50, 3)} ms`,
      };
    }),
  );
  fairness('W3', r.semaphore.fair, sem, 3);
  for (const [name, x, o] of [
    ['W2', mutex, r.mutex.fair],
    ['W3', sem, r.semaphore.fair],
  ] as const) {
    checks.push(
      check(`${name} handoff p50 ≤ 2× PING p50`, () => {
        if (!x) return why(o, name);
        if (ping === undefined) return why(r.solo.fair, 'W1');
        const ratio = x.handoffP50 / ping;
        return {
          figure: `${f(x.handoffP50, 3)} vs ${f(ping, 3)} ms (median W1 PING) = ${f(ratio)}×`,
          pass: ratio <= 2,
          evidence: `Redis µs per script call ${f(x.scriptUsec, 1)} (redis-semaphore ${f(rsMutex?.scriptUsec ?? Number.NaN, 1)})`,
        };
      }),
    );
  }
  checks.push(
    check('W1 pair p50 ≤ 2.5× PING p50', () => {
      if (!solo) return why(r.solo.fair, 'W1');
      const ratio = solo.pairP50 / solo.pingP50;
      return {
        figure: `${f(solo.pairP50, 3)} vs ${f(solo.pingP50, 3)} ms = ${f(ratio)}×`,
        pass: ratio <= 2.5,
        evidence:
          `${f(solo.commandsPerPair)} commands per pair; Redis µs per script call ${f(solo.scriptUsec, 1)} ` +
          `(redis-semaphore ${f(rsSolo?.scriptUsec ?? Number.NaN, 1)})`,
      };
    }),
  );
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
    check('W4 ≤ 250 bytes of Redis memory per waiter', () =>
      deepest && shallow
        ? {
            figure: `${f(deepest.keyBytesPerWaiter, 0)} B (MEMORY USAGE)`,
            pass: deepest.keyBytesPerWaiter <= 250,
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
  return checks;
}
