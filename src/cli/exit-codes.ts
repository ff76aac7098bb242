/**
 * The CLI's own exit codes. They follow sysexits.h where one fits, so scripts that
 * already know those codes read them right; `run` otherwise passes its command's code through.
 */
export const ExitCode = {
  ok: 0,
  /** Bad arguments (EX_USAGE). */
  usage: 64,
  /**
   * run, acquire: --weight is more than the limit stored in Redis for the key, so the
   * acquisition could never be granted: refused before it queued, or sent out of the
   * queue when the limit was lowered (EX_DATAERR).
   */
  weightExceedsLimit: 65,
  /** Redis could not be reached, or refused the connection (EX_UNAVAILABLE). */
  unavailable: 69,
  /** Anything unexpected, such as an error reply from Redis (EX_SOFTWARE). */
  internal: 70,
  /** `--timeout` ran out before our turn came (EX_TEMPFAIL: try again later). */
  timeout: 75,
  /**
   * run, acquire without --permits: the key has no limit stored in Redis, so nothing
   * says how many permits it has (EX_CONFIG: found unconfigured).
   */
  noLimit: 78,
  /** The lease was lost while the command ran; the command was stopped. Outside sysexits on purpose. */
  leaseLost: 79,
  /** As in POSIX shells. */
  cannotExecute: 126,
  notFound: 127,
} as const;

/** Shell convention for a process ended by a signal. */
export function signalExitCode(signal: NodeJS.Signals, numbers: Record<string, number>): number {
  return 128 + (numbers[signal] ?? 0);
}

/** A failure a command explains in one line on stderr and ends with its own exit code, not 70. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}
