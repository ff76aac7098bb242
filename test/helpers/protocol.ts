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
    }
  | { op: 'release'; id: string }
  | { op: 'loop'; key: string; permits: number; ttl: number; count: number; holdMs: number }
  /** Ends the client (quit()); `release: false` leaves the leases held, to see them lost. */
  | { op: 'quit'; release?: boolean };

export type Report =
  | { ev: 'ready' }
  | { ev: 'queued'; id: string; position: number }
  | { ev: 'granted'; id: string; fence: string }
  | { ev: 'released'; id: string }
  | { ev: 'lost'; id: string; name: string }
  | { ev: 'error'; id: string; name: string; message: string }
  | { ev: 'loopDone'; count: number; violations: number; fencedRejects: number }
  | { ev: 'unhandled'; message: string };
