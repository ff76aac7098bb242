/** Sizes and durations of every workload, for the full run and for `--quick`. */
export type Config = {
  quick: boolean;
  /** Lease/lock TTL for every library (the default of this library and of redis-semaphore). */
  ttl: number;
  /**
   * W1, W2, W3 and W6 run in rounds that alternate the libraries (in rotating order),
   * so that a change in the shared machine's load falls on all of them alike.
   */
  /** `cpuPairs` back-to-back pairs per round, in `cpuChunks` parts, measure the client's CPU per pair. */
  solo: { warmup: number; rounds: number; seconds: number; cpuPairs: number; cpuChunks: number };
  mutex: { processes: number; holdMs: number; rounds: number; seconds: number; warmupSeconds: number };
  semaphore: {
    permits: number;
    processes: number;
    holdMs: number;
    rounds: number;
    seconds: number;
    warmupSeconds: number;
  };
  deep: { processes: number; depths: readonly [number, number]; seconds: number };
  idle: { processes: number; waiters: number; seconds: number; settleSeconds: number };
  many: { concurrency: number; rounds: number; seconds: number };
  /**
   * The bare PUBLISH floor, measured in a short round at the start of every W2 and W3
   * round (so it sees the same machine): `messages` per round with a random gap in
   * `idleGapMs` (the floor: the subscriber sleeps between messages as a waiter does),
   * then as many in `briskGapMs` (for comparison: on a VM a short sleep wakes faster).
   */
  publish: { messages: number; idleGapMs: readonly [number, number]; briskGapMs: readonly [number, number] };
  /**
   * W7, open loop: Poisson arrivals from `processes` processes at each `loads` share of the
   * capacity (permits ÷ hold). A round runs every level in turn for one library: per level a
   * warm-up, then `seconds` of measured arrivals; arrivals go on for `cooldownSeconds` after
   * the last level, so the last measured requests still compete with later ones.
   */
  open: {
    permits: number;
    holdMs: number;
    processes: number;
    loads: readonly number[];
    rounds: number;
    seconds: number;
    warmupSeconds: number;
    cooldownSeconds: number;
  };
  /**
   * W8, the holder's margin: `runs` holders per library cut off at random moments,
   * `parallel` at a time, with a ttl taken in turn from `ttls`; `seed` decides the
   * schedule (RFS_MARGIN_SEED replays one).
   */
  margin: { runs: number; parallel: number; ttls: readonly number[]; seed: number };
};

/** RFS_MARGIN_SEED replays a W8 schedule; without it, a new one each run. */
function marginSeed(given: string | undefined): number {
  if (given === undefined) return Math.floor(Math.random() * 2 ** 32);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`RFS_MARGIN_SEED must be an integer from 0 to 2^32 - 1, not ${JSON.stringify(given)}`);
  }
  return seed;
}

/** `seconds` is per round: W2/W3 measure 2 × 5 s = 10 s per library in the full run. */
export function config(quick: boolean): Config {
  const rounds = quick ? 1 : 2;
  return {
    quick,
    ttl: 10_000,
    solo: {
      warmup: quick ? 50 : 300,
      // Full: 5 rounds, so that a passing burst of load on the shared machine moves the median little.
      rounds: quick ? 1 : 5,
      seconds: quick ? 0.5 : 1,
      cpuPairs: quick ? 400 : 3_000,
      cpuChunks: quick ? 2 : 6,
    },
    mutex: { processes: 8, holdMs: 1, rounds, seconds: quick ? 0.5 : 5, warmupSeconds: quick ? 0.2 : 0.5 },
    semaphore: {
      permits: 3,
      processes: 12,
      holdMs: 2,
      rounds,
      seconds: quick ? 0.5 : 5,
      warmupSeconds: quick ? 0.2 : 0.5,
    },
    deep: { processes: quick ? 2 : 4, depths: [10, quick ? 300 : 10_000], seconds: quick ? 0.5 : 5 },
    idle: {
      processes: quick ? 2 : 4,
      waiters: quick ? 100 : 1_000,
      seconds: quick ? 1 : 10,
      settleSeconds: quick ? 0.3 : 1,
    },
    many: { concurrency: 100, rounds: quick ? 1 : 3, seconds: quick ? 0.5 : 1 },
    publish: { messages: quick ? 30 : 250, idleGapMs: [5, 20], briskGapMs: [1, 2] },
    // Full: 3 × 10 s = 30 s per level per library. At 80 % load one 10 s window's p99 varied 2–3× from
    // round to round here, three together by about ±15 %: enough to tell a 0.3× ratio from 0.5×.
    open: {
      permits: 4,
      holdMs: 20,
      processes: 8,
      loads: [0.5, 0.8, 0.95],
      rounds: quick ? 1 : 3,
      seconds: quick ? 0.6 : 10,
      warmupSeconds: quick ? 0.2 : 1.5,
      cooldownSeconds: quick ? 0.2 : 1,
    },
    // 1 s and 2 s: redlock extends 500 ms before expiry, so a shorter ttl would have it extend non-stop.
    margin: {
      runs: quick ? 4 : 40,
      parallel: 4,
      ttls: [1_000, 2_000],
      seed: marginSeed(process.env.RFS_MARGIN_SEED),
    },
  };
}
