/**
 * Which error replies end a wait: the classes each client really reports replies with,
 * fed to the rule the acquisition uses. The cluster test that restarts a master empty
 * meets CLUSTERDOWN for real on node-redis (ioredis retries it by itself).
 */
import test from 'ava';
import { Redis, ReplyError } from 'ioredis';
import { createClient, ErrorReply, SimpleError } from 'redis';
import { createClient as createClient4, ErrorReply as ErrorReply4 } from 'redis4';
import type { Adapter } from '../src/adapters/adapter.js';
import { adapterFor, type Client } from '../src/adapters/index.js';
import { isPermanent } from '../src/context.js';

// Never connected: the rule needs only the adapter's idea of what a reply error is.
const ioredis = adapterFor(new Redis({ lazyConnect: true }) as unknown as Client);
const nodeRedis = adapterFor(createClient() as unknown as Client);
const nodeRedis4 = adapterFor(createClient4() as unknown as Client);

const replies: readonly [string, Adapter, (message: string) => Error][] = [
  ['ioredis ReplyError', ioredis, (m) => new ReplyError(m)],
  ['node-redis 6 SimpleError', nodeRedis, (m) => new SimpleError(m)],
  ['node-redis 6 ErrorReply', nodeRedis, (m) => new ErrorReply(m)],
  ['node-redis 4 ErrorReply', nodeRedis4, (m) => new ErrorReply4(m)],
];

const notNow = [
  'CLUSTERDOWN The cluster is down',
  'TRYAGAIN Multiple keys request during rehashing of slot',
  'LOADING Redis is loading the dataset in memory',
  'MASTERDOWN Link with MASTER is down',
];
const no = [
  'OOM command not allowed when used memory > maxmemory',
  'NOPERM this user has no permissions',
  'ERR Error running script',
  'CLUSTERDOWNX not a reply Redis sends',
];

for (const [name, adapter, reply] of replies) {
  test(`${name}: "not now" replies are retried, every other reply ends the wait`, (t) => {
    for (const m of notNow) t.false(isPermanent(adapter, reply(m)), m);
    for (const m of no) t.true(isPermanent(adapter, reply(m)), m);
  });
}

test('a connection error is retried; an unreadable reply is not', (t) => {
  for (const adapter of [ioredis, nodeRedis, nodeRedis4]) {
    t.false(isPermanent(adapter, new Error('Connection is closed.')));
    t.false(isPermanent(adapter, new Error('Disconnects client')));
    t.true(isPermanent(adapter, new TypeError('Unexpected reply from the acquire script: null')));
  }
});
