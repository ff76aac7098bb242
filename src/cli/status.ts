import { type HolderInfo, Semaphore, type SemaphoreStatus } from '../index.js';
import type { StatusArgs } from './args.js';
import { close, connect } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { cell, duration, printable, quoted, table } from './format.js';

/** `status <key>`: one status() call, printed as JSON (exactly what it returned) or as tables. */
export async function status(a: StatusArgs): Promise<number> {
  const redis = await connect(a.url);
  try {
    const sem = new Semaphore(redis, a.key, { permits: a.permits, prefix: a.prefix });
    const s = await sem.status({ limit: a.limit });
    if (a.json) {
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    } else {
      process.stdout.write(render(s));
    }
    return ExitCode.ok;
  } finally {
    await close(redis);
  }
}

export const pausedLine = 'PAUSED: nothing is granted until resume; holders keep their permits';

/**
 * The status as a headline, the limit and where it comes from, PAUSED while paused, and
 * two tables; every duration is from the server's clock.
 */
export function render(s: SemaphoreStatus): string {
  const lines = [
    `${quoted(s.key)}: ${s.held} of ${s.permits} permits held, ${s.available} available, ` +
      `${s.waiting} waiting (last fencing token ${s.lastFencingToken})`,
    `Limit: ${s.permits}, ${limitSource(s)}`,
  ];
  if (s.paused) lines.push(pausedLine);
  if (s.held > s.permits) {
    lines.push(
      s.permitsSource === 'set'
        ? 'Note: more permits are held than the limit set in Redis (set or lowered while they were held); ' +
            'nothing more is granted until releases and expiries bring them under it.'
        : `Note: more permits are held than --permits ${s.permits}; pass the number the semaphore's users pass.`,
    );
  }
  lines.push('', 'Holders:');
  if (s.holders.length === 0) {
    lines.push('  (none)');
  } else {
    const rows = s.holders.map((h) => [
      String(h.fencingToken),
      String(h.weight),
      duration(h.heldFor),
      duration(h.expiresIn),
      // Tokens and labels are read from Redis, where anyone may have written anything.
      cell(h.label),
      printable(h.token),
    ]);
    lines.push(table([['FENCING TOKEN', 'WEIGHT', 'HELD FOR', 'EXPIRES IN', 'LABEL', 'TOKEN'], ...rows]));
  }
  lines.push('', 'Waiters (first in line first):');
  if (s.waiters.length === 0) {
    lines.push('  (none)');
  } else {
    const rows = s.waiters.map((w, i) => [
      String(i + 1),
      String(w.weight),
      duration(w.expiresIn),
      cell(w.label),
      printable(w.token),
    ]);
    lines.push(table([['#', 'WEIGHT', 'EXPIRES IN', 'LABEL', 'TOKEN'], ...rows]));
    if (s.waiting > s.waiters.length) lines.push(`  ... and ${s.waiting - s.waiters.length} more (see --limit)`);
  }
  return `${lines.join('\n')}\n`;
}

export function limitSource(s: SemaphoreStatus): string {
  if (s.permitsSource === 'set') return 'set in Redis (set-permits)';
  // Only holders' and waiters' tickets carry the permits their callers passed.
  if (s.held === 0 && s.waiting === 0) return 'from --permits (no limit is set in Redis, and nobody holds or waits)';
  return 'from the permits its users pass (no limit is set in Redis)';
}

/** The longest time any of `holders` has held its permits (ms), 0 for none. */
export function longestHeld(holders: readonly HolderInfo[]): number {
  return holders.reduce((longest, h) => Math.max(longest, h.heldFor), 0);
}
