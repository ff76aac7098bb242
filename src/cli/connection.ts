import { Redis } from 'ioredis';
import { redactUrl } from './format.js';

/** The first connection failed: exit code 69 rather than waiting forever for a Redis that is not there. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

/**
 * Connects once, failing fast; after that, ioredis reconnects as usual, since a held
 * lease rides out short outages by itself (it retries its refresh until it would expire).
 */
export async function connect(url: string): Promise<Redis> {
  let connected = false;
  let lastError: Error | undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    // Commands wait through a reconnect instead of failing after 20 tries: the
    // library bounds its own waits (lease expiry, acquire timeout).
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => (connected ? Math.min(attempt * 100, 2_000) : null),
    // ioredis waits this long for a socket to close before destroying it, and the process
    // waits with it: a socket still connecting to a Redis that is down would hold up a
    // Ctrl-C by its default 2 s.
    disconnectTimeout: 100,
  });
  // Without a listener, ioredis would print every reconnect error; they surface through commands instead.
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const cause = lastError ?? (error as Error);
    throw new UnreachableError(`cannot reach Redis at ${redactUrl(url)}: ${cause.message}`, { cause });
  }
  // ioredis selects the URL's database on connecting but only logs a refusal: ask again,
  // so that a database that does not exist fails here instead of showing database 0.
  const db = redis.options.db ?? 0;
  try {
    if (db !== 0) await redis.select(db);
  } catch (error) {
    redis.disconnect();
    throw new UnreachableError(`cannot use database ${db} at ${redactUrl(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  connected = true;
  return redis;
}

/** Closes politely, but never lets an unreachable Redis keep the CLI from exiting. */
export async function close(redis: Redis, waitMs = 1_000): Promise<void> {
  // With no connection up (Redis went away), QUIT would only wait for one.
  if (redis.status === 'ready') {
    await within(
      redis.quit().catch(() => {}),
      waitMs,
    );
  }
  redis.disconnect();
}

/** `promise`, or undefined after `ms`: for clean-up that must not hang the exit. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
