import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';

/**
 * Polls Redis's own state until `check` holds, for cases with no event to wait on (a
 * cancel the library sends once an in-flight call returns). Gives up after `within` ms:
 * far longer than any round trip, far shorter than the ttl a leak would last. It returns
 * the last value read either way, for the caller to assert on. `every`: ms between
 * reads, for state that takes a while (a replica's sync), so the poll does not flood Redis.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  { within = 2_000, every = 0 }: { within?: number; every?: number } = {},
): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await (every > 0 ? delay(every) : nextTurn());
  }
}
