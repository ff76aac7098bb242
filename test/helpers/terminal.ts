/**
 * The real CLI under a real pseudo-terminal, so that it draws as it would for a person.
 * Node has no pty of its own: util-linux `script` opens one, runs the CLI on it, and
 * copies what the CLI writes to `output`; what `type()` sends goes through the
 * terminal's line discipline, so '\x03' is a Ctrl-C that signals the CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { shellWord } from '../../src/cli/format.js';
import { bundled } from './programs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const home = '\x1b[H';
const eraseLine = '\x1b[K';
const eraseBelow = '\x1b[J';

export type Size = { readonly columns: number; readonly rows: number };

export class Terminal {
  readonly #script: ChildProcess;
  readonly #watchers = new Set<() => void>();
  #ended = false;
  /** Everything the CLI wrote to the terminal, escape sequences included (newlines as \r\n). */
  output = '';
  /** The exit code of the CLI (`script -e` passes it on), once it has ended and its output is read. */
  readonly done: Promise<number | null>;

  constructor(entry: string, args: readonly string[], size: Size) {
    const command = [process.execPath, entry, ...args].map(shellWord).join(' ');
    // -q: no banner; -f: flush as it comes; -e: exit as the CLI does; -c: what to run.
    this.#script = spawn(
      'script',
      ['-qfec', `stty cols ${size.columns} rows ${size.rows} && exec ${command}`, '/dev/null'],
      { cwd: root, env: { ...process.env, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    running.add(this.#script);
    // Keys typed after the CLI ended have nowhere to go: not an error of the test's.
    this.#script.stdin?.on('error', () => {});
    this.#script.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      this.#notify();
    });
    this.done = new Promise((resolve, reject) => {
      this.#script.once('error', (error: NodeJS.ErrnoException) => {
        this.#ended = true;
        this.#notify();
        reject(error.code === 'ENOENT' ? new Error('the pseudo-terminal tests need `script` from util-linux') : error);
      });
      this.#script.once('close', (code) => {
        running.delete(this.#script);
        this.#ended = true;
        this.#notify();
        resolve(code);
      });
    });
  }

  /** Keys, as if typed. */
  type(keys: string): void {
    this.#script.stdin?.write(keys);
  }

  /**
   * The screens drawn so far, as text: what was written between a cursor-home and the
   * erase-below that ends a frame (complete frames only), with the erase at the end of
   * each row and the terminal's carriage returns taken out.
   */
  frames(): string[] {
    return this.output
      .split(home)
      .slice(1)
      .filter((frame) => frame.includes(eraseBelow))
      .map((frame) => frame.slice(0, frame.indexOf(eraseBelow)).replaceAll(eraseLine, '').replaceAll('\r', ''));
  }

  /** Resolves with the first frame that matches; rejects if the CLI ends without one. */
  waitForFrame(pattern: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const frame = this.frames().find((f) => pattern.test(f));
        if (frame !== undefined) {
          this.#watchers.delete(check);
          resolve(frame);
        } else if (this.#ended) {
          this.#watchers.delete(check);
          reject(new Error(`the CLI ended without drawing ${pattern}:\n${JSON.stringify(this.output)}`));
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

/** Runs the CLI (built from source, as test/helpers/cli.ts does) on a terminal of `size`. */
export async function onTerminal(args: readonly string[], size: Size): Promise<Terminal> {
  return new Terminal(await bundled(new URL('../../src/cli.ts', import.meta.url)), args, size);
}
