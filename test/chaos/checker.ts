/** Prints the figures of one run and says which of them fail it. */
import type { FaultKind } from './faults.js';
import type { PoolStats } from './pool.js';
import type { ResourceSummary } from './protocol.js';
import type { ResizerStats } from './resizer-process.js';

export type RunResult = {
  name: string;
  seconds: number;
  pool: PoolStats;
  faults: ReadonlyMap<FaultKind, number>;
  resource: ResourceSummary;
  leakedKeys: string[];
  stuckClients: number;
  /** The run's resizer, if it had one. */
  resizer: ResizerStats | undefined;
};

/** Prints the run's figures; returns the names of the checks it failed. */
export function check(r: RunResult, print: (line: string) => void): string[] {
  const faults = [...r.faults].map(([k, n]) => `${k} ${n}`).join(', ');
  const errors = [...r.pool.acquireErrors].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  print(`[${r.name}] ${r.seconds.toFixed(1)} s`);
  print(
    `  acquisitions:                ${r.pool.acquisitions} (entries accepted ${r.resource.entries}, max inside ${r.resource.maxInside})`,
  );
  print(`  acquire timeouts:            ${r.pool.acquireTimeouts}; other acquire errors: ${errors}`);
  print(`  faults injected:             ${faults}`);
  const failedHandovers = [...r.pool.handoverErrors].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  print(`  leases handed over by id:    ${r.pool.handovers} (takeovers refused: ${failedHandovers})`);
  print(
    `  leases reported lost:        ${r.resource.lostReported} (lost to Redis restarts: ${r.resource.lostToRestart})`,
  );
  print(`  fenced writes refused:       ${r.resource.refused} (expected: stale holders caught)`);
  if (r.resizer) {
    print(
      `  settings changed:            ${r.resource.settingsChanges} times (entries judged stricter than the callers' permits: ${r.resource.judgedStricter})`,
    );
  }
  // A TypeError and its kin are bugs, not one of the clear outcomes an acquire may have.
  const programming = ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'];
  const buggy = programming.reduce((n, name) => n + (r.pool.acquireErrors.get(name) ?? 0), 0);
  const resizer: [string, number][] = r.resizer
    ? [
        ['settings changes that failed', r.resizer.failures.length],
        ['settings not as status() showed them', r.resizer.mismatches.length],
        ['no settings change at all', r.resource.settingsChanges === 0 ? 1 : 0],
        ['resizer did not finish', r.resizer.finished ? 0 : 1],
      ]
    : [];
  const checks: [string, number][] = [
    ['violations', r.resource.violations],
    ['granted while paused', r.resource.grantedWhilePaused],
    ['out-of-order fenced writes accepted', r.resource.outOfOrderAccepted],
    ['hung acquires', r.pool.hungAcquires],
    ['clients that did not finish', r.stuckClients],
    ['unhandled rejections', r.pool.unhandled.length],
    ['acquires failed by a programming error', buggy],
    ['clients crashed', r.pool.crashed],
    // Refused takeovers are expected (the term ended in a stall, Redis restarted); a bug is not.
    [
      'takeovers failed by a programming error',
      programming.reduce((n, name) => n + (r.pool.handoverErrors.get(name) ?? 0), 0),
    ],
    ['no lease handed over at all', r.pool.acquisitions >= 50 && r.pool.handovers === 0 ? 1 : 0],
    ['restart losses never reported', r.resource.unreportedLosses],
    ['leaked keys', r.leakedKeys.length],
    ...resizer,
  ];
  for (const [label, n] of checks) print(`  ${`${label}:`.padEnd(42)}${n}${n > 0 ? '   <-- FAIL' : ''}`);
  for (const e of r.resource.examples) print(`    e.g. ${e}`);
  for (const [name, message] of r.pool.acquireErrorExamples) print(`    first ${name}: ${message.slice(0, 300)}`);
  for (const u of r.pool.unhandled.slice(0, 5)) print(`    unhandled: ${u}`);
  for (const f of [...(r.resizer?.failures ?? []), ...(r.resizer?.mismatches ?? [])].slice(0, 5))
    print(`    resizer: ${f}`);
  if (r.leakedKeys.length > 0) print(`    leaked: ${r.leakedKeys.slice(0, 10).join(', ')}`);
  return checks.filter(([, n]) => n > 0).map(([label, n]) => `${r.name}: ${n} ${label}`);
}
