/** What the orchestrator reads from Redis itself: versions, command counts, memory. */
import type { Redis } from 'ioredis';

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  return fields;
}

export async function redisVersion(redis: Redis): Promise<string> {
  return parseInfo(await redis.info('server')).get('redis_version') ?? 'unknown';
}

export type CommandStats = Map<string, { calls: number; usec: number }>;

/** Per-command calls and CPU time; calls made inside scripts are counted too. */
export async function commandStats(redis: Redis): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  for (const [name, value] of parseInfo(await redis.info('commandstats'))) {
    const calls = /calls=(\d+)/.exec(value);
    const usec = /usec=(\d+)/.exec(value);
    if (calls && usec) stats.set(name.replace(/^cmdstat_/, ''), { calls: Number(calls[1]), usec: Number(usec[1]) });
  }
  return stats;
}

/** after − before, leaving out the commands the orchestrator itself sends to observe. */
export function statsDelta(before: CommandStats, after: CommandStats): CommandStats {
  const out: CommandStats = new Map();
  for (const [name, a] of after) {
    if (/^(info|memory|scan|flushall)/.test(name)) continue;
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) out.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
  }
  return out;
}

export function totalCalls(stats: CommandStats): number {
  let n = 0;
  for (const s of stats.values()) n += s.calls;
  return n;
}

/** Script entry points (EVALSHA, EVAL and their _RO forms); a script cannot call one. */
function isScriptCall(name: string): boolean {
  return name.startsWith('eval');
}

/** Script entry points: their CPU time per call is what a script costs. */
export function scriptCost(stats: CommandStats): { calls: number; usec: number } {
  let calls = 0;
  let usec = 0;
  for (const [name, s] of stats) {
    if (isScriptCall(name)) {
      calls += s.calls;
      usec += s.usec;
    }
  }
  return { calls, usec };
}

/**
 * Commands the harness itself sends (reference PINGs, connection set-up, observation):
 * never part of a library's cost.
 */
const harnessCommands = new Set([
  'ping',
  'info',
  'config',
  'memory',
  'scan',
  'flushall',
  'quit',
  'select',
  'client',
  'hello',
  'command',
]);

/**
 * Redis CPU (µs) of every command the clients sent themselves, harness commands aside.
 * A command a script runs is counted twice by commandstats (under its own name and
 * inside the EVALSHA's time), so a name counts only in the share of its calls that
 * the clients sent: SET sent plainly counts, the SETs inside a script do not. Script
 * calls count whole (some libraries' NOSCRIPT fallback bypasses the send counter).
 */
export function clientCommandsUsec(stats: CommandStats, sentByName: Readonly<Record<string, number>>): number {
  const sent = new Map<string, number>();
  for (const [name, n] of Object.entries(sentByName))
    sent.set(name.toLowerCase(), (sent.get(name.toLowerCase()) ?? 0) + n);
  let usec = 0;
  for (const [name, s] of stats) {
    // Subcommands are listed as "command|sub"; clients send them under the command's name.
    const command = name.split('|')[0] ?? name;
    if (harnessCommands.has(command) || s.calls === 0) continue;
    usec += isScriptCall(command) ? s.usec : s.usec * Math.min(1, (sent.get(command) ?? 0) / s.calls);
  }
  return usec;
}

/** Bytes Redis holds for the keys whose name contains `fragment` (exact, SAMPLES 0). */
export async function keysMemory(redis: Redis, fragment: string): Promise<number> {
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${fragment}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) bytes += Number((await redis.memory('USAGE', key, 'SAMPLES', 0)) ?? 0);
  } while (cursor !== '0');
  return bytes;
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number(parseInfo(await redis.info('memory')).get('used_memory') ?? Number.NaN);
}
