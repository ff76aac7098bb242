/**
 * Why the targets this library misses are missed, as measured: Redis instructions per
 * pair with valgrind (`npm run bench:instructions`), redis.calls per script path
 * (test/calls.test.ts), the bare PUBLISH floor and the ideal FIFO replay of W7 (both in
 * this run). Written into RESULTS.md under the targets whenever one is missed.
 */
export const missAnalysis = `## Why the misses

- **Redis time per pair (W1, W6).** A script call costs Redis a fixed amount before it runs a
  line, about as much again per key and argument it is given, and every \`redis.call\` costs about
  as much as a command sent on its own. Counted with valgrind on redis-server 7.0.15
  (\`npm run bench:instructions\`, exact whatever the machine does): an idle-key acquire + release
  pair costs Redis about 96,000 instructions here against redis-semaphore's 35,000, and a
  Semaphore(4) pair with two other holders about 145,000 against its 67,000; a PING costs 4,200.
  The pair is two script calls (4 keys each, 2-3 arguments) running 4 + 2 commands
  (test/calls.test.ts): \`TIME\` for the server clock, \`EXISTS\` to see that nobody holds or waits,
  \`SET … GET\` for the fencing token and \`ZADD\` for the holder; then \`ZREM\` and \`ZCARD\`.
  redis-semaphore's Mutex acquires with one plain \`SET NX PX\` (no script, no fencing token, the
  client's clock) and releases with a two-command script, so "2× its script time" would leave
  under 10 % of one script call for everything FIFO, the server clock and fencing need: not
  reachable with two script calls. What would close most of it: Redis Functions (\`FCALL\`) cost
  about 4,000 fewer instructions per call than \`EVALSHA\` here, and passing one key instead of four
  about 4,000 more; the first needs a function library loaded on every node (which ioredis does
  not manage), the second breaks the rule that a script declares every key it touches. The
  same cost explains most of W1's pair p50 and W6 (one process, 100 keys): the rest is
  client-side work per call in Node.
- **Client CPU per pair (W1).** Most of a pair's client CPU is the same for every library: two
  socket writes and reads and ioredis's handling of two commands. Against redis-semaphore this
  library sends a larger acquire (four keys, a 40-character SHA, token, ttl, flags, where a
  plain \`SET\` has five short arguments) and keeps a lease object with its refresh timer (armed
  after the caller's continuation, so a lease released before its first await costs none).
  Profiled with \`node --cpu-prof\`, what is left in this library's own code is a few µs per
  pair; the run-to-run spread of this figure on the shared VM is larger than that, so the ratio
  lands on either side of 1.0× from one run to the next. What would close it for good: fewer
  or shorter arguments per call (one key instead of four, which breaks the rule that a script
  declares every key it touches), or Redis Functions (\`FCALL\` names a function instead of a SHA).
- **W1 pair p50, W7 at 50 % load (the uncontended acquire).** The pair's p50 is two round trips
  plus Redis's time in the two scripts (the W1 rows) plus the client's work: the first sets it
  near redis-semaphore's, the second adds a few µs per pair. W7's median request is an
  uncontended acquire in a process that slept between requests, where everything runs with cold
  caches: measured stage by stage on this VM (a probe around \`sendCommand\`), the request
  leaves as fast as redis-semaphore's, and what is slower is Redis's script and the client's
  steps from the reply to the resolved \`acquire()\` (decode, grant, lease object), each a few
  µs when cold, tens of µs together against redis-semaphore's shorter path. What would close
  it: a grant path with fewer objects and promise steps between the reply and the caller.
- **Throughput, handoff (W2, W3).** Every grant crosses processes: the release's script grants
  and publishes in one call, and a sleeping process must wake up to read it. Measured in this
  run, a bare \`PUBLISH\` reaches an idle subscriber in another process in the time shown beside
  the handoff (about 0.5 ms at 5-20 ms gaps on this VM; a process that slept wakes slowly); the
  targets table gives each handoff's ratio to it. What a handoff adds to that floor is the
  release's own script call (W1's Redis time, more in W3, where the script reads two other
  holders) and the waking process's work between the message and the resolved \`acquire()\`; on
  a 2-core machine running 12 client processes (W3) the second grows with the run queue, which
  is why W3's ratio moves from run to run around the 1.5× target. The peers reach a higher raw
  throughput because the process that just released usually takes the lock straight back (their
  overtake and fairness figures): strict FIFO gives that up on every acquisition, and at 1 ms
  holds 1.1× the peers would need a whole handoff shorter than that bare \`PUBLISH\`.
- **Wait p99 (W2).** A fair queue of 8 processes waits about 7 × (hold + handoff) for everyone;
  the peers' p99 is low because most of their acquisitions barge in at once, while their worst
  waits run to seconds. The maximum is the telling statistic against a barging lock.
- **Overtakes (W2, W3).** Ranked in Redis's own grant order (fencing tokens) against the moment
  each request was written to its socket, almost none remain; the rest are requests that reached
  Redis later than they were made (the OS ran the client late, on a 2-core machine with more
  processes than cores), or, for W3, grants made together in one script call and resolved in
  whichever order the processes woke.
- **Open loop (W7).** The ideal FIFO row replays the very same requests through a FIFO
  semaphore that costs nothing, and the evidence column gives its ratio to redis-semaphore:
  where even that ratio is above a target, no FIFO queue could meet the target on those
  arrivals (the peer's p99 and the ideal's both move from run to run with the random arrivals,
  so this happens at 80 % in some runs and at 95 % in most). Between the ideal and this
  library's figure is its per-grant cost: each grant's wake-up (the \`PUBLISH\` floor) and the
  release's trip to Redis are added to every 20 ms hold, so the real load is above the nominal
  one, and at 95 % the semaphore runs at nearly 100 % of its real capacity. What would close
  it is a cheaper grant: less Redis time per script call (see W1) and a faster wake-up.
  redis-semaphore's short median comes from new requests taking a freed permit at once while
  its pollers wait (its overtake share and maximum). At 50 % load the median is the
  uncontended acquire, where the Redis and client costs above decide.
`;
