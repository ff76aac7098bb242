/**
 * The fault injector: at seeded random moments it does one seeded random fault to
 * the clients or to Redis. Faults on Redis go through an admin connection of our own.
 */
import type { Redis } from 'ioredis';
import type { RedisServer } from '../helpers/redis-server.js';
import type { Pool } from './pool.js';
import type { Rng } from './prng.js';
import type { ToResource } from './protocol.js';
import type { ResizerProcess } from './resizer-process.js';

export const faultKinds = [
  'sigkill',
  'sigstop',
  'clientKillNormal',
  'clientKillPubsub',
  'scriptFlush',
  'debugSleep',
  'restart',
] as const;
/** On unless --no-long-stalls: Redis stalls longer than the ttl, so leases expire on the server clock mid-stall. */
export const longStall = 'debugSleepLong';
export type FaultKind = (typeof faultKinds)[number] | typeof longStall;

export type FaultContext = {
  pool: Pool;
  server: RedisServer;
  admin: Redis;
  rng: Rng;
  ttl: number;
  /** Redis keeps an AOF (appendfsync always): a restart must lose nothing. */
  persistent: boolean;
  toResource: (message: ToResource) => void;
  log: (line: string) => void;
  /** Log each fault as it happens, with the time, to line it up with a violation. */
  verbose: boolean;
  /** Add `debugSleepLong` to the faults drawn. */
  longStalls: boolean;
  /** The run's resizer, if it has one: it changes nothing while Redis restarts. */
  resizer: ResizerProcess | undefined;
};

export class Injector {
  readonly counts: Map<FaultKind, number>;
  readonly #kinds: readonly FaultKind[];
  readonly #c: FaultContext;
  #running = true;
  #loop: Promise<void> | undefined;
  readonly #paused = new Set<Promise<void>>();

  constructor(context: FaultContext) {
    this.#c = context;
    this.#kinds = context.longStalls ? [...faultKinds, longStall] : faultKinds;
    this.counts = new Map(this.#kinds.map((k) => [k, 0]));
  }

  /** Injects faults every `minGap`..`maxGap` ms until stopped. */
  start(minGap: number, maxGap: number): void {
    this.#loop = (async () => {
      while (this.#running) {
        await new Promise((r) => setTimeout(r, this.#c.rng.int(minGap, maxGap)));
        if (!this.#running) break;
        const kind = this.#c.rng.pick(this.#kinds);
        try {
          const at = Date.now();
          const done = await this.#inject(kind);
          if (done) this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
          if (done && this.#c.verbose)
            this.#c.log(`  ${at} fault ${kind} ${done === true ? '' : done}(${Date.now() - at} ms)`);
        } catch (error) {
          this.#c.log(`fault ${kind} failed to inject: ${String(error)}`);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all(this.#paused);
  }

  /** False when there was nobody to do it to; a string names the client it hit. */
  async #inject(kind: FaultKind): Promise<boolean | string> {
    const { pool, admin, rng } = this.#c;
    const targets = [...pool.members.values()].filter((m) => m.stoppedAt === undefined && !m.done);
    switch (kind) {
      case 'sigkill': {
        if (targets.length === 0) return false;
        const member = rng.pick(targets);
        await pool.kill(member);
        // The replacement starts in the background so faults keep their pace.
        void pool.start().catch((error: unknown) => this.#c.log(`replacement failed: ${String(error)}`));
        return true;
      }
      case 'sigstop': {
        if (targets.length === 0) return false;
        const member = rng.pick(targets);
        pool.pause(member);
        // Longer than the ttl, so its lease expires while it cannot notice.
        const resumed = new Promise<void>((r) => setTimeout(r, (this.#c.ttl * rng.int(15, 25)) / 10)).then(() =>
          pool.resume(member),
        );
        this.#paused.add(resumed);
        void resumed.then(() => this.#paused.delete(resumed));
        return `c${member.id} `;
      }
      case 'clientKillNormal':
        await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
        return true;
      case 'clientKillPubsub':
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        return true;
      case 'scriptFlush':
        await admin.call('SCRIPT', 'FLUSH');
        return true;
      case 'debugSleep':
        await admin.call('DEBUG', 'SLEEP', '0.3');
        return true;
      case 'debugSleepLong':
        await admin.call('DEBUG', 'SLEEP', String((this.#c.ttl * 1.5) / 1000));
        return true;
      case 'restart': {
        // Without persistence the key's settings die with the old server too. The
        // resource hears of that before any grant on the new one, and of no change of
        // the resizer's during it, so that it knows which settings came first.
        const { resizer, persistent, toResource } = this.#c;
        await resizer?.hold();
        try {
          if (!persistent) toResource({ t: 'redisRestarting', at: Date.now() });
          await this.#c.server.restart();
          // Without persistence every lease granted until now died with the old server;
          // with an AOF they all survive, so the resource keeps counting them.
          if (!persistent) toResource({ t: 'redisRestarted', at: Date.now() });
        } finally {
          resizer?.carryOn(!persistent);
        }
        return true;
      }
    }
  }
}
