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

/** Script entry points (EVALSHA/EVAL): their CPU time per call is what a script costs. */
export function scriptCost(stats: CommandStats): { calls: number; usec: number } {
  let calls = 0;
  let usec = 0;
  for (const [name, s] of stats) {
    if (name.startsWith('eval')) {
      calls += s.calls;
      usec += s.usec;
    }
  }
  return { calls, usec };
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
