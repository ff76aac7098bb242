/**
 * One clock for every process: `performance.timeOrigin` is wall-clock based, so
 * timestamps taken in different processes on this machine can be compared.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Milliseconds since the epoch with sub-microsecond resolution. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Occupies the CPU for `ms`: timers are too coarse (≥1 ms, and late) to model a 1 ms hold. */
export function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spinning on purpose.
  }
}

/** Sleeps until shortly before `at`, then spins, so that all processes start together. */
export async function waitUntil(at: number): Promise<void> {
  const ahead = at - now() - 3;
  if (ahead > 0) await sleep(ahead);
  while (now() < at) {
    // Spinning on purpose: the last few ms decide the start skew between processes.
  }
}

export { sleep };
