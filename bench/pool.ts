/** Client processes (client.ts), each driven by request/reply over IPC. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { bundled } from '../test/helpers/programs.js';
import type { Command, Reply } from './protocol.js';

const clientPath = new URL('./client.ts', import.meta.url);

export class Client {
  readonly proc: number;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #exited: Error | undefined;

  private constructor(proc: number, child: ChildProcess) {
    this.proc = proc;
    this.#child = child;
    child.on('message', (m: Reply) => {
      if (m.ev === 'ready') return;
      const p = this.#pending.get(m.seq);
      this.#pending.delete(m.seq);
      if (m.ev === 'done') p?.resolve(m.result);
      else p?.reject(new Error(`client ${proc}: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      live.delete(this);
      this.#exited = new Error(`client ${proc} exited (${signal ?? code})`);
      for (const p of this.#pending.values()) p.reject(this.#exited);
      this.#pending.clear();
    });
  }

  static async start(proc: number, redisUrl: string): Promise<Client> {
    // Bundled once (test/helpers/programs.ts): through tsx every start compiled the sources again.
    const child = fork(await bundled(clientPath), [], {
      execArgv: [],
      env: { ...process.env, REDIS_URL: redisUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const client = new Client(proc, child);
    live.add(client);
    const [ready] = (await Promise.race([once(child, 'message'), once(child, 'exit')])) as [Reply | number];
    if (typeof ready !== 'object') throw new Error(`client ${proc} failed to start`);
    return client;
  }

  /** Sends a command; rejects if the client reports a failure, dies, or takes longer than `timeoutMs`. */
  call<T>(command: Command, timeoutMs: number): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const seq = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(new Error(`client ${this.proc}: ${command.op} timed out after ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.#pending.set(seq, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ ...command, seq, proc: this.proc });
    });
  }

  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGKILL');
    await exited;
  }
}

const live = new Set<Client>();
process.once('exit', () => {
  for (const c of live) c.kill().catch(() => {});
});

/** Starts `n` clients numbered from `first`, in parallel. */
export function startClients(n: number, redisUrl: string, first = 0): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => Client.start(first + i, redisUrl)));
}

/** Kills clients that may be stuck (e.g. after a timed-out run), so that no run leaks into the next. */
export async function killAll(clients: readonly Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.kill()));
}

/**
 * The long-lived clients shared by W1–W3 and W6 (forking per run would cost more
 * than a quick run may take). After a failed run they are all replaced.
 */
export class Pool {
  readonly #url: string;
  readonly #size: number;
  #clients: Client[] = [];

  constructor(url: string, size: number) {
    this.#url = url;
    this.#size = size;
  }

  async start(): Promise<void> {
    this.#clients = await startClients(this.#size, this.#url);
  }

  /** The first `n` clients. */
  take(n: number): Client[] {
    if (n > this.#clients.length) throw new Error(`pool has ${this.#clients.length} clients, ${n} wanted`);
    return this.#clients.slice(0, n);
  }

  async reset(): Promise<void> {
    await killAll(this.#clients);
    await this.start();
  }

  stop(): Promise<void> {
    return killAll(this.#clients);
  }
}
