/** Runs the real CLI, built from source (programs.ts), as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { bundled } from './programs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Built before the test file's tests run, so that a Cli starts at once.
let entry = '';
test.before('build the CLI', async () => {
  entry = await bundled(new URL('../../src/cli.ts', import.meta.url));
});

export type Outcome = {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
};

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class Cli {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  /** Settles once the CLI has exited and its output is all read. */
  readonly done: Promise<Outcome>;
  readonly #watchers = new Set<() => void>();
  #closed = false;

  /** `env` is added to this process's environment; a value of undefined removes the variable. */
  constructor(args: readonly string[], env: Record<string, string | undefined> = {}) {
    const merged = { ...process.env, ...env };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete merged[name];
    this.process = spawn(process.execPath, [entry, ...args], {
      cwd: root,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this.process);
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.done = new Promise((resolve) => {
      this.process.once('close', (code, signal) => {
        running.delete(this.process);
        this.#closed = true;
        this.#notify();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves once the CLI process itself has ended, even while a child it left behind holds its output open. */
  exited(): Promise<unknown> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    return once(this.process, 'exit');
  }

  /** Resolves with the first match in stdout or stderr; rejects if the CLI ends without one. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this[stream]);
        if (match) {
          this.#watchers.delete(check);
          resolve(match);
        } else if (this.#closed) {
          this.#watchers.delete(check);
          reject(new Error(`CLI ended without ${pattern} on ${stream}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      this.#watchers.add(check);
      check();
    });
  }

  #notify(): void {
    for (const check of this.#watchers) check();
  }
}

/** Runs the CLI to its end. */
export function cli(args: readonly string[], env?: Record<string, string | undefined>): Promise<Outcome> {
  return new Cli(args, env).done;
}
