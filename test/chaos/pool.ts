/**
 * The contender processes of one run: forks them, relays their reports to the resource,
 * counts acquisitions, and watches every acquire so one that outlives its timeout
 * (plus a margin, minus time spent SIGSTOPped) is counted as hung.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { bundled } from '../helpers/programs.js';
import type { ClientMessage, ToClient, ToResource } from './protocol.js';

const clientPath = new URL('./client.ts', import.meta.url);

/** Every client still running, so an orchestrator that dies takes (even stopped) clients along. */
const everyone = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyone) child.kill('SIGKILL');
});

export type PoolOptions = {
  redisUrl: string;
  key: string;
  permits: number;
  /** Permits the clients' semaphore has: `permits`, or one more when planting a bug. */
  clientPermits: number;
  /** The share of acquisitions that take 2 permits instead of 1. */
  heavy: number;
  ttl: number;
  timeout: number;
  /** Extra time an acquire may take beyond its timeout before it counts as hung. */
  margin: number;
  seed: number;
  verbose: boolean;
  toResource: (message: ToResource) => void;
  log: (line: string) => void;
};

type Pending = { start: number; timeout: number; pausedMs: number; hung: boolean };

export type Member = {
  id: number;
  child: ChildProcess;
  stoppedAt: number | undefined;
  killedByUs: boolean;
  done: boolean;
  pending: Map<number, Pending>;
};

export type PoolStats = {
  acquisitions: number;
  acquireTimeouts: number;
  acquireErrors: Map<string, number>;
  /** The first message of each kind of acquire error, to say what went wrong. */
  acquireErrorExamples: Map<string, string>;
  hungAcquires: number;
  unhandled: string[];
  crashed: number;
  lostReported: number;
  /** Leases handed over by id (`handovers`), and takeovers that failed, by error name. */
  handovers: number;
  handoverErrors: Map<string, number>;
};

export class Pool {
  readonly members = new Map<number, Member>();
  readonly stats: PoolStats = {
    acquisitions: 0,
    acquireTimeouts: 0,
    acquireErrors: new Map(),
    acquireErrorExamples: new Map(),
    hungAcquires: 0,
    unhandled: [],
    crashed: 0,
    lostReported: 0,
    handovers: 0,
    handoverErrors: new Map(),
  };
  readonly #o: PoolOptions;
  #nextId = 0;
  #stopping = false;
  readonly #watch: NodeJS.Timeout;

  constructor(options: PoolOptions) {
    this.#o = options;
    this.#watch = setInterval(() => this.#checkHung(), 100);
  }

  /** Forks a client and resolves once it is ready to loop. */
  async start(): Promise<Member> {
    const id = ++this.#nextId;
    // Bundled once, then started by node alone: through tsx, each start compiled the sources again.
    const child = fork(await bundled(clientPath), [], {
      execArgv: [],
      env: {
        ...process.env,
        REDIS_URL: this.#o.redisUrl,
        CHAOS_KEY: this.#o.key,
        CHAOS_PERMITS: String(this.#o.clientPermits),
        CHAOS_HEAVY: String(this.#o.heavy),
        CHAOS_TTL: String(this.#o.ttl),
        CHAOS_TIMEOUT: String(this.#o.timeout),
        CHAOS_SEED: String(this.#o.seed * 1000 + id),
        CHAOS_ID: String(id),
        CHAOS_VERBOSE: this.#o.verbose ? '1' : '',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const member: Member = { id, child, stoppedAt: undefined, killedByUs: false, done: false, pending: new Map() };
    this.members.set(id, member);
    everyone.add(child);
    const ready = new Promise<void>((resolve) => {
      child.on('message', (m: ClientMessage) => {
        if (m.t === 'ready') resolve();
        this.#onMessage(member, m);
      });
    });
    child.once('exit', (code, signal) => {
      everyone.delete(child);
      this.members.delete(id);
      if (!member.killedByUs && !(code === 0 && member.done)) {
        this.stats.crashed++;
        this.#o.log(`client ${id} exited unexpectedly (code ${code}, signal ${signal})`);
      }
    });
    await ready;
    if (this.#stopping) this.#send(member, { t: 'stop' });
    return member;
  }

  #send(member: Member, message: ToClient): void {
    if (member.child.connected) member.child.send(message);
  }

  #onMessage(member: Member, m: ClientMessage): void {
    switch (m.t) {
      case 'ready':
        break;
      case 'acquiring':
        member.pending.set(m.seq, { start: Date.now(), timeout: m.timeout, pausedMs: 0, hung: false });
        break;
      case 'acquired':
        member.pending.delete(m.seq);
        this.stats.acquisitions++;
        break;
      case 'acquireFailed':
        member.pending.delete(m.seq);
        if (m.name === 'AcquireTimeoutError') this.stats.acquireTimeouts++;
        else {
          this.stats.acquireErrors.set(m.name, (this.stats.acquireErrors.get(m.name) ?? 0) + 1);
          if (!this.stats.acquireErrorExamples.has(m.name)) this.stats.acquireErrorExamples.set(m.name, m.message);
        }
        break;
      case 'unhandled':
        this.stats.unhandled.push(`client ${member.id}: ${m.message}`);
        break;
      case 'done':
        member.done = true;
        break;
      case 'handover':
        if (m.ok) this.stats.handovers++;
        else this.stats.handoverErrors.set(m.error ?? '?', (this.stats.handoverErrors.get(m.error ?? '?') ?? 0) + 1);
        break;
      case 'lost':
        this.stats.lostReported++;
        this.#o.toResource({ ...m, client: member.id });
        break;
      default:
        this.#o.toResource({ ...m, client: member.id });
    }
  }

  /** Relays the resource's answer to the client that asked. */
  reply(client: number, seq: number, ok: boolean): void {
    const member = this.members.get(client);
    if (member) this.#send(member, { t: 'reply', seq, ok });
  }

  async kill(member: Member): Promise<void> {
    member.killedByUs = true;
    const exited = once(member.child, 'exit');
    member.child.kill('SIGKILL');
    await exited;
    this.#o.toResource({ t: 'dead', client: member.id });
  }

  pause(member: Member): void {
    member.stoppedAt = Date.now();
    member.child.kill('SIGSTOP');
    this.#o.toResource({ t: 'stalled', client: member.id });
  }

  resume(member: Member): void {
    if (member.stoppedAt === undefined) return;
    const now = Date.now();
    for (const p of member.pending.values()) p.pausedMs += now - Math.max(member.stoppedAt, p.start);
    member.stoppedAt = undefined;
    member.child.kill('SIGCONT');
    this.#o.toResource({ t: 'resumed', client: member.id, at: now });
  }

  #checkHung(): void {
    const now = Date.now();
    for (const member of this.members.values()) {
      if (member.stoppedAt !== undefined) continue;
      for (const p of member.pending.values()) {
        if (!p.hung && now - p.start - p.pausedMs > p.timeout + this.#o.margin) {
          p.hung = true;
          this.stats.hungAcquires++;
          this.#o.log(`client ${member.id}: an acquire has not settled ${now - p.start} ms after it began`);
        }
      }
    }
  }

  /** Tells every client to finish its current round; waits (bounded) for all to exit. */
  async stop(within: number): Promise<number> {
    this.#stopping = true;
    for (const member of this.members.values()) {
      this.resume(member);
      this.#send(member, { t: 'stop' });
    }
    const deadline = Date.now() + within;
    while (this.members.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const stuck = this.members.size;
    for (const member of [...this.members.values()]) {
      this.#o.log(`client ${member.id} did not finish within ${within} ms (done: ${member.done})`);
      await this.kill(member);
    }
    clearInterval(this.#watch);
    return stuck;
  }
}
