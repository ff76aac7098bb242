/** Messages between the orchestrator (run.ts) and its client processes (client.ts). */

/** `fair-node-redis`: this library on a node-redis (`redis` 5) client instead of ioredis. */
export type LibId = 'fair' | 'fair-node-redis' | 'redis-semaphore' | 'redlock';

/** What every workload needs to open a lock of one library. */
export type LockSpec = { lib: LibId; key: string; permits: number; ttl: number };

/** One acquisition as a client saw it; times from clock.now(), NaN when it never happened. */
export type Sample = {
  /** Index of the client process, for per-process fairness. */
  proc: number;
  /** acquire() was called. */
  req: number;
  /** The first command of this acquire was written to the socket. */
  sent: number;
  /** This library told us the request is queued (only this library has a queue). */
  queued: number;
  /** acquire() resolved. */
  grant: number;
  /** release() was called. */
  rel: number;
  /** Fencing token (this library only): the order in which Redis granted. */
  fence: number;
};

export type Command =
  /** W1: sequential pairs interleaved with PINGs on the same connection. */
  | { op: 'solo'; spec: LockSpec; warmup: number; until: number; cpuPairs: number; cpuChunks: number }
  /** W2/W3: acquire, busy-hold, release, repeat until `until`; then report. */
  | { op: 'contend'; spec: LockSpec; holdMs: number; startAt: number; until: number }
  /** W4/W5: a holder in this process takes the lock and keeps it until `unhold`. */
  | { op: 'hold'; spec: LockSpec }
  | { op: 'unhold' }
  /** W4/W5: `count` waiters that acquire and release at once, in a loop, until the process is killed. */
  | { op: 'wait'; spec: LockSpec; count: number }
  /** W4: the samples the waiters have produced so far (complete or not). */
  | { op: 'collect' }
  /** W6: `concurrency` workers, each on a key of its own, doing pairs until `until`. */
  | { op: 'many'; spec: LockSpec; concurrency: number; startAt: number; until: number }
  /**
   * W7: requests arriving at random (Poisson) from `startAt`, at `perSec` until each
   * phase's `until`, each one acquire → sleep `holdMs` → release; replies once all are released.
   */
  | { op: 'open'; spec: LockSpec; holdMs: number; startAt: number; phases: readonly OpenPhase[] }
  /** PUBLISH floor: this process subscribes to `channel` and notes when each message arrives. */
  | { op: 'listen'; channel: string }
  /** PUBLISH floor: `count` messages carrying their send time, at random gaps in `gapMs`. */
  | { op: 'publish'; channel: string; count: number; gapMs: readonly [number, number] }
  /** PUBLISH floor: waits for `count` messages, then reports their latencies and unsubscribes. */
  | { op: 'heard'; count: number }
  /** Commands this process has sent to Redis so far (all connections). */
  | { op: 'sent' };

/** An arrival rate that holds until `until` (clock.now()). */
export type OpenPhase = { perSec: number; until: number };

/** `sentByName`: every command the client sent in the whole call (warm-up included), by name. */
export type SoloResult = {
  pairs: number[];
  pings: number[];
  sent: number;
  sentByName: Record<string, number>;
  /** Client CPU (user + system) µs per pair, one figure per chunk of back-to-back pairs. */
  cpuUsecPerPair: number[];
};
export type ContendResult = { samples: Sample[]; sent: number };
export type ManyResult = { pairs: number; sent: number; pairMs: number[]; elapsedMs: number };
export type WaitResult = { samples: Sample[] };
export type OpenResult = { samples: Sample[] };
/** Publish call → arrival at the subscriber, ms, one per message. */
export type HeardResult = { latencies: number[] };

export type Request = Command & { seq: number; proc: number };

export type Reply =
  | { ev: 'ready' }
  | { ev: 'done'; seq: number; result: unknown }
  | { ev: 'failed'; seq: number; error: string };
