/** Messages between a test and its contender processes (test/helpers/child.ts). */
export type Command =
  | {
      op: 'acquire';
      id: string;
      key: string;
      permits: number;
      ttl: number;
      weight?: number;
      releaseAtOnce?: boolean;
      /** false: a fixed-term lease (see AcquireOptions.autoRefresh). */
      autoRefresh?: boolean;
    }
  /** Takes over the lease that `leaseId` names, as a lease called `id` from then on. */
  | { op: 'takeOver'; id: string; key: string; permits: number; ttl: number; leaseId: string }
  | { op: 'extend'; id: string; ms: number }
  | { op: 'release'; id: string }
  | { op: 'loop'; key: string; permits: number; ttl: number; count: number; holdMs: number }
  /** Ends the client (quit()); `release: false` leaves the leases held, to see them lost. */
  | { op: 'quit'; release?: boolean };

export type Report =
  | { ev: 'ready' }
  | { ev: 'queued'; id: string; position: number }
  | { ev: 'granted'; id: string; fence: string; leaseId: string }
  | { ev: 'tookOver'; id: string; fence: string; remaining: number }
  | { ev: 'extended'; id: string; remaining: number }
  /** `released`: what release() resolved with (false: Redis no longer had the lease). */
  | { ev: 'released'; id: string; released?: boolean }
  | { ev: 'lost'; id: string; name: string }
  | { ev: 'error'; id: string; name: string; message: string }
  | { ev: 'loopDone'; count: number; violations: number; fencedRejects: number }
  | { ev: 'unhandled'; message: string };
