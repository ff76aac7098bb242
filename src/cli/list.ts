import type { Redis } from 'ioredis';
import { LayoutVersionError, Semaphore, type SemaphoreStatus } from '../index.js';
import { keyspace } from '../keys.js';
import type { ListArgs } from './args.js';
import { close, connect } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { duration, printable, quoted, table } from './format.js';
import { findSemaphores, type Found } from './scan.js';
import { longestHeld } from './status.js';

/**
 * `list`: every semaphore under --prefix, found by a bounded SCAN, each read with one
 * status() call; printed as a table, or as JSON with those status() replies.
 */
export async function list(a: ListArgs): Promise<number> {
  const redis = await connect(a.url);
  try {
    const found = await findSemaphores(redis, a.prefix, a);
    const readings = await readAll(redis, a.prefix, found.keys);
    process.stdout.write(a.json ? asJson(a, found, readings) : render(a, found, readings));
    return ExitCode.ok;
  } finally {
    await close(redis);
  }
}

/** One semaphore as read, or why it could not be. */
type Reading =
  | { readonly key: string; readonly status: SemaphoreStatus }
  | { readonly key: string; readonly error: string };

/** status() calls in flight at once: pipelined on the one connection, without queueing thousands. */
const batch = 100;

async function readAll(redis: Redis, prefix: string, keys: readonly string[]): Promise<Reading[]> {
  const readings: Reading[] = [];
  for (let i = 0; i < keys.length; i += batch) {
    const some = keys.slice(i, i + batch);
    const foreign = await foreignData(redis, prefix, some);
    readings.push(
      ...(await Promise.all(
        some.map((key, j) => {
          const error = foreign[j];
          return error === undefined ? read(redis, prefix, key) : { key, error };
        }),
      )),
    );
  }
  return readings;
}

/**
 * The key's status with only the head of the line listed. The permits given here
 * decide nothing: status() reports the limit in force. A key of another layout is one
 * line of the listing; anything else (no permission, Redis gone) fails the command.
 */
async function read(redis: Redis, prefix: string, key: string): Promise<Reading> {
  try {
    return { key, status: await new Semaphore(redis, key, { permits: 1, prefix }).status({ limit: 1 }) };
  } catch (error) {
    if (!(error instanceof LayoutVersionError)) throw error;
    const user = error.layout === 1 ? 'version 1 of redis-fair-semaphore' : 'a newer version of redis-fair-semaphore';
    return { key, error: `in use by ${user}, whose layout this one cannot read` };
  }
}

/** The role and type of each of a semaphore's keys, in keyspace() order (keys.ts). */
const roles = [
  ['fence', 'string'],
  ['tickets', 'zset'],
  ['waiters', 'zset'],
  ['line', 'list'],
] as const;

/**
 * For each key, why it is not read, or undefined: one of its names holds data of
 * another type (anyone's, or version 1's hash), which status() would delete as
 * corrupt. One pipelined round trip of TYPE calls; read-only.
 */
async function foreignData(redis: Redis, prefix: string, keys: readonly string[]): Promise<(string | undefined)[]> {
  const pipeline = redis.pipeline();
  for (const key of keys) for (const name of keyspace(prefix, key).keys) pipeline.type(name);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((_, i) => {
    for (const [j, [role, expected]] of roles.entries()) {
      const [error, type] = replies[i * roles.length + j] ?? [new Error('no reply to TYPE')];
      if (error) throw error;
      if (type !== 'none' && type !== expected)
        return `its ${role} key is a ${String(type)}, not a ${expected}; left as it is`;
    }
    return undefined;
  });
}

function asJson(a: ListArgs, found: Found, readings: readonly Reading[]): string {
  const semaphores = readings.flatMap((r) => ('status' in r ? [r.status] : []));
  const unreadable = readings.flatMap((r) => ('error' in r ? [{ key: r.key, error: r.error }] : []));
  const listing = {
    prefix: a.prefix,
    complete: found.stoppedBy === null,
    stoppedBy: found.stoppedBy,
    semaphores,
    unreadable,
  };
  return `${JSON.stringify(listing, null, 2)}\n`;
}

/** Keys longer than this are cut in the table (--json has them whole). */
const shownKeyLength = 200;

function render(a: ListArgs, found: Found, readings: readonly Reading[]): string {
  const rows: string[][] = [];
  const unreadable: string[] = [];
  for (const r of readings) {
    const key = r.key.length > shownKeyLength ? `${quoted(r.key.slice(0, shownKeyLength))}…` : quoted(r.key);
    if ('error' in r) {
      unreadable.push(`  ${key}: ${printable(r.error)}`);
      continue;
    }
    const s = r.status;
    // With nobody holding or waiting and no limit stored, nothing in Redis says the limit.
    const known = s.permitsSource === 'set' || s.held > 0 || s.waiting > 0;
    rows.push([
      key,
      `${s.held}/${known ? s.permits : '-'}`,
      String(s.waiting),
      s.holders.length > 0 ? duration(longestHeld(s.holders)) : '-',
      s.permitsSource === 'set' ? 'redis' : known ? 'users' : '-',
      s.paused ? 'paused' : '-',
    ]);
  }
  const lines: string[] = [];
  if (rows.length > 0) {
    lines.push(table([['KEY', 'HELD/LIMIT', 'WAITING', 'LONGEST HELD', 'LIMIT FROM', 'PAUSED'], ...rows], ''));
  }
  if (unreadable.length > 0) lines.push('Not read (not a semaphore of this version):', ...unreadable);
  lines.push(summary(a, found, rows.length, unreadable.length));
  return `${lines.join('\n')}\n`;
}

/** How many were listed and, when the listing is incomplete, why and what to change. */
function summary(a: ListArgs, found: Found, count: number, notRead: number): string {
  const under = `under prefix ${quoted(a.prefix)}`;
  const which = a.all ? '' : ' with holders, waiters or settings (--all adds idle keys)';
  const others = notRead > 0 ? `, and ${notRead} not read` : '';
  switch (found.stoppedBy) {
    case null:
      return `${count === 0 ? 'no' : count} ${plural(count)} ${under}${which}${others}`;
    case 'limit':
      return (
        `listing cut short: more than ${a.limit} ${plural(a.limit)} ${under}${which}; ` +
        `these are ${count + notRead} of those found (raise --limit, or narrow --prefix)`
      );
    case 'scan-limit':
      return (
        `listing cut short: SCAN stopped after examining about ${a.scanLimit} keys (--scan-limit); ` +
        `more semaphores ${under} may exist`
      );
  }
}

function plural(n: number): string {
  return n === 1 ? 'semaphore' : 'semaphores';
}
