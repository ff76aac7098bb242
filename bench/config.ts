/** Sizes and durations of every workload, for the full run and for `--quick`. */
export type Config = {
  quick: boolean;
  /** Lease/lock TTL for every library (the default of this library and of redis-semaphore). */
  ttl: number;
  solo: { warmup: number; seconds: number };
  mutex: { processes: number; holdMs: number; seconds: number; warmupSeconds: number };
  semaphore: { permits: number; processes: number; holdMs: number; seconds: number; warmupSeconds: number };
  deep: { processes: number; depths: readonly [number, number]; seconds: number };
  idle: { processes: number; waiters: number; seconds: number };
  many: { concurrency: number; seconds: number };
};

export function config(quick: boolean): Config {
  return {
    quick,
    ttl: 10_000,
    solo: { warmup: quick ? 50 : 300, seconds: quick ? 0.5 : 3 },
    mutex: { processes: 8, holdMs: 1, seconds: quick ? 1.5 : 10, warmupSeconds: quick ? 0.3 : 1 },
    semaphore: { permits: 3, processes: 12, holdMs: 2, seconds: quick ? 1.5 : 10, warmupSeconds: quick ? 0.3 : 1 },
    deep: { processes: 4, depths: [10, quick ? 2_000 : 10_000], seconds: quick ? 1 : 5 },
    idle: { processes: 4, waiters: quick ? 200 : 1_000, seconds: quick ? 2 : 10 },
    many: { concurrency: 100, seconds: quick ? 0.5 : 3 },
  };
}
