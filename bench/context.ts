/** What every workload gets from the orchestrator. */
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Pool } from './pool.js';
import type { LibId, LockSpec } from './protocol.js';

export type Ctx = {
  readonly cfg: Config;
  readonly url: string;
  /** The orchestrator's own connection, for INFO, MEMORY and FLUSHALL. */
  readonly admin: Redis;
  readonly pool: Pool;
};

let runs = 0;

/** A key used by one run only, so no run sees another's leftovers. */
export function spec(ctx: Ctx, workload: string, lib: LibId, permits = 1): LockSpec {
  return { lib, key: `bench-${workload}-${lib}-${process.pid}-${++runs}`, permits, ttl: ctx.cfg.ttl };
}
