/**
 * Polls Redis's own state until `check` holds, for cases with no event to wait on (a
 * cancel the library sends once an in-flight call returns). Fails after `within` ms:
 * far longer than any round trip, far shorter than the ttl a leak would last.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, within = 2_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
