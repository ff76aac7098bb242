/**
 * The orchestrator's side of the resizer (resizer.ts): forks it, relays its changes to
 * the resource and answers each notice once relayed, so that no change is made before
 * the resource knows of it, and holds it while the fault injector restarts Redis.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { bundled } from '../helpers/programs.js';
import type { ResizerMessage, ToResizer, ToResource } from './protocol.js';

export type ResizerOptions = {
  redisUrl: string;
  key: string;
  /** The permits its own Semaphore object passes (the clients'). */
  permits: number;
  seed: number;
  /** Make the changes on another key than the clients' (a planted bug). */
  plant: boolean;
  toResource: (message: ToResource) => void;
};

export type ResizerStats = {
  /** Changes noted and made (or under way when it stopped). */
  changes: number;
  /** Changes that `status()` did not show right after them. */
  mismatches: string[];
  /** Changes that rejected, and the process's own failures. */
  failures: string[];
  /** It left the key unlimited and unpaused, and exited of itself (code 0: its script ran to the end). */
  finished: boolean;
};

export class ResizerProcess {
  readonly stats: ResizerStats = { changes: 0, mismatches: [], failures: [], finished: false };
  readonly #child: ChildProcess;
  readonly #toResource: (message: ToResource) => void;
  #holding: (() => void) | undefined;
  #exited = false;

  private constructor(child: ChildProcess, toResource: (message: ToResource) => void) {
    this.#child = child;
    this.#toResource = toResource;
  }

  /** Forks the resizer and resolves once it is about to make its first change. */
  static async start(o: ResizerOptions): Promise<ResizerProcess> {
    const child = fork(await bundled(new URL('./resizer.ts', import.meta.url)), [], {
      execArgv: [],
      env: {
        ...process.env,
        REDIS_URL: o.redisUrl,
        CHAOS_KEY: o.key,
        CHAOS_PERMITS: String(o.permits),
        CHAOS_SEED: String(o.seed),
        CHAOS_PLANT: o.plant ? '1' : '',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // An orchestrator that dies takes the resizer along.
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const resizer = new ResizerProcess(child, o.toResource);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: ResizerMessage) => {
        if (m.t === 'ready') resolve();
        resizer.#onMessage(m);
      });
      child.once('exit', (code, signal) => {
        process.off('exit', kill);
        resizer.#exited = true;
        // A restart waiting for it must not wait for good.
        resizer.#holding?.();
        if (code === 0) resizer.stats.finished = true;
        else resizer.stats.failures.push(`exited unexpectedly (code ${code}, signal ${signal})`);
        reject(new Error(`the resizer exited before it was ready (code ${code})`));
      });
    });
    await ready;
    return resizer;
  }

  #send(message: ToResizer): void {
    if (this.#child.connected) this.#child.send(message);
  }

  #onMessage(m: ResizerMessage): void {
    switch (m.t) {
      case 'ready':
        break;
      case 'configuring':
        this.stats.changes++;
        this.#toResource(m);
        // Relayed first: whatever the change lets Redis grant is relayed after it.
        this.#send({ t: 'noted', id: m.id });
        break;
      case 'configured':
        this.#toResource(m);
        break;
      case 'holding':
        this.#holding?.();
        this.#holding = undefined;
        break;
      case 'mismatch':
        this.stats.mismatches.push(m.message);
        break;
      case 'failed':
        this.stats.failures.push(m.message);
        break;
    }
  }

  /** Resolves once the resizer has finished the change under way; it makes none until carryOn(). */
  hold(): Promise<void> {
    if (this.#exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.#holding = resolve;
      this.#send({ t: 'hold' });
    });
  }

  /** Ends a hold; `forgotten`: Redis restarted empty, so the settings must be stored again. */
  carryOn(forgotten: boolean): void {
    this.#send({ t: 'carryOn', forgotten });
  }

  /** Tells it to finish, and waits (bounded) until it has exited; killed when late. */
  async stop(within: number): Promise<void> {
    if (this.#exited) return;
    const exited = once(this.#child, 'exit');
    this.#send({ t: 'stop' });
    const late = setTimeout(() => {
      this.stats.failures.push(`did not finish within ${within} ms`);
      this.#child.kill('SIGKILL');
    }, within);
    await exited;
    clearTimeout(late);
  }
}
