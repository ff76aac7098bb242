/**
 * Every timing rule of the client, named once: the library, the CLI and the tests use
 * these, so a change shows everywhere it matters.
 */

/** setTimeout fires at once for delays above this: longer ttls and timeouts are refused. */
export const maxTimerDelay = 2 ** 31 - 1;

/** A delay setTimeout takes as meant: a past moment is now, a far one the longest it can wait. */
export function timerDelay(ms: number): number {
  return Math.min(maxTimerDelay, Math.max(0, ms));
}

/**
 * The holder's allowance: how much sooner than Redis a holder counts its lease as over,
 * so that its `signal` aborts before Redis can grant the permits to anyone else. It
 * covers the clock each side reads in whole milliseconds (Redis's TIME in the scripts,
 * this process's timers: 1 ms each), a timer firing late (2 ms) and the two clocks
 * running at slightly different rates (1 % of the ttl): Redlock's drift allowance,
 * `ttl * 0.01 + 2`, plus the two roundings. Never more than a quarter of the ttl, so
 * that a tiny ttl still leaves the lease most of its time.
 */
export function holderAllowance(ttl: number): number {
  return Math.min(ttl * driftFraction + timerLateMs + 2 * roundingMs, ttl / 4);
}

/** Clock-rate difference between this process and Redis over one ttl, at most (see holderAllowance). */
export const driftFraction = 0.01;
/** How late a timer of this process fires, at most (see holderAllowance). */
export const timerLateMs = 2;
/** What reading a clock in whole milliseconds can cost, on each side (see holderAllowance). */
export const roundingMs = 1;

/** Leases refresh, and waiters heartbeat, every `ttl * heartbeatFraction`. */
export const heartbeatFraction = 1 / 3;

/**
 * A grant heard with more than this share of its ttl already gone (this process or
 * Redis stalled) is re-checked rather than handed out: the lease might lapse before
 * its first refresh.
 */
export const staleGrantFraction = 2 / 3;

/** A refresh that failed on a connection error is retried after `ttl * refreshRetryFraction`. */
export const refreshRetryFraction = 1 / 10;

/** Re-checking right at a holder's expiry would race it by a hair: this many ms past it. */
export const expiryMargin = 5;

/**
 * How long a key's wake-up subscription stays after its last waiter in this client: a
 * process that keeps contending for a key pays the subscribe round trip once.
 */
export const lingerMs = 30_000;

/** A re-check that failed on a connection error is tried again this soon, then twice as late each time. */
export const firstRetryMs = 50;

/** The next wait after a failed re-check: firstRetryMs after the first failure (`last` 0), then twice the last, up to `cap`. */
export function nextRetryMs(last: number, cap: number): number {
  return Math.min(last === 0 ? firstRetryMs : last * 2, cap);
}

/**
 * How often a node-redis cluster or sentinel is checked for having been closed: a v4
 * cluster and a v5 sentinel have no event for it.
 */
export const clusterEndCheckMs = 1_000;

/**
 * A probe of a node-redis cluster's or sentinel's subscriptions after a drop, when it
 * failed (still reconnecting), is sent again this soon, then twice as late each time up
 * to probeRetryMaxMs.
 */
export const probeRetryMs = 200;
export const probeRetryMaxMs = 5_000;
