/** Pure statistics over client samples; no I/O. */
import type { Sample } from './protocol.js';

/** Nearest-rank percentile (q in 0..1) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** Jain's fairness index: 1 when every process got the same share, 1/n when one got all. */
export function jain(counts: readonly number[]): number {
  const sum = counts.reduce((a, b) => a + b, 0);
  const squares = counts.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? Number.NaN : (sum * sum) / (counts.length * squares);
}

/**
 * Most holders at one instant, from the clients' [grant, release-call] intervals.
 * At equal times a release counts before a grant: touching intervals do not overlap.
 */
export function maxConcurrent(samples: readonly Sample[]): number {
  const events: [number, number][] = [];
  for (const s of samples) {
    if (Number.isFinite(s.grant) && Number.isFinite(s.rel)) events.push([s.grant, 1], [s.rel, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let most = 0;
  for (const [, delta] of events) {
    current += delta;
    if (current > most) most = current;
  }
  return most;
}

/**
 * Release-call → grant: for each grant that had to wait, the time since the latest
 * release call made while it waited (for a mutex that is exactly the previous holder's).
 */
export function handoffs(samples: readonly Sample[], from: number, to: number): number[] {
  const releases = samples
    .map((s) => s.rel)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const out: number[] = [];
  for (const s of samples) {
    if (!Number.isFinite(s.grant) || s.grant < from || s.grant > to) continue;
    // Strictly before: a sample's own release can carry the same timestamp as its grant.
    const i = lowerBound(releases, s.grant) - 1;
    const r = releases[i];
    if (r !== undefined && r >= s.req) out.push(s.grant - r);
  }
  return out;
}

/** Index of the first element >= x in sorted `a`. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `overtaken` of `considered` requests had a later one granted first; `worst`: most ahead of one. */
export type Overtakes = { overtaken: number; considered: number; worst: number };

/**
 * For each acquisition requested in [from, to]: how many requests made at least
 * `slackMs` later were granted before it (never-granted ones count as granted last).
 * `order` ranks grants (the client's grant time by default, or Redis's own order);
 * `requested` dates requests (the acquire() call by default, or when it left the process).
 * O(n log n) with a Fenwick tree over grant ranks.
 */
export function overtakes(
  samples: readonly Sample[],
  from: number,
  to: number,
  order: (s: Sample) => number = (s) => s.grant,
  requested: (s: Sample) => number = (s) => s.req,
  slackMs = 1,
): Overtakes {
  const grantOf = (s: Sample) => (Number.isFinite(order(s)) ? order(s) : Number.POSITIVE_INFINITY);
  const grants = samples.map(grantOf).sort((a, b) => a - b);
  const tree = new Int32Array(grants.length + 1);
  const add = (i: number) => {
    for (i++; i < tree.length; i += i & -i) tree[i] = (tree[i] as number) + 1;
  };
  const countBelow = (i: number) => {
    let n = 0;
    for (; i > 0; i -= i & -i) n += tree[i] as number;
    return n;
  };
  const byReqDesc = samples.filter((s) => Number.isFinite(requested(s))).sort((a, b) => requested(b) - requested(a));
  let next = 0;
  let overtaken = 0;
  let considered = 0;
  let worst = 0;
  for (const a of byReqDesc) {
    // Insert every request made at least slackMs after a's.
    while (next < byReqDesc.length && requested(byReqDesc[next] as Sample) >= requested(a) + slackMs) {
      add(lowerBound(grants, grantOf(byReqDesc[next] as Sample)));
      next++;
    }
    if (a.req < from || a.req > to) continue;
    considered++;
    const n = countBelow(lowerBound(grants, grantOf(a)));
    if (n > 0) overtaken++;
    if (n > worst) worst = n;
  }
  return { overtaken, considered, worst };
}
