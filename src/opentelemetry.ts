/**
 * OpenTelemetry metrics for redis-fair-semaphore, as the subpath export
 * `redis-fair-semaphore/opentelemetry`. It records through `@opentelemetry/api` alone
 * (an optional peer dependency: install it to use this module; the SDK, exporters and
 * views are the application's), and learns what happens from the library's own
 * diagnostics channels and its `acquire` tracing channel. So the library itself never
 * imports this module: a process that does not import it pays nothing for it.
 *
 * The names follow OpenTelemetry's connection-pool metrics (`db.client.connection.*`:
 * wait_time, use_time, timeouts, pending_requests), with permits for connections and a
 * semaphore's key for the pool's name. Durations are in seconds.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import {
  type Attributes,
  type BatchObservableResult,
  type MeterProvider,
  metrics,
  type Observable,
  ValueType,
} from '@opentelemetry/api';
import { AcquireTimeoutError, QueueFullError, SemaphoreError } from './errors.js';
import { Semaphore } from './semaphore.js';
import {
  type AcquireTraceContext,
  channels,
  type GrantedEvent,
  type LostEvent,
  type ReleasedEvent,
  tracing,
} from './telemetry.js';
import { describe, requireObject } from './validate.js';

export type SemaphoreMetricsOptions = {
  /** Where the instruments come from; default: the global one (`metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProvider;
  /**
   * How many distinct keys get series of their own (default 100); the keys met after
   * that share the value `_other`. Each key multiplies every instrument's series, and an
   * unbounded number of them (a key per user, per job) is how metrics backends melt.
   */
  readonly maxKeys?: number;
  /**
   * Semaphores whose state in Redis is read at each collection (one status() round trip
   * each), so that a dashboard shows every process's queue, not only this one's. Their
   * keys count towards `maxKeys`.
   */
  readonly sample?: readonly Semaphore[];
};

/** The outcome of an `acquire()`, as the `redis_fair_semaphore.outcome` attribute of `redis_fair_semaphore.wait_time`. */
export type AcquireOutcome = 'granted' | 'timeout' | 'aborted' | 'queue_full' | 'error';

/** Histogram buckets in seconds: from a handoff on loopback (~0.1 ms) to minutes of waiting. */
const seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** How long one sampled status() may take before that collection goes without it. */
const sampleTimeoutMs = 1_000;
/**
 * Waiters a sampled status() lists, front first: each is remembered from when it was
 * first listed, so that the head's wait counts from before it reached the head.
 */
const sampledWaiters = 100;

/** The key attribute's value for keys beyond `maxKeys`. */
export const otherKeys = '_other';

/**
 * Starts recording; `close()` stops it (unsubscribes and drops its callbacks). Call it
 * once per process (each call records on its own, so two would count everything twice).
 */
export function semaphoreMetrics(options?: SemaphoreMetricsOptions): { close(): void } {
  const o = requireObject('options', options);
  const maxKeys = o['maxKeys'] === undefined ? 100 : o['maxKeys'];
  if (typeof maxKeys !== 'number')
    throw new TypeError(`Expected \`maxKeys\` to be an integer, got ${describe(maxKeys)}`);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new RangeError(`Expected \`maxKeys\` to be an integer from 0, got ${describe(maxKeys)}`);
  }
  const given = o['sample'] === undefined ? [] : o['sample'];
  if (!Array.isArray(given) || !given.every((x) => x instanceof Semaphore)) {
    throw new TypeError(`Expected \`sample\` to be an array of Semaphore or Mutex objects, got ${describe(given)}`);
  }
  // A copy: the caller's array may change; what close() removes is what was added.
  const sample = [...given] as Semaphore[];
  const provider = o['meterProvider'] === undefined ? metrics.getMeterProvider() : o['meterProvider'];
  if (typeof (provider as MeterProvider | null)?.getMeter !== 'function') {
    throw new TypeError(`Expected \`meterProvider\` to be an OpenTelemetry MeterProvider, got ${describe(provider)}`);
  }
  const meter = (provider as MeterProvider).getMeter('redis-fair-semaphore');

  // The sampled keys first, so that they always have series of their own.
  const admitted = new Set<string>(sample.map((sem) => sem.key).slice(0, maxKeys));
  const keyOf = (key: string): string => {
    if (admitted.has(key)) return key;
    if (admitted.size < maxKeys) {
      admitted.add(key);
      return key;
    }
    return otherKeys;
  };
  const attrs = (key: string, more?: Attributes): Attributes => ({ 'redis_fair_semaphore.key': keyOf(key), ...more });

  const waitTime = meter.createHistogram('redis_fair_semaphore.wait_time', {
    description: 'Time from acquire() to its outcome (granted, timeout, aborted, queue_full, error)',
    unit: 's',
    advice: { explicitBucketBoundaries: seconds },
  });
  const useTime = meter.createHistogram('redis_fair_semaphore.use_time', {
    description: 'Time a lease was held, by how it ended (released, lost, expired)',
    unit: 's',
    advice: { explicitBucketBoundaries: seconds },
  });
  const timeouts = meter.createCounter('redis_fair_semaphore.timeouts', {
    description: 'Acquires that ended with AcquireTimeoutError (timeout: 0 included)',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });
  const lost = meter.createCounter('redis_fair_semaphore.leases.lost', {
    description: 'Leases granted here and lost (expired unrefreshed, gone from Redis, client closed)',
    unit: '{lease}',
    valueType: ValueType.INT,
  });
  const pending = meter.createUpDownCounter('redis_fair_semaphore.pending_requests', {
    description: "This process's acquires still waiting",
    unit: '{request}',
    valueType: ValueType.INT,
  });
  const used = meter.createUpDownCounter('redis_fair_semaphore.permits.used', {
    description: "Permits held by this process's leases",
    unit: '{permit}',
    valueType: ValueType.INT,
  });

  // Leases granted here, until they end: their weight and key attribute. A handle taken
  // with lease(id) was not granted here: its end counts nowhere (the lease's own holder
  // counts it), so that one lease is one observation.
  const live = new Map<string, { weight: number; attributes: Attributes }>();
  // This recorder's acquires in flight: when each started, and its key attribute.
  const waiting = new Map<AcquireTraceContext, { from: number; attributes: Attributes }>();

  const nothing = () => {};
  const trace = {
    end: nothing,
    asyncStart: nothing,
    error: nothing,
    start(message: unknown) {
      const context = message as AcquireTraceContext;
      const attributes = attrs(context.key);
      waiting.set(context, { from: performance.now(), attributes });
      pending.add(1, attributes);
    },
    asyncEnd(message: unknown) {
      const context = message as AcquireTraceContext;
      const started = waiting.get(context);
      if (!started) return;
      waiting.delete(context);
      pending.add(-1, started.attributes);
      const outcome = outcomeOf(context);
      waitTime.record(
        (performance.now() - started.from) / 1000,
        attrs(context.key, { 'redis_fair_semaphore.outcome': outcome }),
      );
      if (outcome === 'timeout') timeouts.add(1, started.attributes);
    },
  };
  const onGranted = (message: unknown) => {
    const e = message as GrantedEvent;
    const attributes = attrs(e.key);
    live.set(e.token, { weight: e.weight, attributes });
    used.add(e.weight, attributes);
  };
  /** The lease's entry if it was granted here (and forgets it), else undefined. */
  const ended = (token: string) => {
    const lease = live.get(token);
    if (!lease) return undefined;
    live.delete(token);
    used.add(-lease.weight, lease.attributes);
    return lease;
  };
  const onReleased = (message: unknown) => {
    const e = message as ReleasedEvent;
    if (!ended(e.token)) return;
    useTime.record(e.held / 1000, attrs(e.key, { 'redis_fair_semaphore.lease.end': 'released' }));
  };
  const onLost = (message: unknown) => {
    const e = message as LostEvent;
    if (!ended(e.token)) return;
    const end = e.termEnded ? 'expired' : 'lost';
    useTime.record(e.held / 1000, attrs(e.key, { 'redis_fair_semaphore.lease.end': end }));
    // A fixed term that ran out as planned is no loss.
    if (!e.termEnded) lost.add(1, attrs(e.key));
  };

  // Redis-side state of the chosen semaphores, read when the reader collects.
  const gauges = {
    held: meter.createObservableGauge('redis_fair_semaphore.redis.permits.used', {
      description: 'Permits held in Redis, by every process',
      unit: '{permit}',
      valueType: ValueType.INT,
    }),
    limit: meter.createObservableGauge('redis_fair_semaphore.redis.permits.limit', {
      description: 'The limit in force in Redis (stored with setPermits(), else as the callers pass it)',
      unit: '{permit}',
      valueType: ValueType.INT,
    }),
    waiting: meter.createObservableGauge('redis_fair_semaphore.redis.pending_requests', {
      description: 'Tickets waiting in Redis, from every process',
      unit: '{request}',
      valueType: ValueType.INT,
    }),
    paused: meter.createObservableGauge('redis_fair_semaphore.redis.paused', {
      description: '1 while the semaphore is paused, else 0',
      unit: '1',
      valueType: ValueType.INT,
    }),
    headWait: meter.createObservableGauge('redis_fair_semaphore.redis.head_wait', {
      description:
        'How long the head of the line has waited, at least: since this recorder first saw that ticket waiting (Redis keeps no arrival time)',
      unit: 's',
    }),
  };
  // Each sampled semaphore's waiters as this recorder first saw them, for head_wait: a
  // lower bound, since Redis keeps a waiter's deadline, not its arrival. Only the tokens
  // a status() lists are remembered, and forgotten once they are no longer listed.
  const firstSeen = new Map<Semaphore, Map<string, number>>();
  const observed: Observable[] = Object.values(gauges);
  // A read still in flight is shared by the next collection rather than repeated, so a
  // Redis that stopped answering gets one status() per sampled semaphore, not one a scrape.
  const reading = new Map<Semaphore, Promise<Awaited<ReturnType<Semaphore['status']>> | undefined>>();
  const read = (sem: Semaphore) => {
    let r = reading.get(sem);
    if (!r) {
      // Never rejects; forgotten once settled (always after the set below).
      r = sem
        .status({ limit: sampledWaiters })
        .then(
          (s) => s,
          () => undefined,
        )
        .finally(() => reading.delete(sem));
      reading.set(sem, r);
    }
    // A semaphore that cannot be read within the deadline (Redis down, or a client that
    // queues commands while disconnected) is left out of this collection: a scrape never
    // hangs on it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, sampleTimeoutMs, undefined);
      timer.unref();
    });
    return Promise.race([r, late]).finally(() => clearTimeout(timer));
  };
  const observe = async (result: BatchObservableResult) => {
    await Promise.all(
      sample.map(async (sem) => {
        const s = await read(sem);
        if (!s) return;
        const a = attrs(sem.key);
        result.observe(gauges.held, s.held, a);
        result.observe(gauges.limit, s.permits, a);
        result.observe(gauges.waiting, s.waiting, a);
        result.observe(gauges.paused, s.paused ? 1 : 0, a);
        const now = performance.now();
        const before = firstSeen.get(sem);
        const seen = new Map<string, number>();
        for (const w of s.waiters) seen.set(w.token, before?.get(w.token) ?? now);
        firstSeen.set(sem, seen);
        const head = s.waiters[0];
        result.observe(gauges.headWait, head ? (now - seen.get(head.token)!) / 1000 : 0, a);
      }),
    );
  };
  if (sample.length > 0) meter.addBatchObservableCallback(observe, observed);

  tracing.acquire?.subscribe(trace);
  subscribe(channels.granted.name, onGranted);
  subscribe(channels.released.name, onReleased);
  subscribe(channels.lost.name, onLost);
  return {
    close() {
      tracing.acquire?.unsubscribe(trace);
      unsubscribe(channels.granted.name, onGranted);
      unsubscribe(channels.released.name, onReleased);
      unsubscribe(channels.lost.name, onLost);
      if (sample.length > 0) meter.removeBatchObservableCallback(observe, observed);
      // What this recorder still counts as waiting or held goes back to zero: it will not
      // see those end.
      for (const { attributes } of waiting.values()) pending.add(-1, attributes);
      for (const { weight, attributes } of live.values()) used.add(-weight, attributes);
      waiting.clear();
      live.clear();
    },
  };
}

/** How an acquire ended, from what its trace context holds once it settled. */
function outcomeOf(context: AcquireTraceContext): AcquireOutcome {
  if (!('error' in context)) return 'granted';
  const error = context.error;
  if (error instanceof AcquireTimeoutError) return 'timeout';
  if (error instanceof QueueFullError) return 'queue_full';
  // Aborted: the signal's own reason, whatever it is (an AbortError by default).
  if (context.signal?.aborted && error === context.signal.reason && !(error instanceof SemaphoreError)) {
    return 'aborted';
  }
  return 'error';
}
