/**
 * The command-line tool, driven as a child process against a real Redis. Waits are on
 * events (output lines, Redis lists, process exits), never on sleeps.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { Progress } from '../src/cli/progress.js';
import { decodeLeaseId } from '../src/lease-id.js';
import { type Lease, Mutex, Semaphore, type SemaphoreStatus, WeightExceedsLimitError } from '../src/index.js';
import { Cli, cli, type Outcome } from './helpers/cli.js';
import { queued } from './helpers/events.js';
import { keysOf } from './helpers/keys.js';
import { closedPort } from './helpers/ports.js';
import { connect, redisUrl, uniqueKey } from './helpers/redis.js';
import { onTerminal } from './helpers/terminal.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const node = process.execPath;
const oneLine = /^redis-fair-semaphore: [^\n]+\n$/;
/** One permit, as the tests of run and acquire that predate stored limits ask. */
const onePermit = ['--permits', '1'];

test('run: two invocations never overlap and go in the order they queued', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('order');
  const redis = await connect();
  const blocking = await connect();
  const start = (name: string) =>
    new Cli(['run', key, ...onePermit, '--url', url, '--verbose', '--', node, fixture('holder.mjs'), url, key, name]);
  const nextStarted = async () => (await blocking.blpop(`${key}:started`, 0))?.[1];

  const a = start('A');
  t.is(await nextStarted(), 'A');
  const b = start('B');
  await b.waitFor('stderr', /waiting for ".*": next in line/);
  const c = start('C');
  await c.waitFor('stderr', /waiting for ".*": 1 ahead in the queue/);
  // Both are queued behind A, so neither may have started.
  t.deepEqual(await redis.lrange(`${key}:log`, 0, -1), ['start:A']);

  await redis.rpush(`${key}:go:A`, 'go');
  t.is(await nextStarted(), 'B');
  await redis.rpush(`${key}:go:B`, 'go');
  t.is(await nextStarted(), 'C');
  await redis.rpush(`${key}:go:C`, 'go');

  for (const run of [a, b, c]) t.is((await run.done).code, 0, run.stderr);
  t.deepEqual(await redis.lrange(`${key}:log`, 0, -1), ['start:A', 'end:A', 'start:B', 'end:B', 'start:C', 'end:C']);
  t.is(await redis.get(`${key}:overlaps`), null);
  const fences = (await redis.lrange(`${key}:fences`, 0, -1)).map(BigInt);
  t.is(fences.length, 3);
  t.true(fences[0]! < fences[1]! && fences[1]! < fences[2]!, `fencing tokens rise: ${fences.join(', ')}`);
  t.regex(b.stderr, /acquired ".*" after .* \(fencing token \d+\)\n.*released ".*" after holding it/);
});

test('run: passes the exit code through (128+N for a signal), reads REDIS_URL, prints nothing of its own', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('codes');
  const env = { REDIS_URL: url };
  // A ttl far beyond these runs: only a release, not an expiry, can free the permit in time.
  const run = (...command: string[]) => cli(['run', key, ...onePermit, '--ttl', '600000', '--', ...command], env);
  const [seven, killed, zero] = await Promise.all([
    run(node, '-e', 'process.exit(7)'),
    run(node, '-e', 'process.kill(process.pid, "SIGKILL")'),
    run(node, '-e', 'console.log("out")'),
  ]);
  t.deepEqual([seven.code, seven.stdout, seven.stderr], [7, '', '']);
  t.deepEqual([killed.code, killed.stderr], [128 + 9, '']);
  t.deepEqual([zero.code, zero.stdout, zero.stderr], [0, 'out\n', '']);

  const missing = await cli(['run', key, ...onePermit, '--url', url, '--', 'no-such-command-rfs']);
  t.is(missing.code, 127);
  t.regex(missing.stderr, oneLine);
  // A file without the execute bit.
  const notExecutable = await cli(['run', key, ...onePermit, '--url', url, '--', fixture('holder.mjs')]);
  t.is(notExecutable.code, 126);
  t.regex(notExecutable.stderr, oneLine);

  const s = await new Semaphore(await connect(), key, { permits: 1 }).status();
  t.deepEqual([s.held, s.waiting], [0, 0], 'every run released its permit');
});

test('run: forwards SIGTERM and SIGINT to the command and exits as it does', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('forward');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const run = new Cli(['run', key, ...onePermit, '--url', url, '--', node, fixture('polite.mjs')]);
    await run.waitFor('stdout', /ready/);
    run.process.kill(signal);
    const outcome = await run.done;
    t.is(outcome.code, 5, outcome.stderr);
    t.is(outcome.stdout, `ready\ngot ${signal}\n`);
  }
  const s = await new Semaphore(await connect(), key, { permits: 1 }).status();
  t.is(s.held, 0);
});

test('run: a signal while waiting leaves the queue, exits 128+N and never runs the command', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('cancel');
  const sem = new Semaphore(await connect(), key, { permits: 1 });
  const lease = await sem.acquire();
  const run = new Cli(['run', key, ...onePermit, '--url', url, '-v', '--', node, '-e', 'console.log("ran")']);
  await run.waitFor('stderr', /waiting for/);
  run.process.kill('SIGINT');
  const outcome = await run.done;
  t.is(outcome.code, 130);
  t.is(outcome.stdout, '');
  t.is((await sem.status()).waiting, 0);
  await lease.release();
});

test('run: --timeout gives up with exit 75, leaves the queue, and never runs the command', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('timeout');
  const sem = new Semaphore(await connect(), key, { permits: 1 });
  const lease = await sem.acquire();
  for (const timeout of ['0', '200']) {
    const options = [...onePermit, '--url', url, '--timeout', timeout];
    const outcome = await cli(['run', key, ...options, '--', node, '-e', 'console.log("ran")']);
    t.is(outcome.code, 75);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.regex(outcome.stderr, /timed out/);
  }
  t.is((await sem.status()).waiting, 0);
  await lease.release();
});

test('run: a SIGKILLed run frees the permit once its ttl runs out', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('killed');
  const redis = await connect();
  const blocking = await connect();
  const options = [...onePermit, '--url', url, '--ttl', '1000'];
  const a = new Cli(['run', key, ...options, '--', node, fixture('holder.mjs'), url, key, 'A']);
  t.is((await blocking.blpop(`${key}:started`, 0))?.[1], 'A');
  // The job outlives its killed CLI; let it finish, whatever happens here.
  t.teardown(() => redis.rpush(`${key}:go:A`, 'go'));
  a.process.kill('SIGKILL');
  // Not a.done: the orphaned job keeps the output pipes open.
  await a.exited();
  // Nobody refreshes A's lease now; B gets in once it expires.
  const b = await cli(['run', key, ...options, '--', node, '-e', 'process.exit(0)']);
  t.is(b.code, 0, b.stderr);
});

test('run: a lost lease stops the command with SIGTERM, then SIGKILL after --grace, and exits 79', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('lost');
  const redis = await connect();
  const options = ['--url', url, '--ttl', '1000', '--grace', '300'];
  const run = new Cli(['run', key, ...onePermit, ...options, '--', node, fixture('stubborn.mjs')]);
  const [, pid] = await run.waitFor('stdout', /ready (\d+)/);
  // What a Redis restart or FLUSHALL does to the semaphore; the next refresh finds the lease gone.
  await redis.del(keysOf(key).tickets);
  const outcome = await run.done;
  t.is(outcome.code, 79);
  t.regex(outcome.stdout, /got SIGTERM/);
  t.regex(outcome.stderr, oneLine);
  t.regex(outcome.stderr, /Lost the lease.*SIGTERM now, SIGKILL in 300 ms/);
  t.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' }, 'the command is gone');
});

/**
 * A status without what ticks between two calls: expiresIn and heldFor, and the order
 * of the holders, which are listed by expiry and so reordered by refreshes.
 */
function steady(s: SemaphoreStatus) {
  return {
    ...s,
    holders: s.holders.map(({ expiresIn: _, heldFor: __, ...h }) => h).sort((a, b) => a.fencingToken - b.fencingToken),
    waiters: s.waiters.map(({ expiresIn: _, ...w }) => w),
  };
}

test('status --json equals the library status(), and the table shows the same holders and waiters', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('status');
  const sem = new Semaphore(await connect(), key, { permits: 3, ttl: 5000 });
  const heavy = await sem.acquire({ weight: 2 });
  const light = await sem.acquire();
  const stop = new AbortController();
  const waiters: Promise<unknown>[] = [];
  for (const weight of [2, 1]) {
    const event = queued(key);
    waiters.push(sem.acquire({ weight, signal: stop.signal }).catch(() => {}));
    await event;
  }

  const json = await cli(['status', key, '--url', url, '--permits', '3', '--json']);
  t.is(json.code, 0, json.stderr);
  const fromCli = JSON.parse(json.stdout) as SemaphoreStatus;
  const fromLibrary = await sem.status();
  t.deepEqual(steady(fromCli), steady(fromLibrary));
  t.deepEqual(Object.keys(fromCli), Object.keys(fromLibrary));
  for (const entry of [...fromCli.holders, ...fromCli.waiters]) t.true(entry.expiresIn > 0 && entry.expiresIn <= 5000);
  t.is(fromCli.holders.length, 2);
  t.deepEqual(
    fromCli.waiters.map((w) => w.weight),
    [2, 1],
  );

  const table = await cli(['status', key, '--permits', '3'], { REDIS_URL: url });
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /3 of 3 permits held, 0 available, 2 waiting/);
  t.regex(table.stdout, /\nLimit: 3, from the permits its users pass \(no limit is set in Redis\)\n/);
  t.notRegex(table.stdout, /PAUSED/);
  for (const lease of [heavy, light]) t.regex(table.stdout, new RegExp(`${lease.fencingToken}\\s+${lease.weight}\\s`));
  const [first, second] = fromLibrary.waiters;
  // Position, weight, expires in, label (none: -), token: head first.
  const row = (position: number, weight: number, token: string) =>
    `\\n\\s+${position}\\s+${weight}\\s+\\S+\\s+-\\s+${token.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`;
  t.regex(table.stdout, new RegExp(`${row(1, 2, first!.token)}${row(2, 1, second!.token)}\\n`));

  stop.abort();
  await Promise.all(waiters);
  await Promise.all([heavy.release(), light.release()]);
});

test('an unreachable Redis gives one line and exit 69', async (t) => {
  const url = `redis://127.0.0.1:${await closedPort()}`;
  const runArgs = ['run', 'k', '--url', url, '--', node, '-e', 'console.log("ran")'];
  for (const args of [['status', 'k', '--url', url], runArgs]) {
    const outcome = await cli(args);
    t.is(outcome.code, 69, args[0]);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.regex(outcome.stderr, /cannot reach Redis/);
  }
});

test('an error reply from Redis gives one line and exit 70', async (t) => {
  const url = new URL(await redisUrl());
  const key = uniqueKey('refused');
  // A Redis user that may do anything but run scripts: every call is refused with NOPERM.
  const user = `rfs-noscript-${process.pid}`;
  const admin = await connect();
  await admin.acl('SETUSER', user, 'reset', 'on', 'nopass', '~*', '&*', '+@all', '-eval', '-evalsha', '-script');
  t.teardown(() => admin.acl('DELUSER', user));
  url.username = user;
  url.password = 'any';
  const runArgs = ['run', key, ...onePermit, '--url', url.href, '--', node, '-e', 'console.log("ran")'];
  for (const args of [['status', key, '--url', url.href], runArgs]) {
    const outcome = await cli(args);
    t.is(outcome.code, 70, args[0]);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.regex(outcome.stderr, /NOPERM/);
  }
});

const badArguments: readonly (readonly [args: readonly string[], says: RegExp, env?: Record<string, string>])[] = [
  [[], /missing command/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['run'], /missing "--"/],
  [['run', '--', 'true'], /missing <key>/],
  [['run', 'k', 'true'], /missing "--"/],
  [['run', 'k', '--'], /missing command after "--"/],
  [['run', '', '--', 'true'], /<key> must not be empty/],
  [['run', 'k', 'extra', '--', 'true'], /unexpected argument "extra"/],
  [['run', 'k', '--permits', '0', '--', 'true'], /--permits must be an integer/],
  [['run', 'k', '--permits', '1.5', '--', 'true'], /--permits must be an integer/],
  [['run', 'k', '--permits', 'two', '--', 'true'], /--permits must be an integer/],
  [['run', 'k', '--permits', '2', '--weight', '3', '--', 'true'], /--weight must be an integer from 1 to 2/],
  [['run', 'k', '--ttl', '2', '--', 'true'], /--ttl must be an integer from 3/],
  [['run', 'k', '--timeout', '-1', '--', 'true'], /--timeout needs a value/],
  [['run', 'k', '--timeout=-1', '--', 'true'], /--timeout must be an integer from 0/],
  [['run', 'k', '--grace', 'soon', '--', 'true'], /--grace must be an integer from 0/],
  [['run', 'k', '--json', '--', 'true'], /unknown option --json/],
  [['run', 'k', '--verbose', '--quiet', '--', 'true'], /--verbose and --quiet/],
  [['run', 'k', '--verbose=yes', '--', 'true'], /--verbose takes no value/],
  [['run', 'k', '--url', 'http://localhost', '--', 'true'], /--url must start with redis:\/\//],
  [['run', 'k', '--url', 'not a url', '--', 'true'], /--url is not a URL/],
  [['status'], /missing <key>/],
  [['status', 'k', 'extra'], /unexpected argument "extra"/],
  [['status', 'k', '--limit', '0'], /--limit must be an integer from 1/],
  [['status', 'k', '--permits'], /--permits needs a value/],
  [['status', 'k', '--timeout', '5'], /unknown option --timeout/],
  [['status', 'k', '--json=yes'], /--json takes no value/],
  [['status', 'k'], /REDIS_URL must start with redis:\/\//, { REDIS_URL: 'ftp://127.0.0.1' }],
  [['acquire'], /missing <key>/],
  [['acquire', 'k', '--', 'true'], /unexpected argument "true"/],
  [['acquire', 'k', '--grace', '5'], /unknown option --grace/],
  [['acquire', 'k', '--label', 'a/b'], /--label must be 1 to 64 characters/],
  [['acquire', 'k', '--ttl', '0'], /--ttl must be an integer from 3/],
  [['extend'], /missing <id>: extend <id> <ms>/],
  [['extend', 'not-an-id', '1000'], /<id> is not a lease id/],
  [['extend', 'rfs1.cmZz.aw.YWFhYWFhYWFhYS4x.5'], /missing <ms>/],
  [['extend', 'rfs1.cmZz.aw.YWFhYWFhYWFhYS4x.5', '0'], /<ms> must be an integer from 1/],
  [['extend', 'rfs1.cmZz.aw.YWFhYWFhYWFhYS4x.5', '10', 'more'], /unexpected argument "more"/],
  [['release'], /missing <id>: release <id>/],
  // A prefix with "{" (a client's keyPrefix may have one) the CLI cannot spell: refused before connecting.
  [['release', 'rfs1.YXs.aw.YWJjZGVmZ2hpai4x.5'], /<id> names keys under "a\{", which has braces/],
  [['release', 'rfs1.cmZz.aw.YWFhYWFhYWFhYS4x.5', '10'], /unexpected argument "10" after <id>/],
  // Keys and prefixes the library would refuse are refused before connecting too.
  [['status', 'a}b'], /<key> is not valid: Expected `key` without "\}"/],
  [['run', 'a}b', '--', 'true'], /<key> is not valid/],
  [['acquire', 'k', '--prefix', 'a{b'], /--prefix is not valid: Expected `prefix` without "\{"/],
  [['release', 'rfs1.cmZz.aw.YWFhYWFhYWFhYS4x.5', '--permits', '2'], /unknown option --permits/],
  [['set-permits'], /missing <key>/],
  [['set-permits', 'k'], /missing <n> \(or --unset\)/],
  [['set-permits', 'k', '0'], /<n> must be an integer from 1 to 9007199254740991, got "0"/],
  [['set-permits', 'k', '9007199254740992'], /<n> must be an integer from 1 to 9007199254740991/],
  [['set-permits', 'k', '5', '--unset'], /--unset and <n> cannot be used together/],
  [['set-permits', 'k', '5', '6'], /unexpected argument "6" after <n>/],
  [['pause'], /missing <key>/],
  [['resume', 'k', 'extra'], /unexpected argument "extra"/],
  [['status', 'k', '--interval', '500'], /--interval needs --watch/],
  [['status', 'k', '--watch', '--interval', '99'], /--interval must be an integer from 100/],
  [['list', 'k'], /unexpected argument "k": list takes no <key>/],
  [['list', '--limit', '10001'], /--limit must be an integer from 1 to 10000/],
  [['list', '--scan-limit', '0'], /--scan-limit must be an integer from 1/],
  [['list', '--permits', '2'], /unknown option --permits/],
  [['list', '--watch'], /unknown option --watch/],
  [['list', '--prefix', 'a}'], /--prefix is not valid/],
];

test('every bad argument gives a one-line error and exit 64, before touching Redis', async (t) => {
  // Were anything to connect, it would fail with 69 instead of 64.
  const unreachable = `redis://127.0.0.1:${await closedPort()}`;
  const outcomes: Outcome[] = [];
  // A few at a time: each is a Node process, and the machine is shared.
  for (let i = 0; i < badArguments.length; i += 4) {
    const batch = badArguments.slice(i, i + 4);
    outcomes.push(...(await Promise.all(batch.map(([args, , env]) => cli(args, { REDIS_URL: unreachable, ...env })))));
  }
  badArguments.forEach(([args, says], i) => {
    const outcome = outcomes[i]!;
    const label = JSON.stringify(args);
    t.is(outcome.code, 64, `${label}: ${outcome.stderr}`);
    t.is(outcome.stdout, '', label);
    t.regex(outcome.stderr, oneLine, label);
    t.regex(outcome.stderr, says, label);
  });
});

test('--help documents the commands, options, signals and every exit code', async (t) => {
  for (const args of [['--help'], ['run', '--help'], ['status', '-h']]) {
    const outcome = await cli(args);
    t.is(outcome.code, 0);
    t.is(outcome.stderr, '');
    for (const word of [
      '--permits',
      '--weight',
      '--ttl',
      '--timeout',
      '--grace',
      '--json',
      '--label',
      '--unset',
      '--watch',
      '--interval',
      '--all',
      '--scan-limit',
      'REDIS_URL',
      'SIGKILL',
    ]) {
      t.true(outcome.stdout.includes(word), word);
    }
    for (const word of [
      'acquire <key>',
      'extend <id> <ms>',
      'release <id>',
      'status <key>',
      'list [--prefix <text>]',
      'run <key>',
      'set-permits <key> <n> | --unset',
      'pause <key>',
      'resume <key>',
    ]) {
      t.true(outcome.stdout.includes(word), word);
    }
    for (const code of ['64', '65', '69', '70', '75', '78', '79', '126', '127', '128\\+N']) {
      t.regex(outcome.stdout, new RegExp(`\\n  ${code}\\s`), code);
    }
  }
});

test('run on a terminal: the live line shows the queue position (telemetry, then status()), then clears', async (t) => {
  const key = uniqueKey('live');
  const sem = new Semaphore(await connect(), key, { permits: 1, ttl: 5000 });
  const holder = await sem.acquire();
  const ahead = queued(key);
  const first = sem.acquire();
  await ahead;

  let text = '';
  let onWrite = () => {};
  const terminal = {
    columns: 200,
    write(chunk: string) {
      text += chunk;
      onWrite();
    },
  };
  const shows = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      onWrite = () => pattern.test(text) && resolve();
      onWrite();
    });
  const progress = new Progress(
    key,
    'live',
    async (token, limit) => {
      const index = (await sem.status({ limit })).waiters.findIndex((w) => w.token === token);
      return index < 0 ? undefined : index;
    },
    terminal,
  );
  const mine = sem.acquire();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line escape is what is checked
  await shows(/\r\x1b\[2Kredis-fair-semaphore: waiting for ".*": 1 ahead in the queue, \d+\.\ds$/);
  await holder.release();
  const before = await first;
  // Only a status() poll can tell it moved up: the queued event came once.
  await shows(/next in line, \d+\.\ds$/);
  await before.release();
  const lease = await mine;
  progress.granted(lease);
  t.true(text.endsWith('\r\x1b[2K'), JSON.stringify(text.slice(-40)));
  const length = text.length;
  progress.stop();
  t.is(text.length, length, 'nothing drawn after the wait');
  await lease.release();
});

test('status shows who holds: run labels its lease with the host, its pid and the command', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('who');
  const redis = await connect();
  // Relative to the CLI's working directory (the repository), so the label is the same
  // wherever the repository was cloned.
  const command = [node, 'test/fixtures/holder.mjs', url, key, 'A'];
  const run = new Cli(['run', key, ...onePermit, '--url', url, '--', ...command]);
  await redis.blpop(`${key}:started`, 0);
  // Host, the run's pid, the command; what a label may not hold replaced, cut to 64 characters.
  const label = `${hostname()} ${run.process.pid} ${command.join(' ')}`
    .replace(/[^A-Za-z0-9 _.:@,=+#()[\]-]/g, '_')
    .slice(0, 64)
    .trimEnd();
  const table = await cli(['status', key, '--url', url]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /LABEL/);
  t.true(table.stdout.includes(label), `${label}\n${table.stdout}`);
  const json = JSON.parse((await cli(['status', key, '--url', url, '--json'])).stdout) as SemaphoreStatus;
  t.is(json.holders[0]?.label, label);
  await redis.rpush(`${key}:go:A`, 'go');
  t.is((await run.done).code, 0);
});

test('a database that does not exist gives one line and exit 69, instead of showing database 0', async (t) => {
  const url = await redisUrl();
  const outcome = await cli(['status', 'k', '--url', `${url}/99`]);
  t.is(outcome.code, 69);
  t.regex(outcome.stderr, oneLine);
  t.regex(outcome.stderr, /cannot use database 99/);
});

test('acquire, extend, release: a shell script takes a permit in one step and gives it back in another', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('steps');
  const mutex = new Mutex(await connect(), key);
  const taken = await cli(['acquire', key, ...onePermit, '--url', url, '--ttl', '60000', '--label', 'nightly report']);
  t.is(taken.code, 0, taken.stderr);
  t.is(taken.stderr, '');
  const id = taken.stdout.trim();
  t.regex(taken.stdout, /^[A-Za-z0-9._-]+\n$/);
  // The process has exited; the permit stays held, labelled, for its term.
  const held = await mutex.status();
  t.is(held.held, 1);
  t.is(held.holders[0]?.label, 'nightly report');
  t.true(held.holders[0]!.expiresIn <= 60_000);

  // A run queued behind it starts only once the id is released.
  const run = new Cli(['run', key, ...onePermit, '--url', url, '-v', '--', node, '-e', 'console.log("ran")']);
  await run.waitFor('stderr', /waiting for/);
  const extended = await cli(['extend', id, '600000', '--url', url]);
  t.is(extended.code, 0, extended.stderr);
  t.is(extended.stdout + extended.stderr, '');
  t.true((await mutex.status()).holders[0]!.expiresIn > 590_000);
  t.is(run.stdout, '');
  const released = await cli(['release', id], { REDIS_URL: url });
  t.is(released.code, 0, released.stderr);
  t.is(released.stdout + released.stderr, '');
  t.is((await run.done).code, 0);
  t.is(run.stdout, 'ran\n');

  // Once it is gone, acting on the id changes nothing and says so: exit 79.
  for (const args of [
    ['release', id],
    ['extend', id, '1000'],
  ]) {
    const outcome = await cli([...args, '--url', url]);
    t.is(outcome.code, 79, args[0]);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.regex(outcome.stderr, /no longer held/);
  }
  t.is((await mutex.status()).held, 0);
});

test('acquire: --timeout gives up with exit 75, a signal while waiting exits 128+N; neither leaves a ticket', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('acquire-wait');
  const sem = new Semaphore(await connect(), key, { permits: 2 });
  const lease = await sem.acquire({ weight: 2 });
  const timedOut = await cli(['acquire', key, '--url', url, '--permits', '2', '--timeout', '0']);
  t.is(timedOut.code, 75);
  t.is(timedOut.stdout, '');
  t.regex(timedOut.stderr, /timed out/);
  const waiting = new Cli(['acquire', key, '--url', url, '--permits', '2', '-v']);
  await waiting.waitFor('stderr', /waiting for/);
  waiting.process.kill('SIGTERM');
  const outcome = await waiting.done;
  t.is(outcome.code, 143);
  t.is(outcome.stdout, '');
  const status = await sem.status();
  t.is(status.waiting, 0);
  t.is(status.held, 2);
  await lease.release();
});

test("a semaphore used through a client's keyPrefix: --prefix names it with the keyPrefix in front, and its lease ids work as they are", async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('cli-key-prefix');
  // The application's client puts "app1:" before every key; the CLI's client puts nothing.
  // A fixed term far beyond the test: only the release can let the run in.
  const app = new Mutex(await connect(url, { keyPrefix: 'app1:' }), key, { ttl: 600_000 });
  const lease = await app.acquire({ label: 'app worker', autoRefresh: false });
  const shown = await cli(['status', key, '--url', url, '--prefix', 'app1:rfs', '--json']);
  t.is(shown.code, 0, shown.stderr);
  const status = JSON.parse(shown.stdout) as SemaphoreStatus;
  t.deepEqual(
    [status.held, status.holders[0]?.label, status.holders[0]?.fencingToken],
    [1, 'app worker', lease.fencingToken],
  );
  // Without the keyPrefix the CLI looks at other keys, where nobody holds.
  const elsewhere = JSON.parse((await cli(['status', key, '--url', url, '--json'])).stdout) as SemaphoreStatus;
  t.is(elsewhere.held, 0);
  // A run waits behind the application's lease and is woken when it is released.
  const options = [...onePermit, '--url', url, '--prefix', 'app1:rfs', '-v'];
  const run = new Cli(['run', key, ...options, '--', node, '-e', 'console.log("ran")']);
  await run.waitFor('stderr', /waiting for/);
  const released = await cli(['release', lease.id, '--url', url]);
  t.is(released.code, 0, released.stderr);
  t.is((await run.done).code, 0);
  t.is(run.stdout, 'ran\n');
  t.is((await app.status()).held, 0);
});

/** Waiters queued on `sem` in this order; each settles (granted or refused) with its lease or error. */
async function queue(
  sem: Semaphore,
  key: string,
  weights: readonly number[],
  label?: string,
): Promise<Promise<Lease | Error>[]> {
  const waits: Promise<Lease | Error>[] = [];
  for (const weight of weights) {
    const event = queued(key);
    waits.push(sem.acquire({ weight, timeout: 30_000, label }).catch((error: Error) => error));
    await event;
  }
  return waits;
}

test('set-permits: stores the limit for every user of the key, says what it was and what the change served; status shows where the limit comes from', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('set-permits');
  // Its users pass 3; all 3 are held, and three wait: weights 3, 1, 1.
  const sem = new Semaphore(await connect(), key, { permits: 3, ttl: 60_000 });
  const holder = await sem.acquire({ weight: 3 });
  const [heavy, first, second] = await queue(sem, key, [3, 1, 1]);

  const set = await cli(['set-permits', key, '2', '--url', url]);
  t.is(set.code, 0, set.stderr);
  t.is(set.stderr, '');
  t.is(
    set.stdout,
    `limit of "${key}" set to 2 in Redis (none was set: the permits its users pass decided); ` +
      '1 waiter refused (weight above 2): it left the queue\n',
  );
  // The waiter of weight 3 can never fit 2: it was told so, and the others keep their places.
  const refused = await heavy;
  t.true(refused instanceof WeightExceedsLimitError, String(refused));
  const table = await cli(['status', key, '--url', url]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /3 of 2 permits held, 0 available, 2 waiting/);
  t.regex(table.stdout, /\nLimit: 2, set in Redis \(set-permits\)\n/);
  t.regex(table.stdout, /Note: more permits are held than the limit set in Redis/);

  // Once the holder is gone the two that wait fit; a third waits, and a higher limit lets it in at once.
  await holder.release();
  const leases = [(await first) as Lease, (await second) as Lease];
  const [third] = await queue(sem, key, [1]);
  const raised = await cli(['set-permits', key, '3', '--url', url]);
  t.is(raised.stdout, `limit of "${key}" changed from 2 to 3; 1 waiter granted at once\n`, raised.stderr);
  leases.push((await third) as Lease);

  const unset = await cli(['set-permits', key, '--unset', '--url', url]);
  t.is(unset.stdout, `limit of "${key}" removed (was 3): the permits its users pass decide again\n`, unset.stderr);
  const again = await cli(['set-permits', key, '--unset', '--url', url]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, `no limit was set in Redis for "${key}" (the permits its users pass decide); nothing changed\n`);
  t.like(await sem.status(), { permitsSource: 'callers', permits: 3, held: 3 });
  for (const lease of leases) await lease.release();
});

test('pause and resume: stop and restart granting for every user of the key, each confirmed, each safe to repeat; status shows PAUSED', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('pause');
  const sem = new Semaphore(await connect(), key, { permits: 1, ttl: 60_000 });
  const paused = await cli(['pause', key, '--url', url]);
  t.is(paused.code, 0, paused.stderr);
  t.is(paused.stdout, `"${key}" paused: nothing is granted until resume; holders keep their permits\n`);
  const [twice, table] = await Promise.all([cli(['pause', key, '--url', url]), cli(['status', key, '--url', url])]);
  t.is(twice.stdout, `"${key}" was already paused; nothing changed\n`, twice.stderr);
  t.regex(table.stdout, /0 of 1 permits held, 0 available, 0 waiting/);
  t.regex(table.stdout, /\nLimit: 1, from --permits \(no limit is set in Redis, and nobody holds or waits\)\n/);
  t.regex(table.stdout, /\nPAUSED: nothing is granted until resume/);

  // The permit is free, yet nobody gets it while paused.
  t.is(await sem.tryAcquire(), null);
  const [waiter] = await queue(sem, key, [1]);
  const resumed = await cli(['resume', key, '--url', url]);
  t.is(resumed.code, 0, resumed.stderr);
  t.is(resumed.stdout, `"${key}" resumed; 1 waiter granted at once\n`);
  const lease = (await waiter) as Lease;
  t.true(lease.held);
  const again = await cli(['resume', key, '--url', url]);
  t.is(again.stdout, `"${key}" was not paused; nothing changed\n`, again.stderr);
  t.like(await sem.status(), { paused: false, held: 1 });
  await lease.release();
});

test('run and acquire without --permits: use the limit set in Redis, and say so (exit 78) when there is none; a --weight above the limit exits 65', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('stored-limit');
  const sem = new Semaphore(await connect(), key, { permits: 3 });
  const echo = [node, '-e', 'console.log("ran")'];
  const [noRun, noAcquire] = await Promise.all([
    cli(['run', key, '--url', url, '--', ...echo]),
    cli(['acquire', key, '--url', url]),
  ]);
  for (const [outcome, outcomeText] of [
    [noRun, 'the command did not run'],
    [noAcquire, 'nothing was acquired'],
  ] as const) {
    t.is(outcome.code, 78, outcome.stderr);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.true(outcome.stderr.includes(`"${key}" has no limit set in Redis, and --permits was not given; ${outcomeText}.`));
    t.true(outcome.stderr.includes('Pass --permits <n>'));
    t.true(outcome.stderr.includes(`redis-fair-semaphore set-permits ${key} <n>`));
  }

  await sem.setPermits(3);
  const tooHeavy = (outcome: Outcome) => {
    t.is(outcome.code, 65, outcome.stderr);
    t.is(outcome.stdout, '');
    t.regex(outcome.stderr, oneLine);
    t.regex(
      outcome.stderr,
      /--weight 4 is more than the limit of ".*" set in Redis \(3\), so it could never be granted/,
    );
    t.regex(outcome.stderr, /Pass --weight 3 or less, or raise the limit with: redis-fair-semaphore set-permits \S+ 4/);
  };
  const [taken, ran, heavy, heavyWithPermits] = await Promise.all([
    cli(['acquire', key, '--url', url, '--weight', '2', '--ttl', '60000']),
    cli(['run', key, '--url', url, '--', ...echo]),
    cli(['run', key, '--url', url, '--weight', '4', '--', ...echo]),
    // With --permits as before: the limit in Redis still decides, and refuses it.
    cli(['acquire', key, '--url', url, '--permits', '5', '--weight', '4']),
  ]);
  t.is(taken.code, 0, taken.stderr);
  t.is([ran.code, ran.stdout].join(' '), '0 ran\n', ran.stderr);
  tooHeavy(heavy);
  t.regex(heavy.stderr, /; the command did not run\./);
  tooHeavy(heavyWithPermits);
  t.regex(heavyWithPermits.stderr, /; nothing was acquired\./);
  // The lease was taken under the stored limit: its id carries the permits it was asked under.
  t.is(decodeLeaseId(taken.stdout.trim()).permits, 3);
  t.like(await sem.status(), { held: 2, waiting: 0 });

  // A waiter whose weight the limit is lowered below leaves the queue and exits 65 too.
  const waiting = new Cli(['acquire', key, '--url', url, '--weight', '3', '-v']);
  await waiting.waitFor('stderr', /waiting for/);
  await sem.setPermits(2);
  const lowered = await waiting.done;
  t.is(lowered.code, 65, lowered.stderr);
  t.is(lowered.stdout, '');
  t.regex(lowered.stderr, /--weight 3 is more than the limit of ".*" set in Redis \(2\).*; nothing was acquired\./);
  t.is((await sem.status()).waiting, 0);
});

/** What `list --json` prints. */
type Listing = {
  prefix: string;
  complete: boolean;
  stoppedBy: 'limit' | 'scan-limit' | null;
  semaphores: SemaphoreStatus[];
  unreadable: { key: string; error: string }[];
};

test('list: the semaphores under a prefix, found by SCAN, printed escaped; data of others left alone; a listing cut short by --limit or --scan-limit says so', async (t) => {
  const url = await redisUrl();
  const redis = await connect();
  // `[ab]` and `\` are glob syntax: unless escaped for MATCH, SCAN would find nothing under this prefix.
  const prefix = uniqueKey('list[ab]\\');
  const on = (key: string, permits = 1) => new Semaphore(redis, key, { permits, prefix, ttl: 60_000 });
  const busy = on('busy', 3);
  const holder = await busy.acquire({ weight: 2, label: 'worker one' });
  const [waiter] = await queue(busy, 'busy', [2], 'worker two');
  const capped = on('capped');
  await capped.setPermits(5);
  await capped.pause();
  await (await on('idle').acquire()).release();
  // A key that would clear the screen and start a control sequence, were it printed raw.
  const hostile = 'esc\x1b[2J\u009b31m';
  const hostileHolder = await on(hostile).acquire();
  await redis.set(`${prefix}:{foreign}:tickets`, 'not a semaphore');
  // Names SCAN examines and skips: more than one call's worth at --scan-limit 1.
  await redis.mset(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`${prefix}:unrelated:${i}`, 'x'])));

  const list = (...args: string[]) => cli(['list', '--prefix', prefix, '--url', url, ...args]);
  const [text, all, limited, limitedJson, scanned] = await Promise.all([
    list(),
    list('--all', '--json'),
    list('--limit', '2'),
    list('--limit', '2', '--json'),
    list('--scan-limit', '1', '--json'),
  ]);
  t.is(text.code, 0, text.stderr);
  t.is(text.stderr, '');
  t.false(text.stdout.includes('\x1b') || text.stdout.includes('\u009b'), 'no control character reaches the terminal');
  // Sorted by key; columns: key, held/limit, waiting, longest held, where the limit comes from, paused.
  const [header, ...rows] = text.stdout.split('\n').map((line) => line.split(/ {2,}/));
  t.deepEqual(header, ['KEY', 'HELD/LIMIT', 'WAITING', 'LONGEST HELD', 'LIMIT FROM', 'PAUSED']);
  t.deepEqual(rows, [
    ['"busy"', '2/3', '1', rows[0]![3], 'users', '-'],
    ['"capped"', '0/5', '0', '-', 'redis', 'paused'],
    ['"esc\\u001b[2J\\u009b31m"', '1/1', '0', rows[2]![3], 'users', '-'],
    ['Not read (not a semaphore of this version):'],
    ['', '"foreign": its tickets key is a string, not a zset; left as it is'],
    [
      `3 semaphores under prefix ${JSON.stringify(prefix)} with holders, waiters or settings ` +
        '(--all adds idle keys), and 1 not read',
    ],
    [''],
  ]);
  t.regex(rows[0]![3]!, /^\d+(ms|\.\ds)$/);
  t.is(await redis.get(`${prefix}:{foreign}:tickets`), 'not a semaphore', 'list changed nothing of it');

  // --json: each semaphore as status() reports it, with the head of the line only; --all adds the idle key.
  const listing = JSON.parse(all.stdout) as Listing;
  t.like(listing, { prefix, complete: true, stoppedBy: null });
  t.deepEqual(
    listing.semaphores.map(steady),
    await Promise.all(
      ['busy', 'capped', hostile, 'idle'].map(async (key) => steady(await on(key).status({ limit: 1 }))),
    ),
  );
  t.deepEqual(listing.unreadable, [
    { key: 'foreign', error: 'its tickets key is a string, not a zset; left as it is' },
  ]);

  // Cut short: by --limit (more were found), or by --scan-limit (SCAN had more to examine).
  t.regex(limited.stdout, /\nlisting cut short: more than 2 semaphores under prefix .*; these are 2 of those found/);
  const [byLimit, byScan] = [limitedJson, scanned].map((o) => JSON.parse(o.stdout) as Listing);
  t.like(byLimit, { complete: false, stoppedBy: 'limit' });
  t.is(byLimit!.semaphores.length + byLimit!.unreadable.length, 2);
  t.like(byScan, { complete: false, stoppedBy: 'scan-limit' });

  await Promise.all([holder.release(), hostileHolder.release(), capped.resume()]);
  await ((await waiter) as Lease).release();
});

test('status --watch off a terminal: a line per reading until a signal (exit 128+N); with --json, a status() per line', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('watch-lines');
  const sem = new Semaphore(await connect(), key, { permits: 2, ttl: 60_000 });
  const holder = await sem.acquire({ label: 'job one' });
  const [waiter] = await queue(sem, key, [2], 'job two');
  const watch = ['status', key, '--url', url, '--watch', '--interval', '100'];
  const lines = new Cli(watch);
  const json = new Cli([...watch, '--json']);
  await Promise.all([lines.waitFor('stdout', /(.*\n){2}/), json.waitFor('stdout', /(.*\n){2}/)]);
  lines.process.kill('SIGINT');
  json.process.kill('SIGTERM');
  const [l, j] = await Promise.all([lines.done, json.done]);
  t.is(l.code, 130, l.stderr);
  t.is(l.stderr, '');
  const line = new RegExp(
    `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z "${key}": 1/2 held, 1 waiting; ` +
      'head: weight 2, waited ≥\\S+, label job two; longest held \\S+$',
  );
  for (const text of l.stdout.trimEnd().split('\n')) t.regex(text, line);
  t.is(j.code, 143, j.stderr);
  for (const text of j.stdout.trimEnd().split('\n')) t.like(JSON.parse(text), { key, permits: 2, held: 1, waiting: 1 });
  await holder.release();
  await ((await waiter) as Lease).release();
});

test('status --watch on a terminal: redrawn in place like top, a bar of held permits, the holders and the head of the line; Ctrl-C gives the terminal back and exits 130', async (t) => {
  const url = await redisUrl();
  const key = uniqueKey('watch-live');
  const sem = new Semaphore(await connect(), key, { permits: 3, ttl: 60_000 });
  const holder = await sem.acquire({ weight: 2, label: 'render one' });
  const [next] = await queue(sem, key, [2], 'render two');
  const term = await onTerminal(['status', key, '--url', url, '--watch', '--interval', '100'], {
    columns: 100,
    rows: 20,
  });

  const first = await term.waitForFrame(/render two/);
  t.true(
    term.output.startsWith('\x1b[?1049h\x1b[?25l\x1b[H'),
    'the alternate screen, the cursor hidden, drawn from the top',
  );
  const rows = first.split('\n');
  t.regex(
    rows[0]!,
    new RegExp(`^"${key}" under prefix "rfs", every 100ms, read at \\d\\d:\\d\\d:\\d\\d \\(Ctrl-C to quit\\)$`),
  );
  t.deepEqual(rows.slice(1, 3), [
    '[##.] 2/3 held, 1 available, 1 waiting',
    'Limit: 3, from the permits its users pass (no limit is set in Redis)',
  ]);
  t.regex(first, /\nHolders, longest held first:\n +WEIGHT +HELD FOR +EXPIRES IN +LABEL\n +2 +\S+ +\S+ +render one\n/);
  t.regex(first, /\nHead of the line .*\n +# +WEIGHT +WAITED +LABEL\n +1 +2 +≥\S+ +render two$/);

  // The next reading redraws the screen over the last: the waiter now holds, nobody waits.
  await holder.release();
  const lease = (await next) as Lease;
  const after = await term.waitForFrame(/0 waiting/);
  t.regex(after, /\n\[##\.\] 2\/3 held, 1 available, 0 waiting\n/);
  t.regex(after, /\n +2 +\S+ +\S+ +render two\n/);
  t.regex(after, /\nHead of the line .*\n {2}\(none\)$/);

  term.type('\x03');
  t.is(await term.done, 130);
  t.true(term.output.endsWith('\x1b[?25h\x1b[?1049l'), JSON.stringify(term.output.slice(-40)));
  await lease.release();
});
