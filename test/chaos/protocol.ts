/**
 * Messages of the chaos suite. Clients talk to the orchestrator over IPC, which
 * stamps them with the client id and relays them to the resource process; the
 * resource answers fenced requests through the same relay.
 */

/** What a client process sends to the orchestrator. */
export type ClientMessage =
  | { t: 'ready' }
  | { t: 'acquiring'; seq: number; timeout: number }
  | { t: 'acquired'; seq: number }
  | { t: 'acquireFailed'; seq: number; name: string; message: string }
  /** Entering the critical section with a fenced write; answered by `reply`. */
  | { t: 'enter'; seq: number; lease: string; token: string }
  /** A fenced write halfway through the hold; a stalled holder's late write lands here. */
  | { t: 'write'; seq: number; lease: string; token: string }
  | { t: 'leave'; lease: string }
  | { t: 'lost'; lease: string }
  /** A fixed-term lease was taken over by id on another connection (`ok`), or that failed (`error`: its name). */
  | { t: 'handover'; ok: boolean; error?: string }
  | { t: 'unhandled'; message: string }
  | { t: 'done' };

/** What the orchestrator sends to a client. */
export type ToClient = { t: 'reply'; seq: number; ok: boolean } | { t: 'stop' };

/** Client messages that go on to the resource, stamped with the sender. */
export type Relayed = { client: number } & Extract<ClientMessage, { t: 'enter' | 'write' | 'leave' | 'lost' }>;

/** What the orchestrator itself tells the resource. */
export type Control =
  | { t: 'run'; permits: number; fenced: boolean; ttl: number }
  /** A SIGKILLed process does nothing more: its holdings end. */
  | { t: 'dead'; client: number }
  /** A SIGSTOPped holder may outlive its lease; from now on only fencing can stop its writes. */
  | { t: 'stalled'; client: number }
  /** SIGCONT at `at` (ms): leases it was granted before then (fencing token < at µs) are stale. */
  | { t: 'resumed'; client: number; at: number }
  /** Redis restarted empty by `at` (ms): every lease granted before (token < at µs) is lost. */
  | { t: 'redisRestarted'; at: number }
  | { t: 'summary' };

export type ToResource = Relayed | Control;

export type ResourceSummary = {
  entries: number;
  violations: number;
  maxInside: number;
  outOfOrderAccepted: number;
  refused: number;
  lostReported: number;
  lostToRestart: number;
  unreportedLosses: number;
  examples: string[];
};

/** What the resource sends back. */
export type FromResource =
  | { t: 'reply'; client: number; seq: number; ok: boolean }
  | { t: 'summary'; summary: ResourceSummary };
