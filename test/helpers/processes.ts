/** Starts contender processes (test/helpers/child.ts) and waits for what they report. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { bundled } from './programs.js';
import type { Command, Report } from './protocol.js';

const childPath = new URL('./child.ts', import.meta.url);

export class Contender {
  readonly process: ChildProcess;
  readonly reports: Report[] = [];
  readonly #waiting = new Set<{ match: (r: Report) => boolean; resolve: (r: Report) => void }>();

  private constructor(child: ChildProcess) {
    this.process = child;
    child.on('message', (report: Report) => {
      this.reports.push(report);
      for (const w of this.#waiting) {
        if (w.match(report)) {
          this.#waiting.delete(w);
          w.resolve(report);
        }
      }
    });
  }

  static async start(redisUrl: string, env: Record<string, string> = {}): Promise<Contender> {
    const child = fork(await bundled(childPath), [], {
      execArgv: [],
      env: { ...process.env, ...env, REDIS_URL: redisUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const contender = new Contender(child);
    running.add(contender);
    child.once('exit', () => running.delete(contender));
    // A child that dies on start (a bad RFS_CLIENT, an import error) fails the test at once.
    const died = once(child, 'exit').then(([code, signal]) => {
      throw new Error(`the contender process exited (${signal ?? code}) before it was ready`);
    });
    died.catch(() => {});
    await Promise.race([contender.next((r) => r.ev === 'ready'), died]);
    return contender;
  }

  send(command: Command): void {
    this.process.send(command);
  }

  /** The first report (already received or still to come) that matches. */
  next<E extends Report['ev']>(match: (r: Report) => boolean, _ev?: E): Promise<Extract<Report, { ev: E }>> {
    const seen = this.reports.find(match);
    if (seen) return Promise.resolve(seen as Extract<Report, { ev: E }>);
    return new Promise((resolve) => {
      this.#waiting.add({ match, resolve: resolve as (r: Report) => void });
    });
  }

  event<E extends Report['ev']>(ev: E, id?: string): Promise<Extract<Report, { ev: E }>> {
    return this.next((r) => r.ev === ev && (id === undefined || ('id' in r && r.id === id)), ev);
  }

  kill(): Promise<unknown> {
    const exited = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    return exited;
  }

  /** Resolves with the exit code once the process ends by itself. */
  exited(): Promise<number | null> {
    if (this.process.exitCode !== null) return Promise.resolve(this.process.exitCode);
    return once(this.process, 'exit').then(([code]) => code as number | null);
  }
}

const running = new Set<Contender>();
process.once('exit', () => {
  for (const c of running) c.process.kill('SIGKILL');
});
