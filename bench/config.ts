/** Sizes and durations of every workload, for the full run and for `--quick`. */
export type Config = {
  quick: boolean;
  /** Lease/lock TTL for every library (the default of this library and of redis-semaphore). */
  ttl: number;
  /**
   * W1, W2, W3 and W6 run in rounds that alternate the libraries (in rotating order),
   * so that a change in the shared machine's load falls on all of them alike.
   */
  solo: { warmup: number; rounds: number; seconds: number };
  mutex: { processes: number; holdMs: number; rounds: number; seconds: number; warmupSeconds: number };
  semaphore: { permits: number; processes: number; holdMs: number; rounds: number; seconds: number; warmupSeconds: number };
  deep: { processes: number; depths: readonly [number, number]; seconds: number };
  idle: { processes: number; waiters: number; seconds: number; settleSeconds: number };
  many: { concurrency: number; rounds: number; seconds: number };
};

/** `seconds` is per round: W2/W3 measure 2 × 5 s = 10 s per library in the full run. */
export function config(quick: boolean): Config {
  const rounds = quick ? 1 : 2;
  return {
    quick,
    ttl: 10_000,
    solo: { warmup: quick ? 50 : 300, rounds: quick ? 1 : 3, seconds: quick ? 0.5 : 1 },
    mutex: { processes: 8, holdMs: 1, rounds, seconds: quick ? 1 : 5, warmupSeconds: quick ? 0.3 : 0.5 },
    semaphore: { permits: 3, processes: 12, holdMs: 2, rounds, seconds: quick ? 1 : 5, warmupSeconds: quick ? 0.3 : 0.5 },
    deep: { processes: quick ? 2 : 4, depths: [10, quick ? 1_000 : 10_000], seconds: quick ? 0.5 : 5 },
    idle: { processes: quick ? 2 : 4, waiters: quick ? 200 : 1_000, seconds: quick ? 1.5 : 10, settleSeconds: quick ? 0.5 : 1 },
    many: { concurrency: 100, rounds: quick ? 1 : 3, seconds: quick ? 0.5 : 1 },
  };
}
