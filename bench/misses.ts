/**
 * Why the targets this library misses are missed, as found by profiling the scripts
 * (INFO commandstats, SLOWLOG, counting redis.call per script), counting round trips,
 * and timing a bare PUBLISH between two processes on this machine. Written into
 * RESULTS.md under the targets whenever one is missed.
 */
export const missAnalysis = `## Why the misses

- **Throughput and handoff (W2, W3).** Every grant here crosses processes: the release's script
  publishes the grant and a sleeping process must wake, read it and resume. On this VM a bare
  \`PUBLISH\` takes about 0.19 ms (p50) to reach another process, already more than twice a \`PING\`,
  so "handoff ≤ 2 × PING" is below the floor of any push design here. The peers do better on raw
  throughput because the releasing process usually takes the lock straight back (see their
  overtake and fairness figures): strict FIFO gives that up on every acquisition. At 1 ms holds,
  1.3 × the peers would need a handoff of about 0.1 ms.
- **Wait p99 (W2).** A fair queue of 8 processes waits about 7 × (hold + handoff) for everyone;
  the peers' p99 is low because most of their acquisitions barge in at once, while their worst
  waits run to seconds. p99 is the wrong statistic against a barging lock; the maximum is the
  telling one.
- **Overtakes (W2, W3).** Ranked in Redis's own grant order (fencing tokens) against the moment
  each request was written to its socket, almost none remain; the rest are requests that reached
  Redis later than they were made (the OS ran the client late on a 2-core machine with more
  processes than cores), or, for W3, grants made together in one script call and resolved in
  whichever order the processes woke.
- **Uncontended pair (W1) and many keys (W6).** Two round trips, as designed, but each script
  does more than the peers' (server clock, eviction, FIFO bookkeeping, key lifetime): about
  20-30 µs of Redis time against their 6-9 µs. The scripts were cut from about 22 to about 9
  \`redis.call\`s per uncontended acquire (counters read once and written once, no lookups on an
  idle key), which moved W1 from about 6 × to about 3 × a \`PING\`.
- **Memory per waiter (W4).** A waiter is three Redis entries: its place in the FIFO queue, its
  deadline (so a dead waiter is evicted wherever it stands, in O(log n)) and its ticket. Tokens
  were shortened to 16 characters; going below 250 bytes means dropping the deadline index for a
  rotating sweep of the queue, which evicts dead waiters later than their ttl. Not done yet.
`;
