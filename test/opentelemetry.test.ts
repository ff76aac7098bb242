/**
 * The OpenTelemetry subpath with the real thing: the metrics SDK with a reader the test
 * collects from, and the Prometheus exporter scraped over loopback, fed by real
 * acquisitions on a real Redis. Serial: the library's channels are process-wide, and
 * each test's recorder must see only its own acquisitions.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import test from 'ava';
import { Redis } from 'ioredis';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { type DataPoint, type Histogram, MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { AcquireTimeoutError, Mutex, QueueFullError, Semaphore } from '../src/index.js';
import { semaphoreMetrics } from '../src/opentelemetry.js';
import { queued } from './helpers/events.js';
import { closedPort } from './helpers/ports.js';
import { keysOf } from './helpers/keys.js';
import { OnDemandReader } from './helpers/metric-reader.js';
import { connect, connectLibrary, uniqueKey } from './helpers/redis.js';

/** What the reader holds now, by instrument name. */
async function collect(reader: OnDemandReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length > 0) throw errors[0];
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) byName.set(m.descriptor.name, m);
  return byName;
}

/** The data point of `metric` whose attributes include `match`. */
function point<T>(metric: MetricData | undefined, match: Record<string, unknown>): DataPoint<T> | undefined {
  return (metric?.dataPoints as DataPoint<T>[] | undefined)?.find((p) =>
    Object.entries(match).every(([k, v]) => p.attributes[k] === v),
  );
}

test.serial('metrics: names, units, attributes and values from real acquisitions', async (t) => {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  const redis = await connectLibrary();
  const admin = await connect();
  const key = uniqueKey('otel');
  const sem = new Semaphore(redis, key, { permits: 2, ttl: 1_000, maxWaiters: 1 });
  const recorder = semaphoreMetrics({ meterProvider: provider, sample: [sem] });
  try {
    const first = await sem.acquire({ weight: 2 });
    let m = await collect(reader);
    t.is(point<number>(m.get('redis_fair_semaphore.permits.used'), { 'redis_fair_semaphore.key': key })?.value, 2);
    t.like(point<number>(m.get('redis_fair_semaphore.redis.permits.used'), { 'redis_fair_semaphore.key': key }), {
      value: 2,
    });
    t.like(point<number>(m.get('redis_fair_semaphore.redis.permits.limit'), { 'redis_fair_semaphore.key': key }), {
      value: 2,
    });
    // A waiter that times out, one that is aborted, and one the full queue turns away.
    await t.throwsAsync(sem.acquire({ timeout: 30 }), { instanceOf: AcquireTimeoutError });
    const controller = new AbortController();
    const isQueued = queued(key);
    const aborted = sem.acquire({ signal: controller.signal });
    await isQueued;
    m = await collect(reader);
    t.is(point<number>(m.get('redis_fair_semaphore.pending_requests'), { 'redis_fair_semaphore.key': key })?.value, 1);
    t.like(point<number>(m.get('redis_fair_semaphore.redis.pending_requests'), { 'redis_fair_semaphore.key': key }), {
      value: 1,
    });
    // The head's wait counts from when this recorder first saw the waiter: it grows.
    const headWait = async () =>
      point<number>((await collect(reader)).get('redis_fair_semaphore.redis.head_wait'), {
        'redis_fair_semaphore.key': key,
      })!.value;
    const h1 = await headWait();
    const h2 = await headWait();
    t.true(h1 >= 0 && h2 > h1, `head_wait ${h1} then ${h2}`);
    await t.throwsAsync(sem.acquire(), { instanceOf: QueueFullError });
    controller.abort();
    t.is(await aborted.catch((reason: unknown) => reason), controller.signal.reason);
    await first.release();
    // A fixed-term lease whose term runs out.
    const fixed = await sem.acquire({ autoRefresh: false });
    await new Promise((resolve) => fixed.signal.addEventListener('abort', resolve, { once: true }));
    // A refreshing lease whose entry Redis loses: its next refresh finds it gone.
    const doomed = await sem.acquire();
    await admin.del(keysOf(key).tickets);
    await new Promise((resolve) => doomed.signal.addEventListener('abort', resolve, { once: true }));
    await sem.pause();

    m = await collect(reader);
    const wait = m.get('redis_fair_semaphore.wait_time');
    t.is(wait?.descriptor.unit, 's');
    for (const [outcome, count] of [
      ['granted', 3],
      ['timeout', 1],
      ['aborted', 1],
      ['queue_full', 1],
    ] as const) {
      t.is(
        point<Histogram>(wait, { 'redis_fair_semaphore.key': key, 'redis_fair_semaphore.outcome': outcome })?.value
          .count,
        count,
        outcome,
      );
    }
    const timedOut = point<Histogram>(wait, {
      'redis_fair_semaphore.outcome': 'timeout',
      'redis_fair_semaphore.key': key,
    })!.value;
    t.true(timedOut.sum! >= 0.03 && timedOut.sum! < 5, `a 30 ms timeout recorded as ${timedOut.sum} s`);
    const use = m.get('redis_fair_semaphore.use_time');
    t.is(use?.descriptor.unit, 's');
    t.is(
      point<Histogram>(use, { 'redis_fair_semaphore.lease.end': 'released', 'redis_fair_semaphore.key': key })?.value
        .count,
      1,
    );
    const expired = point<Histogram>(use, {
      'redis_fair_semaphore.lease.end': 'expired',
      'redis_fair_semaphore.key': key,
    })?.value;
    t.is(expired?.count, 1);
    t.true(expired!.sum! > 0.8 && expired!.sum! < 30, `a 1 s term (in seconds, not ms) recorded as ${expired?.sum} s`);
    t.is(point<number>(m.get('redis_fair_semaphore.timeouts'), { 'redis_fair_semaphore.key': key })?.value, 1);
    t.is(
      point<Histogram>(use, { 'redis_fair_semaphore.lease.end': 'lost', 'redis_fair_semaphore.key': key })?.value.count,
      1,
    );
    // The lost one counts as lost; the term that ran out as planned does not.
    t.is(point<number>(m.get('redis_fair_semaphore.leases.lost'), { 'redis_fair_semaphore.key': key })?.value, 1);
    t.is(point<number>(m.get('redis_fair_semaphore.pending_requests'), { 'redis_fair_semaphore.key': key })?.value, 0);
    t.is(point<number>(m.get('redis_fair_semaphore.permits.used'), { 'redis_fair_semaphore.key': key })?.value, 0);
    t.like(point<number>(m.get('redis_fair_semaphore.redis.paused'), { 'redis_fair_semaphore.key': key }), {
      value: 1,
    });
    // The lost lease's entry is gone; the ended term's may outlive its holder's deadline
    // in Redis by the holder's allowance.
    t.true(
      [0, 1].includes(
        point<number>(m.get('redis_fair_semaphore.redis.permits.used'), { 'redis_fair_semaphore.key': key })!.value,
      ),
    );
  } finally {
    recorder.close();
    await sem.resume();
    await provider.shutdown();
  }
});

test.serial('metrics: keys beyond maxKeys share the series "_other"', async (t) => {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  const redis = await connectLibrary();
  const recorder = semaphoreMetrics({ meterProvider: provider, maxKeys: 1 });
  try {
    const keys = [uniqueKey('otel-a'), uniqueKey('otel-b'), uniqueKey('otel-c')];
    for (const key of keys) await (await new Mutex(redis, key).acquire()).release();
    const wait = (await collect(reader)).get('redis_fair_semaphore.wait_time');
    const seen = ((wait?.dataPoints ?? []) as DataPoint<Histogram>[]).map((p) => [
      p.attributes['redis_fair_semaphore.key'],
      p.value.count,
    ]);
    t.deepEqual(
      new Map(seen as [string, number][]),
      new Map([
        [keys[0]!, 1],
        ['_other', 2],
      ]),
    );
  } finally {
    recorder.close();
    await provider.shutdown();
  }
});

test.serial(
  'metrics: a sampled semaphore whose Redis does not answer is left out of the collection, which never hangs',
  async (t) => {
    const reader = new OnDemandReader();
    const provider = new MeterProvider({ readers: [reader] });
    // ioredis with maxRetriesPerRequest null queues commands until a Redis answers: none will.
    const down = new Redis(await closedPort(), '127.0.0.1', { maxRetriesPerRequest: null });
    down.on('error', () => {});
    const key = uniqueKey('otel-down');
    const recorder = semaphoreMetrics({ meterProvider: provider, sample: [new Semaphore(down, key, { permits: 1 })] });
    try {
      for (let i = 0; i < 2; i++) {
        const m = await collect(reader);
        t.is(point(m.get('redis_fair_semaphore.redis.permits.used'), { 'redis_fair_semaphore.key': key }), undefined);
      }
    } finally {
      recorder.close();
      down.disconnect();
      await provider.shutdown();
    }
  },
);

test.serial('the Prometheus exporter serves the histograms over loopback', async (t) => {
  const port = await closedPort();
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port });
  await exporter.startServer();
  const provider = new MeterProvider({ readers: [exporter] });
  const redis = await connectLibrary();
  const key = uniqueKey('prom');
  const recorder = semaphoreMetrics({ meterProvider: provider });
  try {
    await (await new Mutex(redis, key).acquire()).release();
    const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.regex(page, /# TYPE redis_fair_semaphore_wait_time(_seconds)? histogram/);
    t.regex(
      page,
      new RegExp(
        `redis_fair_semaphore_wait_time(?:_seconds)?_count\\{[^}]*redis_fair_semaphore_key="${key}"[^}]*\\} 1`,
      ),
    );
    t.regex(page, /redis_fair_semaphore_use_time(?:_seconds)?_bucket\{[^}]*redis_fair_semaphore_lease_end="released"/);
  } finally {
    recorder.close();
    await provider.shutdown();
  }
});

test.serial(
  'acquire is a tracing channel: start, then asyncEnd with the lease, or error with the reason',
  async (t) => {
    const redis = await connectLibrary();
    const key = uniqueKey('trace');
    const sem = new Semaphore(redis, key, { permits: 1 });
    const events: [string, Record<string, unknown>][] = [];
    const record = (name: string) => (message: unknown) => {
      const m = message as Record<string, unknown>;
      if (m['key'] === key) events.push([name, m]);
    };
    const channel = tracingChannel('redis-fair-semaphore:acquire');
    const subscribers = {
      start: record('start'),
      end: record('end'),
      asyncStart: record('asyncStart'),
      asyncEnd: record('asyncEnd'),
      error: record('error'),
    };
    channel.subscribe(subscribers);
    try {
      const lease = await sem.acquire({ label: 'job-7' });
      await t.throwsAsync(sem.acquire({ timeout: 20 }), { instanceOf: AcquireTimeoutError });
      await lease.release();
      t.deepEqual(
        events.map(([name]) => name),
        ['start', 'end', 'asyncStart', 'asyncEnd', 'start', 'end', 'error', 'asyncStart', 'asyncEnd'],
      );
      t.like(events[0]![1], { key, weight: 1, label: 'job-7', timeout: Number.POSITIVE_INFINITY });
      t.is(events[3]![1]['result'], lease);
      t.true(events[6]![1]['error'] instanceof AcquireTimeoutError);
    } finally {
      channel.unsubscribe(subscribers);
    }
  },
);
