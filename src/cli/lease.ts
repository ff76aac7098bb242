import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { AcquireTimeoutError, LeaseLostError, Semaphore } from '../index.js';
import { maxLabelLength } from '../options.js';
import type { AcquireArgs, LeaseArgs } from './args.js';
import { close, connect } from './connection.js';
import { ExitCode } from './exit-codes.js';
import { duration, say } from './format.js';
import { Progress } from './progress.js';
import { exitCodeFor, SignalRelay } from './signals.js';

/**
 * `acquire <key>`: waits its turn, takes a lease with a fixed term of --ttl and prints
 * its id on stdout, so that a later step (`extend`, `release`, or a program using
 * `semaphore.lease(id)`) can act on it after this process has exited.
 */
export async function acquire(a: AcquireArgs): Promise<number> {
  const abort = new AbortController();
  // Installed before connecting, so an early Ctrl-C cancels cleanly instead of killing us mid-queue.
  const signals = new SignalRelay((signal) => abort.abort(signal));
  try {
    const redis = await connect(a.url);
    try {
      return await take(redis, a, signals, abort.signal);
    } finally {
      await close(redis);
    }
  } finally {
    signals[Symbol.dispose]();
  }
}

async function take(redis: Redis, a: AcquireArgs, signals: SignalRelay, cancel: AbortSignal): Promise<number> {
  const sem = new Semaphore(redis, a.key, { permits: a.permits, ttl: a.ttl, prefix: a.prefix });
  const mode = a.quiet ? 'off' : a.verbose ? 'lines' : process.stderr.isTTY ? 'live' : 'off';
  const progress = new Progress(a.key, mode, async (token, limit) => {
    const index = (await sem.status({ limit })).waiters.findIndex((w) => w.token === token);
    return index < 0 ? undefined : index;
  });
  let lease;
  try {
    lease = await sem.acquire({
      weight: a.weight,
      timeout: a.timeout,
      signal: cancel,
      label: a.label ?? acquireLabel(),
      autoRefresh: false,
    });
  } catch (error) {
    progress.stop();
    // The library has already taken our ticket out of the queue (on this connection, before our QUIT).
    if (cancel.aborted && signals.received) return exitCodeFor(signals.received);
    if (error instanceof AcquireTimeoutError) {
      say(`timed out after ${a.timeout} ms waiting for "${a.key}"; nothing was acquired`);
      return ExitCode.timeout;
    }
    throw error;
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

/** Who took the permit, for `status`: the host and the pid of the `acquire` that did. */
function acquireLabel(): string {
  const text = `${hostname()} ${process.pid} acquire`;
  return text.replace(/[^A-Za-z0-9 _.:@,=+#()[\]-]/g, '_').slice(0, maxLabelLength).trimEnd();
}
