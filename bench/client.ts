/**
 * A client process: runs one library against Redis as the orchestrator asks, and
 * reports raw timestamps; all statistics are computed by the orchestrator.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { Redis } from 'ioredis';
import { channels } from '../src/index.js';
import { busyWait, now, sleep, waitUntil } from './clock.js';
import { type Held, type Lock, openLock } from './libs.js';
import type {
  Command,
  ContendResult,
  HeardResult,
  LockSpec,
  ManyResult,
  OpenResult,
  Reply,
  Request,
  Sample,
  SoloResult,
  WaitResult,
} from './protocol.js';

const url = process.env['REDIS_URL'] ?? '';

// The library announces "queued" inside the acquire's own async context, which
// carries the sample of that acquire: that is how enqueue latency is measured.
const current = new AsyncLocalStorage<Sample>();

// Counts every command any connection of this process sends (scripts, retries and
// the wake-up subscriber included), to compare round trips per acquisition; by name
// too, so that Redis's per-command CPU can be split into what clients sent and what scripts ran.
let sent = 0;
const sentByName: Record<string, number> = {};
const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
const sendCommand = proto.sendCommand;
proto.sendCommand = function (this: Redis, ...args: unknown[]) {
  sent++;
  const name = (args[0] as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string') sentByName[name] = (sentByName[name] ?? 0) + 1;
  // The first command inside an acquire's async context is its request leaving this process.
  const s = current.getStore();
  if (s && Number.isNaN(s.sent)) s.sent = now();
  return sendCommand.apply(this, args);
};

subscribe(channels.queued.name, () => {
  const sample = current.getStore();
  if (sample && Number.isNaN(sample.queued)) sample.queued = now();
});

function connect(): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  // Errors reach the awaiting command; an unhandled 'error' event would only crash us.
  redis.on('error', () => {});
  return redis;
}

function fenceOf(held: Held): number {
  const fence = (held as { fencingToken?: unknown }).fencingToken;
  return typeof fence === 'number' ? fence : Number.NaN;
}

function sample(proc: number): Sample {
  return {
    proc,
    req: now(),
    sent: Number.NaN,
    queued: Number.NaN,
    grant: Number.NaN,
    rel: Number.NaN,
    fence: Number.NaN,
  };
}

/** Commands sent by name since `before` (a copy of sentByName). */
function sentSince(before: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(sentByName).map(([name, n]) => [name, n - (before[name] ?? 0)]));
}

async function solo(c: Extract<Command, { op: 'solo' }>): Promise<SoloResult> {
  // From before the connection opens to after it closes: the span of the orchestrator's commandstats.
  const namesBefore = { ...sentByName };
  const redis = connect();
  const lock = openLock(redis, c.spec);
  for (let i = 0; i < c.warmup; i++) {
    await (await lock.acquire()).release();
    await redis.ping();
  }
  const pairs: number[] = [];
  const pings: number[] = [];
  const before = sent;
  // Interleaved, so that pairs and PINGs see the same machine load.
  while (now() < c.until) {
    let t = now();
    await (await lock.acquire()).release();
    pairs.push(now() - t);
    t = now();
    await redis.ping();
    pings.push(now() - t);
  }
  const counted = sent - before - pings.length;
  const cpu = await clientCpu(lock, c.cpuPairs, c.cpuChunks);
  const names = sentSince(namesBefore);
  await redis.quit();
  return { pairs, pings, sent: counted, sentByName: names, cpuUsecPerPair: cpu };
}

/**
 * Client CPU per pair: this process's user + system time over back-to-back pairs on one
 * key, in `chunks` parts (the orchestrator takes their median). Nothing else runs in the
 * process meanwhile; the command counting above costs every library the same.
 */
async function clientCpu(lock: Lock, pairs: number, chunks: number): Promise<number[]> {
  const out: number[] = [];
  const per = Math.ceil(pairs / chunks);
  for (let c = 0; c < chunks; c++) {
    const start = process.cpuUsage();
    for (let i = 0; i < per; i++) await (await lock.acquire()).release();
    const used = process.cpuUsage(start);
    out.push((used.user + used.system) / per);
  }
  return out;
}

async function contend(c: Extract<Command, { op: 'contend' }>, proc: number): Promise<ContendResult> {
  const redis = connect();
  await redis.ping();
  const lock = openLock(redis, c.spec);
  const samples: Sample[] = [];
  await waitUntil(c.startAt);
  const before = sent;
  while (now() < c.until) {
    const s = sample(proc);
    const held = await current.run(s, () => lock.acquire());
    s.grant = now();
    s.fence = fenceOf(held);
    busyWait(c.holdMs);
    s.rel = now();
    await held.release();
    samples.push(s);
  }
  const result = { samples, sent: sent - before };
  await redis.quit();
  return result;
}

async function many(c: Extract<Command, { op: 'many' }>): Promise<ManyResult> {
  const redis = connect();
  await redis.ping();
  let pairs = 0;
  const pairMs: number[] = [];
  await waitUntil(c.startAt);
  const before = sent;
  await Promise.all(
    Array.from({ length: c.concurrency }, async (_, i) => {
      const lock = openLock(redis, { ...c.spec, key: `${c.spec.key}:${i}` });
      while (now() < c.until) {
        const t = now();
        await (await lock.acquire()).release();
        pairMs.push(now() - t);
        pairs++;
      }
    }),
  );
  const result = { pairs, sent: sent - before, pairMs, elapsedMs: now() - c.startAt };
  await redis.quit();
  return result;
}

/** Milliseconds to the next arrival of a Poisson process of `perSec` arrivals per second. */
function exponentialGap(perSec: number): number {
  return (-Math.log(1 - Math.random()) / perSec) * 1000;
}

async function open(c: Extract<Command, { op: 'open' }>, proc: number): Promise<OpenResult> {
  const redis = connect();
  await redis.ping();
  const lock = openLock(redis, c.spec);
  const samples: Sample[] = [];
  const requests: Promise<unknown>[] = [];
  let failed: unknown;
  const request = async (s: Sample) => {
    const held = await current.run(s, () => lock.acquire());
    s.grant = now();
    s.fence = fenceOf(held);
    // An I/O-bound holder (a call to a partner's API): the process sleeps, it does not spin.
    await sleep(c.holdMs);
    s.rel = now();
    await held.release();
  };
  await waitUntil(c.startAt);
  let phaseStart = c.startAt;
  for (const phase of c.phases) {
    for (let at = phaseStart + exponentialGap(phase.perSec); at < phase.until; at += exponentialGap(phase.perSec)) {
      // Open loop: a request arrives on schedule whatever the earlier ones are doing.
      const ahead = at - now();
      if (ahead > 0) await sleep(ahead);
      const s = sample(proc);
      samples.push(s);
      requests.push(request(s).catch((error: unknown) => (failed ??= error)));
    }
    // Memoryless: drawing afresh from the phase's end keeps the arrivals Poisson at the new rate.
    phaseStart = phase.until;
  }
  // Every request is waited for: dropping the slow ones would hide the tail.
  await Promise.all(requests);
  await redis.quit();
  if (failed !== undefined) throw failed;
  return { samples };
}

/** PUBLISH floor state: the subscriber of this process and what it heard so far. */
let listener: { redis: Redis; latencies: number[] } | undefined;

async function listen(channel: string): Promise<void> {
  const redis = connect();
  const latencies: number[] = [];
  redis.on('message', (_channel: string, message: string) => {
    // Taken first: everything before this line, down to the publish call, is the floor.
    const at = now();
    latencies.push(at - Number(message));
  });
  await redis.subscribe(channel);
  listener = { redis, latencies };
}

async function publish(c: Extract<Command, { op: 'publish' }>): Promise<void> {
  const redis = connect();
  await redis.ping();
  const [shortest, longest] = c.gapMs;
  for (let i = 0; i < c.count; i++) {
    // A random gap, so that the subscriber's process is asleep when each message comes, as a waiter's is.
    await sleep(shortest + Math.random() * (longest - shortest));
    const t = now();
    const receivers = await redis.publish(c.channel, String(t));
    if (receivers !== 1) throw new Error(`PUBLISH reached ${receivers} subscribers, 1 expected`);
  }
  await redis.quit();
}

async function heard(count: number): Promise<HeardResult> {
  const l = listener;
  if (!l) throw new Error('heard: no listener in this process');
  listener = undefined;
  const deadline = now() + 5_000;
  while (l.latencies.length < count && now() < deadline) await sleep(5);
  await l.redis.quit();
  if (l.latencies.length < count) throw new Error(`heard ${l.latencies.length} of ${count} messages`);
  return { latencies: l.latencies };
}

/** W4/W5 state: waiters never stop on their own; the orchestrator kills this process. */
const waitSamples: Sample[] = [];

function startWaiters(spec: LockSpec, count: number, proc: number): void {
  const redis = connect();
  const lock = openLock(redis, spec);
  for (let i = 0; i < count; i++) {
    void (async () => {
      for (;;) {
        const s = sample(proc);
        waitSamples.push(s);
        const held = await current.run(s, () => lock.acquire());
        s.grant = now();
        s.rel = now();
        await held.release();
      }
    })().catch((error: unknown) => fail(`waiter: ${String(error)}`));
  }
}

let holder: { redis: Redis; held: Held; stop: () => void } | undefined;

async function hold(spec: LockSpec): Promise<void> {
  const redis = connect();
  const first = await openLock(redis, spec).acquire();
  holder = { redis, held: first, stop: () => {} };
  const h = holder;
  // redlock's plain acquire never extends itself (the other two refresh their leases):
  // extend it as its README advises, so the holder outlasts the measuring window.
  if (spec.lib === 'redlock') {
    const timer = setInterval(() => {
      const lock = h.held as Held & { extend: (ms: number) => Promise<Held> };
      lock.extend(spec.ttl).then(
        (next) => (h.held = next),
        (error: unknown) => fail(`extend: ${String(error)}`),
      );
    }, spec.ttl / 3);
    h.stop = () => clearInterval(timer);
  }
}

async function unhold(): Promise<void> {
  if (!holder) return;
  holder.stop();
  await holder.held.release();
  await holder.redis.quit();
  holder = undefined;
}

function fail(message: string): void {
  // Reported with every later reply: a broken waiter must not pass unnoticed.
  failures.push(message);
}
const failures: string[] = [];

async function handle(r: Request): Promise<unknown> {
  switch (r.op) {
    case 'solo':
      return solo(r);
    case 'contend':
      return contend(r, r.proc);
    case 'many':
      return many(r);
    case 'open':
      return open(r, r.proc);
    case 'listen':
      return listen(r.channel);
    case 'publish':
      return publish(r);
    case 'heard':
      return heard(r.count);
    case 'hold':
      return hold(r.spec);
    case 'unhold':
      return unhold();
    case 'wait':
      startWaiters(r.spec, r.count, r.proc);
      return undefined;
    case 'collect':
      return { samples: waitSamples } satisfies WaitResult;
    case 'sent':
      return sent;
  }
}

const reply = (m: Reply) => process.send?.(m);

process.on('message', (r: Request) => {
  handle(r).then(
    (result) => {
      if (failures.length > 0) reply({ ev: 'failed', seq: r.seq, error: failures.join('; ') });
      else reply({ ev: 'done', seq: r.seq, result });
    },
    (error: unknown) => reply({ ev: 'failed', seq: r.seq, error: String((error as Error).stack ?? error) }),
  );
});
process.on('unhandledRejection', (error) => fail(`unhandled: ${String(error)}`));
reply({ ev: 'ready' });
