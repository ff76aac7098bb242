/**
 * Which error replies end a wait: the classes each client really reports replies with,
 * fed to the rule the acquisition uses. The cluster test that restarts a master empty
 * meets CLUSTERDOWN for real on node-redis (ioredis retries it by itself).
 */
import test from 'ava';
import { ReplyError } from 'ioredis';
import { ErrorReply, SimpleError } from 'redis';
import { ErrorReply as ErrorReply4 } from 'redis4';
import { isPermanent } from '../src/context.js';

const replies: readonly [string, (message: string) => Error][] = [
  ['ioredis ReplyError', (m) => new ReplyError(m)],
  ['node-redis 6 SimpleError', (m) => new SimpleError(m)],
  ['node-redis 6 ErrorReply', (m) => new ErrorReply(m)],
  ['node-redis 4 ErrorReply', (m) => new ErrorReply4(m)],
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

for (const [name, reply] of replies) {
  test(`${name}: "not now" replies are retried, every other reply ends the wait`, (t) => {
    for (const m of notNow) t.false(isPermanent(reply(m)), m);
    for (const m of no) t.true(isPermanent(reply(m)), m);
  });
}

test('a connection error is retried; an unreadable reply is not', (t) => {
  t.false(isPermanent(new Error('Connection is closed.')));
  t.true(isPermanent(new TypeError('Unexpected reply from the acquire script: null')));
});
