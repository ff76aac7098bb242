/**
 * `npm run bench:instructions`: what an acquire + release pair costs Redis, counted
 * in CPU instructions by valgrind's callgrind on a private redis-server. Unlike
 * microseconds, instruction counts repeat exactly whatever else the machine does, so
 * they settle what a noisy shared box cannot. Needs valgrind on PATH; slow (Redis runs
 * some 50 times slower under it), so it is not part of `npm run bench`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Mutex as RsMutex, Semaphore as RsSemaphore } from 'redis-semaphore';
import { freePort } from '../test/helpers/redis-server.js';
import { Mutex, Semaphore } from '../src/index.js';

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench:instructions needs valgrind on PATH (apt-get install valgrind).');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'rfs-callgrind-'));
const port = await freePort();
const server = spawn(
  'valgrind',
  [
    '--tool=callgrind',
    `--callgrind-out-file=${dir}/out.%p`,
    'redis-server',
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
  ].concat(['--save', '', '--appendonly', 'no', '--dir', dir]),
  { stdio: 'ignore' },
);
process.once('exit', () => server.kill('SIGKILL'));
const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null, retryStrategy: () => 200 });
redis.on('error', () => {});
while ((await redis.ping().catch(() => '')) !== 'PONG') await new Promise((r) => setTimeout(r, 200));

/** Instructions Redis executed since the last call (callgrind zeroes its counters on each dump). */
function dump(): number {
  for (const f of readdirSync(dir)) if (/^out\.\d+\.\d+$/.test(f)) unlinkSync(join(dir, f));
  execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' });
  const file = readdirSync(dir).find((f) => /^out\.\d+\.\d+$/.test(f));
  const text = file ? readFileSync(join(dir, file), 'utf8') : '';
  return Number((/^(?:totals|summary): (\d+)/m.exec(text) ?? [])[1]);
}

async function perOp(n: number, op: () => Promise<unknown>): Promise<number> {
  await op();
  dump();
  for (let i = 0; i < n; i++) await op();
  return dump() / n;
}

const n = 200;
const ping = await perOp(n, () => redis.ping());
const pair = async (acquire: () => Promise<{ release(): Promise<unknown> }>) => (await acquire()).release();
const fair = new Mutex(redis, 'i-mutex');
const fairSem = new Semaphore(redis, 'i-sem', { permits: 4 });
const others = [await fairSem.acquire(), await fairSem.acquire()];
const rsOthers = [
  new RsSemaphore(redis, 'i-rs-sem', 4, { lockTimeout: 10_000 }),
  new RsSemaphore(redis, 'i-rs-sem', 4, { lockTimeout: 10_000 }),
];
for (const o of rsOthers) await o.acquire();
const rows: [string, number][] = [
  ['PING (the cost of any one command)', ping],
  ['redis-fair-semaphore Mutex pair, idle key', await perOp(n, () => pair(() => fair.acquire()))],
  [
    'redis-semaphore Mutex pair, idle key',
    await perOp(n, () =>
      pair(async () => {
        const m = new RsMutex(redis, 'i-rs-mutex', { lockTimeout: 10_000 });
        await m.acquire();
        return m;
      }),
    ),
  ],
  ['redis-fair-semaphore Semaphore(4) pair, 2 others holding', await perOp(n, () => pair(() => fairSem.acquire()))],
  [
    'redis-semaphore Semaphore(4) pair, 2 others holding',
    await perOp(n, () =>
      pair(async () => {
        const s = new RsSemaphore(redis, 'i-rs-sem', 4, { lockTimeout: 10_000 });
        await s.acquire();
        return s;
      }),
    ),
  ],
];
for (const o of others) await o.release();
for (const o of rsOthers) await o.release();
console.log('Redis instructions per operation (valgrind callgrind, redis-server under it):');
for (const [name, value] of rows) console.log(`  ${name.padEnd(58)} ${Math.round(value).toLocaleString('en')}`);
redis.disconnect();
server.kill('SIGKILL');
