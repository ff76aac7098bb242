/**
 * `npm run bench:metrics`: what the OpenTelemetry subpath costs an uncontended acquire +
 * release pair, in this process's CPU and in latency. Three settings, run in alternating
 * rounds on one private Redis: nothing subscribed (what every process that does not
 * import the subpath runs), `semaphoreMetrics()` recording into the OpenTelemetry SDK
 * (a MeterProvider whose reader is collected once a round, as a scrape would), and a
 * bare tracer on the `acquire` tracing channel. Not part of `npm run bench`: its figures
 * go to RESULTS.md by hand, with the command that made them.
 */
import { performance } from 'node:perf_hooks';
import { tracingChannel } from 'node:diagnostics_channel';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Redis } from 'ioredis';
import { Mutex } from '../src/index.js';
import { semaphoreMetrics } from '../src/opentelemetry.js';
import { OnDemandReader } from '../test/helpers/metric-reader.js';
import { startRedisProcess } from '../test/helpers/redis-server.js';

const pairs = Number(process.env['RFS_METRICS_PAIRS'] ?? 20_000);
const rounds = Number(process.env['RFS_METRICS_ROUNDS'] ?? 5);
const server = await startRedisProcess();
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
const mutex = new Mutex(redis, 'metrics-cost');

type Setting = { name: string; start(): () => Promise<void> };
const settings: Setting[] = [
  { name: 'nothing subscribed', start: () => async () => {} },
  {
    name: 'semaphoreMetrics() into the SDK',
    start: () => {
      const reader = new OnDemandReader();
      const provider = new MeterProvider({ readers: [reader] });
      const recording = semaphoreMetrics({ meterProvider: provider });
      return async () => {
        await reader.collect();
        recording.close();
        await provider.shutdown();
      };
    },
  },
  {
    name: 'a bare tracer on redis-fair-semaphore:acquire',
    start: () => {
      const nothing = () => {};
      const subscribers = { start: nothing, end: nothing, asyncStart: nothing, asyncEnd: nothing, error: nothing };
      const channel = tracingChannel('redis-fair-semaphore:acquire');
      channel.subscribe(subscribers);
      return async () => {
        channel.unsubscribe(subscribers);
      };
    },
  },
];

const results = new Map<string, { cpu: number[]; p50: number[] }>(settings.map((s) => [s.name, { cpu: [], p50: [] }]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Warm-up: scripts loaded, JIT settled.
for (let i = 0; i < 2_000; i++) await (await mutex.acquire()).release();
for (let round = 0; round < rounds; round++) {
  // A rotating order, so that no setting always runs first.
  for (let k = 0; k < settings.length; k++) {
    const setting = settings[(round + k) % settings.length]!;
    const stop = setting.start();
    const times: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < pairs; i++) {
      const from = performance.now();
      await (await mutex.acquire()).release();
      times.push(performance.now() - from);
    }
    const used = process.cpuUsage(cpu);
    await stop();
    const r = results.get(setting.name)!;
    r.cpu.push((used.user + used.system) / pairs);
    r.p50.push(median(times));
  }
}

console.log(`${pairs} uncontended pairs per setting and round, ${rounds} rounds, medians over rounds:`);
for (const [name, r] of results) {
  console.log(
    `  ${name.padEnd(48)} client CPU ${median(r.cpu).toFixed(1)} µs per pair, pair p50 ${median(r.p50).toFixed(3)} ms`,
  );
}
await redis.quit();
await server.stop();
