import { spawn } from 'node:child_process';
import { ErrorCode, type Lease } from '../index.js';
import { ExitCode } from './exit-codes.js';
import { say } from './format.js';
import { exitCodeFor, type SignalRelay } from './signals.js';

export type CommandOptions = {
  readonly command: string;
  readonly args: readonly string[];
  readonly lease: Lease;
  /** ms between SIGTERM and SIGKILL once the lease is lost; 0 sends SIGKILL at once. */
  readonly grace: number;
  readonly signals: SignalRelay;
};

/**
 * Runs the command with the lease held and resolves with the exit code `run` should
 * give: the command's own, 128+N if signal N ended it, or 79 if the lease was lost.
 */
export function runCommand(o: CommandOptions): Promise<number> {
  const child = spawn(o.command, o.args, {
    stdio: 'inherit',
    env: {
      ...process.env,
      // Lets the command pass the token on to whatever it protects (fencing).
      REDIS_FAIR_SEMAPHORE_KEY: o.lease.key,
      REDIS_FAIR_SEMAPHORE_FENCING_TOKEN: String(o.lease.fencingToken),
    },
  });
  return new Promise((resolve) => {
    let lost = false;
    let killTimer: NodeJS.Timeout | undefined;

    const onLeaseEnd = () => {
      const reason = o.lease.signal.reason as { code?: unknown; message?: unknown } | undefined;
      if (reason?.code !== ErrorCode.leaseLost || child.exitCode !== null || child.signalCode !== null) return;
      lost = true;
      if (o.grace === 0) {
        say(`${String(reason.message)} Stopping the command with SIGKILL.`);
        child.kill('SIGKILL');
        return;
      }
      say(`${String(reason.message)} Stopping the command: SIGTERM now, SIGKILL in ${o.grace} ms.`);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), o.grace);
    };

    const finish = (code: number) => {
      clearTimeout(killTimer);
      o.lease.signal.removeEventListener('abort', onLeaseEnd);
      o.signals.handler = () => {};
      resolve(lost ? ExitCode.leaseLost : code);
    };

    o.lease.signal.addEventListener('abort', onLeaseEnd);
    // The terminal may have signalled the command too (same process group); a second copy is harmless.
    o.signals.handler = (signal) => child.kill(signal);
    child.on('error', (error: NodeJS.ErrnoException) => {
      // 'error' also reports a failed kill() of a live child; only a failed spawn ends the run.
      if (child.pid !== undefined) return;
      if (error.code === 'ENOENT') {
        say(`command not found: ${o.command}`);
        finish(ExitCode.notFound);
      } else {
        say(`cannot run ${o.command}: ${error.message}`);
        finish(ExitCode.cannotExecute);
      }
    });
    child.once('exit', (code, signal) => finish(signal ? exitCodeFor(signal) : (code ?? ExitCode.internal)));
  });
}
