/**
 * The protected resource, in its own process so no client's bugs or stalls can touch
 * its bookkeeping. It counts the weight held inside at once by leases that nobody
 * reported lost: a violation when it is more than the limit in force at the grant
 * (the callers' permits, or as the resizer set it: see settings.ts), or when a grant
 * came while the key was paused. For the Mutex run it is itself fenced: it refuses
 * any token lower than the highest it accepted.
 */
import type { Control, FromResource, Relayed, ResourceSummary, ToResource } from './protocol.js';
import { SettingsTimeline } from './settings.js';

type Holding = {
  client: number;
  lease: string;
  token: bigint;
  weight: number;
  /** Why it no longer counts: reported lost, its process stalled, or Redis restarted. */
  excluded: string | undefined;
  lostToRestartAt: number | undefined;
};

const send = (message: FromResource) => process.send?.(message);

let timeline = new SettingsTimeline(1);
/** The restart of Redis under way, as the timeline names it. */
let restarting: string | undefined;
let fenced = false;
let ttl = 600;
let highest = -1n;
let highestLease = '';
let holdings = new Map<string, Holding>();
/** Leases reported lost before (or without) entering. */
let lostLeases = new Set<string>();
const stalled = new Set<number>();
/** Per client: tokens below this (µs) were granted before its last SIGCONT. */
const staleBelow = new Map<number, bigint>();
let restartCutoff = -1n;
let summary: ResourceSummary = blank();

function blank(): ResourceSummary {
  return {
    entries: 0,
    violations: 0,
    grantedWhilePaused: 0,
    maxInside: 0,
    settingsChanges: 0,
    judgedStricter: 0,
    outOfOrderAccepted: 0,
    refused: 0,
    lostReported: 0,
    lostToRestart: 0,
    unreportedLosses: 0,
    examples: [],
  };
}

function example(text: string): void {
  if (summary.examples.length < 10) summary.examples.push(text);
}

function counted(): Holding[] {
  return [...holdings.values()].filter((h) => h.excluded === undefined);
}

/** The fencing check of the Mutex run: the resource's own defence against stale holders. */
function fence(m: Extract<Relayed, { t: 'enter' | 'write' }>): boolean {
  if (!fenced) return true;
  const token = BigInt(m.token);
  if (token > highest) {
    highest = token;
    highestLease = m.lease;
    return true;
  }
  if (token === highest && m.lease === highestLease) return true;
  if (token === highest) {
    // Two grants with one token: fencing cannot tell them apart, so this is a failure.
    summary.outOfOrderAccepted++;
    example(`duplicate fencing token ${m.token} for leases ${highestLease} and ${m.lease}`);
  }
  summary.refused++;
  return false;
}

function exclusionFor(client: number, token: bigint): string | undefined {
  if (stalled.has(client)) return 'stalled';
  if (token < (staleBelow.get(client) ?? -1n)) return 'stalled';
  if (token < restartCutoff) return 'redis restart';
  return undefined;
}

function enter(m: Extract<Relayed, { t: 'enter' }>): void {
  const ok = fence(m);
  send({ t: 'reply', client: m.client, seq: m.seq, ok });
  if (!ok) return;
  summary.entries++;
  const token = BigInt(m.token);
  const holding: Holding = {
    client: m.client,
    lease: m.lease,
    token,
    weight: m.weight,
    excluded: lostLeases.has(m.lease) ? 'reported lost' : exclusionFor(m.client, token),
    lostToRestartAt: undefined,
  };
  holdings.set(m.lease, holding);
  const inside = counted();
  const weight = inside.reduce((sum, h) => sum + h.weight, 0);
  summary.maxInside = Math.max(summary.maxInside, weight);
  if (holding.excluded === undefined) judge(holding, inside, weight);
}

/**
 * Judges a grant by the settings it may have come under. A pause by its own token.
 * The weight inside by the newest grant among those inside: all of them held at once
 * right after it, and Redis makes a grant only when the weight then held fits the
 * limit in force. Not by the entrant's own token: its grant may be older than one
 * reported before it, and made under another limit (a lower one revokes nothing).
 */
function judge(holding: Holding, inside: Holding[], weight: number): void {
  let newest = holding.token;
  for (const h of inside) if (h.token > newest) newest = h.token;
  const limit = timeline.limit(newest);
  if (limit < timeline.callers || timeline.possible(holding.token).some((s) => s.paused)) summary.judgedStricter++;
  const at = `at ${Date.now()}: c${holding.client}/${holding.lease}/${holding.token}`;
  if (timeline.paused(holding.token)) {
    summary.grantedWhilePaused++;
    example(`${at} granted while paused (${timeline.describe(holding.token)})`);
  }
  if (weight > limit) {
    summary.violations++;
    const who = inside.map((h) => `c${h.client}/${h.lease}/${h.token}${h.weight > 1 ? `*${h.weight}` : ''}`).join(', ');
    example(`${at}: weight ${weight} inside, limit ${limit} at ${newest} (${timeline.describe(newest)}): ${who}`);
  }
}

function control(m: Control): void {
  switch (m.t) {
    case 'run':
      ({ fenced, ttl } = m);
      timeline = new SettingsTimeline(m.permits);
      restarting = undefined;
      highest = -1n;
      highestLease = '';
      holdings = new Map();
      lostLeases = new Set();
      summary = blank();
      break;
    case 'dead':
      for (const [lease, h] of holdings) if (h.client === m.client) holdings.delete(lease);
      stalled.delete(m.client);
      break;
    case 'stalled':
      stalled.add(m.client);
      for (const h of holdings.values()) if (h.client === m.client) h.excluded ??= 'stalled';
      break;
    case 'resumed':
      stalled.delete(m.client);
      staleBelow.set(m.client, BigInt(m.at) * 1000n);
      break;
    case 'redisRestarting':
      // Grants on the new server come later than `at`; those on the old one, before it ends.
      restarting = `restart at ${m.at}`;
      timeline.open(restarting, { t: 'forget' }, m.at * 1000);
      break;
    case 'redisRestarted':
      // Date.now() drops the µs: the old server's last token is below the next whole ms.
      if (restarting) timeline.close(restarting, (m.at + 1) * 1000);
      restarting = undefined;
      restartCutoff = BigInt(m.at) * 1000n;
      for (const h of holdings.values()) {
        if (h.token < restartCutoff && h.excluded === undefined) {
          h.excluded = 'redis restart';
          h.lostToRestartAt = m.at;
          summary.lostToRestart++;
        }
      }
      break;
    case 'configuring':
      summary.settingsChanges++;
      timeline.open(`change ${m.id}`, m.change, m.after);
      break;
    case 'configured':
      timeline.close(`change ${m.id}`, m.upTo);
      break;
    case 'summary':
      checkUnreported(Number.POSITIVE_INFINITY);
      send({ t: 'summary', summary });
      break;
  }
}

/**
 * A lease Redis forgot must be reported lost within about a ttl (its next refresh
 * finds nothing); one still inside, unreported, well after that was never told.
 */
function checkUnreported(now: number): void {
  for (const h of holdings.values()) {
    if (h.lostToRestartAt === undefined || h.excluded !== 'redis restart') continue;
    if (now === Number.POSITIVE_INFINITY || now > h.lostToRestartAt + ttl + 1000) {
      summary.unreportedLosses++;
      example(`lease ${h.lease} (c${h.client}) lost to a Redis restart was never reported lost`);
      h.lostToRestartAt = undefined;
    }
  }
}

setInterval(() => checkUnreported(Date.now()), 200).unref();

process.on('message', (m: ToResource) => {
  switch (m.t) {
    case 'enter':
      enter(m);
      break;
    case 'write':
      send({ t: 'reply', client: m.client, seq: m.seq, ok: fence(m) });
      break;
    case 'leave':
      holdings.delete(m.lease);
      lostLeases.delete(m.lease);
      break;
    case 'lost': {
      summary.lostReported++;
      const h = holdings.get(m.lease);
      if (h) h.excluded = 'reported lost';
      else lostLeases.add(m.lease);
      break;
    }
    default:
      control(m);
  }
});
// Leaving the IPC channel open keeps us alive; the orchestrator disconnects us at the end.
process.on('disconnect', () => process.exit(0));
