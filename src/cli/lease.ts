import type { Redis } from 'ioredis';
import { type Lease, LeaseLostError, Semaphore } from '../index.js';
import type { AcquireArgs, LeaseArgs } from './args.js';
import { close, connect } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { duration, say } from './format.js';
import { permitsFor } from './permits.js';
import { positionIn, Progress } from './progress.js';
import { processLabel, progressMode, waitEnded } from './run.js';
import { exitCodeFor, type SignalRelay, waitingCommand } from './signals.js';

/**
 * `acquire <key>`: waits its turn, takes a lease with a fixed term of --ttl and prints
 * its id on stdout, so that a later step (`extend`, `release`, or a program using
 * `semaphore.lease(id)`) can act on it after this process has exited.
 */
export function acquire(a: AcquireArgs): Promise<number> {
  return waitingCommand(a.url, (redis, signals, cancel) => take(redis, a, signals, cancel));
}

const notAcquired = 'nothing was acquired';

async function take(redis: Redis, a: AcquireArgs, signals: SignalRelay, cancel: AbortSignal): Promise<number> {
  const permits = await permitsFor(redis, a, notAcquired);
  const sem = new Semaphore(redis, a.key, { permits, ttl: a.ttl, prefix: a.prefix });
  const progress = new Progress(a.key, progressMode(a), positionIn(sem));
  let lease: Lease;
  try {
    lease = await sem.acquire({
      weight: a.weight,
      timeout: a.timeout,
      signal: cancel,
      label: a.label ?? processLabel('acquire', 'acquire'),
      autoRefresh: false,
    });
  } catch (error) {
    progress.stop();
    return waitEnded(error, a, signals, cancel, notAcquired);
  }
  progress.granted(lease);
  if (signals.received) {
    // The signal came as the grant did: nobody will get the id, so give the permit back.
    await lease.release().catch(() => {});
    return exitCodeFor(signals.received);
  }
  if (a.verbose) say(`"${a.key}" is held for ${duration(a.ttl)} unless extended or released`);
  process.stdout.write(`${lease.id}\n`);
  return ExitCode.ok;
}

/** `extend <id> <ms>` and `release <id>`: one handle, one call, exit 79 if the lease is gone. */
export async function actOnLease(a: LeaseArgs): Promise<number> {
  const redis = await connect(a.url);
  try {
    const sem = new Semaphore(redis, a.lease.key, { permits: a.lease.permits, prefix: a.lease.prefix });
    try {
      const lease = await sem.lease(a.id);
      if (a.kind === 'extend') {
        await lease.extend(a.ms);
        return ExitCode.ok;
      }
      if (await lease.release()) return ExitCode.ok;
      // Expired or released by someone else between our two calls.
      throw new LeaseLostError(a.lease.key, a.lease.fencingToken, 'Redis no longer had it when released');
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      say(
        `the lease on "${a.lease.key}" (fencing token ${a.lease.fencingToken}) is no longer held: ` +
          'it expired or was released; nothing was changed',
      );
      return ExitCode.leaseLost;
    }
  } finally {
    await close(redis);
  }
}
