import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { AcquireTimeoutError, type Lease, Semaphore, WeightExceedsLimitError } from '../index.js';
import { labelCharacters, limits } from '../validate.js';
import type { AcquireArgs, RunArgs } from './args.js';
import { runCommand } from './command.js';
import { within } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { say } from './format.js';
import { permitsFor, tooHeavy } from './permits.js';
import { positionIn, Progress, type ProgressMode } from './progress.js';
import { exitCodeFor, type SignalRelay, waitingCommand } from './signals.js';

/** How long the final release may take before we leave it to expire by itself. */
const releaseWaitMs = 2_000;

/** `run <key> -- <command>`: wait our turn, run the command holding the permit, release. */
export function run(a: RunArgs): Promise<number> {
  return waitingCommand(a.url, (redis, signals, cancel) => hold(redis, a, signals, cancel));
}

const notRun = 'the command did not run';

async function hold(redis: Redis, a: RunArgs, signals: SignalRelay, cancel: AbortSignal): Promise<number> {
  const permits = await permitsFor(redis, a, notRun);
  const sem = new Semaphore(redis, a.key, { permits, ttl: a.ttl, prefix: a.prefix, label: runLabel(a) });
  const progress = new Progress(a.key, progressMode(a), positionIn(sem));
  let lease: Lease;
  try {
    lease = await sem.acquire({ weight: a.weight, timeout: a.timeout, signal: cancel });
  } catch (error) {
    progress.stop();
    return waitEnded(error, a, signals, cancel, notRun);
  }
  progress.granted(lease);
  const grantedAt = performance.now();
  let code: number;
  if (signals.received) {
    // The signal came as the grant did: the user no longer wants the command run.
    code = exitCodeFor(signals.received);
  } else if (!lease.held) {
    say(`${String((lease.signal.reason as Error).message)} The command did not run.`);
    code = ExitCode.leaseLost;
  } else {
    code = await runCommand({ command: a.command, args: a.args, lease, grace: a.grace, signals });
  }
  const released = await within(
    lease.release().then(
      () => true,
      () => false,
    ),
    releaseWaitMs,
  );
  if (released !== true) say(`could not release "${a.key}" in time; it frees itself within ${a.ttl} ms`);
  progress.released(performance.now() - grantedAt);
  return code;
}

/**
 * A wait of run or acquire that ended without a grant: one line on stderr saying why
 * and what did not happen (`outcome`), and the exit code. Anything else is thrown on.
 */
export function waitEnded(
  error: unknown,
  a: RunArgs | AcquireArgs,
  signals: SignalRelay,
  cancel: AbortSignal,
  outcome: string,
): number {
  // The library has already taken our ticket out of the queue (on this connection, before our QUIT).
  if (cancel.aborted && signals.received) return exitCodeFor(signals.received);
  if (error instanceof AcquireTimeoutError) {
    say(`timed out after ${a.timeout} ms waiting for "${a.key}"; ${outcome}`);
    return ExitCode.timeout;
  }
  // Refused before queueing, or taken out of the line when the limit was lowered below our weight.
  if (error instanceof WeightExceedsLimitError) {
    say(tooHeavy(a, error.weight, error.limit, outcome));
    return ExitCode.weightExceedsLimit;
  }
  throw error;
}

/** How a waiting command (run, acquire) reports its wait on stderr. */
export function progressMode(a: { readonly quiet: boolean; readonly verbose: boolean }): ProgressMode {
  if (a.quiet) return 'off';
  if (a.verbose) return 'lines';
  return process.stderr.isTTY ? 'live' : 'off';
}

/** Who holds the permit, for `status`: host, pid and command, in the characters a label allows. */
export function runLabel(a: RunArgs): string {
  return processLabel([a.command, ...a.args].join(' '), 'run');
}

const notInLabel = new RegExp(`[^${labelCharacters}]`, 'g');

/** "<host> <pid> <what>", with what a label may not contain replaced and cut to its length. */
export function processLabel(what: string, fallback: string): string {
  const text = `${hostname()} ${process.pid} ${what}`;
  return text.replace(notInLabel, '_').slice(0, limits.maxLabelLength).trimEnd() || fallback;
}
