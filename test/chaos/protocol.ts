/**
 * Messages of the chaos suite. Clients talk to the orchestrator over IPC, which
 * stamps them with the client id and relays them to the resource process; the
 * resource answers fenced requests through the same relay. The resizer's changes to
 * the key's settings reach the resource through the orchestrator too.
 */

/** What a client process sends to the orchestrator. */
export type ClientMessage =
  | { t: 'ready' }
  | { t: 'acquiring'; seq: number; timeout: number }
  | { t: 'acquired'; seq: number }
  | { t: 'acquireFailed'; seq: number; name: string; message: string }
  /** Entering the critical section with a fenced write, holding `weight` permits; answered by `reply`. */
  | { t: 'enter'; seq: number; lease: string; token: string; weight: number }
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
  /** Redis restarts from `at` (ms) without persistence: the key's settings go with it. */
  | { t: 'redisRestarting'; at: number }
  /** Redis restarted empty by `at` (ms): every lease granted before (token < at µs) is lost. */
  | { t: 'redisRestarted'; at: number }
  /**
   * The resizer is about to change the key's settings: every grant after the change
   * has a fencing token above `after` (µs). Sent, and relayed, before the change is.
   */
  | { t: 'configuring'; id: number; change: SettingsChange; after: number }
  /** The change `id` is done: every grant before it has a fencing token at or below `upTo` (µs). */
  | { t: 'configured'; id: number; upTo: number }
  | { t: 'summary' };

export type ToResource = Relayed | Control;

/** A change of the key's settings, as `setPermits()`, `pause()` and `resume()` make it. */
export type SettingsChange = { t: 'limit'; limit: number | null } | { t: 'pause' } | { t: 'resume' };

/** What the orchestrator sends the resizer. */
export type ToResizer =
  /** The resource has noted change `id`: make it. */
  | { t: 'noted'; id: number }
  /** Finish the change under way, say `holding`, and change nothing until `carryOn`. */
  | { t: 'hold' }
  /** Go on; `forgotten`: Redis restarted empty meanwhile, so store the settings again first. */
  | { t: 'carryOn'; forgotten: boolean }
  /** Finish, leave the key as the callers' permits decide, unpaused, and exit. */
  | { t: 'stop' };

/** What the resizer sends the orchestrator. */
export type ResizerMessage =
  | { t: 'ready' }
  | { t: 'holding' }
  | Extract<Control, { t: 'configuring' | 'configured' }>
  /** `status()` right after a change did not show the settings as made. */
  | { t: 'mismatch'; message: string }
  /** A change that rejected; its window stays open, so the resource stays lenient. */
  | { t: 'failed'; message: string };

export type ResourceSummary = {
  entries: number;
  /** Entries that made the weight inside more than the limit in force when it was granted. */
  violations: number;
  /** Entries granted while the key was paused, whatever the moment of the pause. */
  grantedWhilePaused: number;
  /** The most weight inside at once, among leases not reported lost. */
  maxInside: number;
  /** Changes of the key's settings the resizer made (each noted before it was made). */
  settingsChanges: number;
  /** Entries judged against a limit below the callers' permits, or while a pause was in force. */
  judgedStricter: number;
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
