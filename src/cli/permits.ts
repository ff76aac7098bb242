import type { Redis } from 'ioredis';
import { Semaphore } from '../index.js';
import { defaults, type Waiting } from './args.js';
import { CommandFailure, ExitCode } from './exit-codes.js';
import { programName, shellWord } from './format.js';

/**
 * The permits a run or acquire waits under: --permits when given (no extra round trip),
 * else the limit stored in Redis for the key, read once. A key with none, and a --weight
 * above the limit, are refused with exit codes of their own before anything is queued.
 * A limit changed after the read still decides in Redis: lowered below --weight, it ends
 * the wait with WeightExceedsLimitError (see tooHeavy); removed, the permits read here
 * stay this process's own, as if passed with --permits.
 * `outcome` says what did not happen (the command did not run, nothing was acquired).
 */
export async function permitsFor(redis: Redis, a: Waiting, outcome: string): Promise<number> {
  if (a.permits !== undefined) return a.permits;
  // Any permits do here: status() reports the stored limit whatever this object was given.
  const s = await new Semaphore(redis, a.key, { permits: 1, prefix: a.prefix }).status({ limit: 1 });
  if (s.permitsSource !== 'set') {
    throw new CommandFailure(
      ExitCode.noLimit,
      `"${a.key}" has no limit set in Redis, and --permits was not given; ${outcome}. ` +
        'Pass --permits <n> (the number every user of the key passes), or store the limit once with: ' +
        setPermitsCommand(a, '<n>'),
    );
  }
  if (a.weight > s.permits) {
    throw new CommandFailure(ExitCode.weightExceedsLimit, tooHeavy(a, a.weight, s.permits, outcome));
  }
  return s.permits;
}

/** Why a weight can never be granted under the stored limit, and the two ways out. */
export function tooHeavy(a: Waiting, weight: number, limit: number, outcome: string): string {
  return (
    `--weight ${weight} is more than the limit of "${a.key}" set in Redis (${limit}), so it could never be ` +
    `granted; ${outcome}. Pass --weight ${limit} or less, or raise the limit with: ` +
    setPermitsCommand(a, String(weight))
  );
}

/** The set-permits command line for the same key, ready to paste. */
function setPermitsCommand(a: Waiting, n: string): string {
  const prefix = a.prefix === defaults.prefix ? '' : ` --prefix ${shellWord(a.prefix)}`;
  return `${programName} set-permits ${shellWord(a.key)} ${n}${prefix}`;
}
