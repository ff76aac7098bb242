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
import type { Semaphore } from './semaphore.js';
import {
  type AcquireTraceContext,
  channels,
  type GrantedEvent,
  type LostEvent,
  type ReleasedEvent,
  tracing,
} from './telemetry.js';
import { requireObject } from './validate.js';

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

/** The outcome of an `acquire()`, as the `semaphore.outcome` attribute of `semaphore.wait_time`. */
export type AcquireOutcome = 'granted' | 'timeout' | 'aborted' | 'queue_full' | 'error';

/** Histogram buckets in seconds: from a handoff on loopback (~0.1 ms) to minutes of waiting. */
const seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Where a context keeps the moment its acquire started; a symbol, so that no tracer's field is in the way. */
const startedAt = Symbol('startedAt');
type Timed = AcquireTraceContext & { [startedAt]?: number };

/** The key attribute's value for keys beyond `maxKeys`. */
export const otherKeys = '_other';

/**
 * Starts recording; `close()` stops it (unsubscribes and drops its callbacks). Call it
 * once per process (each call records on its own, so two would count everything twice).
 */
export function semaphoreMetrics(options?: SemaphoreMetricsOptions): { close(): void } {
  const o = requireObject('options', options);
  const maxKeys = o['maxKeys'] === undefined ? 100 : o['maxKeys'];
  if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new RangeError(`Expected \`maxKeys\` to be an integer from 0, got ${String(maxKeys)}`);
  }
  const sample = o['sample'] === undefined ? [] : o['sample'];
  if (!Array.isArray(sample)) throw new TypeError('Expected `sample` to be an array of semaphores');
  const provider = (o['meterProvider'] as MeterProvider | undefined) ?? metrics.getMeterProvider();
  const meter = provider.getMeter('redis-fair-semaphore');

  const admitted = new Set<string>();
  const keyOf = (key: string): string => {
    if (admitted.has(key)) return key;
    if (admitted.size < maxKeys) {
      admitted.add(key);
      return key;
    }
    return otherKeys;
  };
  const attrs = (key: string, more?: Attributes): Attributes => ({ 'semaphore.key': keyOf(key), ...more });

  const waitTime = meter.createHistogram('semaphore.wait_time', {
    description: 'Time from acquire() to its outcome (granted, timeout, aborted, queue_full, error)',
    unit: 's',
    advice: { explicitBucketBoundaries: seconds },
  });
  const useTime = meter.createHistogram('semaphore.use_time', {
    description: 'Time a lease was held, by how it ended (released, lost, expired)',
    unit: 's',
    advice: { explicitBucketBoundaries: seconds },
  });
  const timeouts = meter.createCounter('semaphore.timeouts', {
    description: 'Acquires that gave up after their timeout',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });
  const lost = meter.createCounter('semaphore.leases.lost', {
    description: 'Leases lost (expired unrefreshed, gone from Redis, client closed) or whose fixed term ended',
    unit: '{lease}',
    valueType: ValueType.INT,
  });
  const pending = meter.createUpDownCounter('semaphore.pending_requests', {
    description: "This process's acquires still waiting",
    unit: '{request}',
    valueType: ValueType.INT,
  });
  const used = meter.createUpDownCounter('semaphore.permits.used', {
    description: "Permits held by this process's leases",
    unit: '{permit}',
    valueType: ValueType.INT,
  });

  // Weight and key attribute of the leases granted here, until they end: a handle taken
  // with lease(id) was not granted here, and its end must not count.
  const live = new Map<string, { weight: number; attributes: Attributes }>();

  const nothing = () => {};
  const trace = {
    end: nothing,
    asyncStart: nothing,
    error: nothing,
    start(message: unknown) {
      const context = message as Timed;
      context[startedAt] = performance.now();
      pending.add(1, attrs(context.key));
    },
    asyncEnd(message: unknown) {
      const context = message as Timed;
      const from = context[startedAt];
      if (from === undefined) return;
      pending.add(-1, attrs(context.key));
      const outcome = outcomeOf(context);
      waitTime.record((performance.now() - from) / 1000, attrs(context.key, { 'semaphore.outcome': outcome }));
    },
  };
  const onGranted = (message: unknown) => {
    const e = message as GrantedEvent;
    const attributes = attrs(e.key);
    live.set(e.token, { weight: e.weight, attributes });
    used.add(e.weight, attributes);
  };
  const ended = (token: string) => {
    const lease = live.get(token);
    if (!lease) return;
    live.delete(token);
    used.add(-lease.weight, lease.attributes);
  };
  const onReleased = (message: unknown) => {
    const e = message as ReleasedEvent;
    ended(e.token);
    useTime.record(e.held / 1000, attrs(e.key, { 'semaphore.lease.end': 'released' }));
  };
  const onLost = (message: unknown) => {
    const e = message as LostEvent;
    ended(e.token);
    const end = e.termEnded ? 'expired' : 'lost';
    useTime.record(e.held / 1000, attrs(e.key, { 'semaphore.lease.end': end }));
    lost.add(1, attrs(e.key, { 'semaphore.lease.end': end }));
  };
  const onTimeout = (message: unknown) => timeouts.add(1, attrs((message as { key: string }).key));

  // Redis-side state of the chosen semaphores, read when the reader collects.
  const gauges = {
    held: meter.createObservableGauge('semaphore.redis.permits.used', {
      description: 'Permits held in Redis, by every process',
      unit: '{permit}',
      valueType: ValueType.INT,
    }),
    limit: meter.createObservableGauge('semaphore.redis.permits.limit', {
      description: 'The limit in force in Redis (stored with setPermits(), else as the callers pass it)',
      unit: '{permit}',
      valueType: ValueType.INT,
    }),
    waiting: meter.createObservableGauge('semaphore.redis.pending_requests', {
      description: 'Tickets waiting in Redis, from every process',
      unit: '{request}',
      valueType: ValueType.INT,
    }),
    paused: meter.createObservableGauge('semaphore.redis.paused', {
      description: '1 while the semaphore is paused, else 0',
      unit: '1',
      valueType: ValueType.INT,
    }),
  };
  const observed: Observable[] = Object.values(gauges);
  const observe = async (result: BatchObservableResult) => {
    await Promise.all(
      (sample as Semaphore[]).map(async (sem) => {
        // A semaphore that cannot be read now (Redis down) is left out of this collection.
        const s = await sem.status({ limit: 1 }).catch(() => undefined);
        if (!s) return;
        const a = attrs(sem.key);
        result.observe(gauges.held, s.held, a);
        result.observe(gauges.limit, s.permits, a);
        result.observe(gauges.waiting, s.waiting, a);
        result.observe(gauges.paused, s.paused ? 1 : 0, a);
      }),
    );
  };
  if (sample.length > 0) meter.addBatchObservableCallback(observe, observed);

  tracing.acquire?.subscribe(trace);
  subscribe(channels.granted.name, onGranted);
  subscribe(channels.released.name, onReleased);
  subscribe(channels.lost.name, onLost);
  subscribe(channels.timeout.name, onTimeout);
  return {
    close() {
      tracing.acquire?.unsubscribe(trace);
      unsubscribe(channels.granted.name, onGranted);
      unsubscribe(channels.released.name, onReleased);
      unsubscribe(channels.lost.name, onLost);
      unsubscribe(channels.timeout.name, onTimeout);
      if (sample.length > 0) meter.removeBatchObservableCallback(observe, observed);
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
