/**
 * A real Redis Sentinel set-up on loopback: a master, one replica and one sentinel
 * that fails the master over one second after it stops answering. Stopped when the
 * test file ends (the servers through redis.ts, the sentinel here).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from '../../src/index.js';
import { fromEnv } from './node-redis.js';
import { freePort } from './redis-server.js';
import { type RedisServer, startRedisServer } from './redis.js';
import { replicaLinked } from './replication.js';

export const masterName = 'rfs-master';

const sentinels: ChildProcess[] = [];
const clients: Redis[] = [];
test.after.always('stop the sentinel', () => {
  for (const client of clients) client.disconnect();
  for (const s of sentinels.splice(0)) s.kill('SIGKILL');
});

export type LocalSentinel = {
  readonly master: RedisServer;
  readonly replica: RedisServer;
  /** An ioredis client that finds the master through the sentinel, as applications do. */
  connect(options?: RedisOptions): Redis;
  /**
   * A connected sentinel client for the library under test: ioredis, or node-redis's
   * createSentinel() when RFS_CLIENT names v5 or later (v4 has none: refused).
   */
  connectLibrary(): Promise<RedisClient>;
};

export async function startSentinel(): Promise<LocalSentinel> {
  const master = await startRedisServer();
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const probe = new Redis(replica.port);
  await replicaLinked(probe);
  probe.disconnect();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rfs-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'inherit'] });
  sentinels.push(sentinel);
  let output = '';
  sentinel.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('+monitor')) await once(sentinel.stdout!, 'data');
  sentinel.stdout?.resume();
  const connect = (options: RedisOptions = {}) => {
    const client = new Redis({ sentinels: [{ host: '127.0.0.1', port }], name: masterName, ...options });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };
  return {
    master,
    replica,
    connect,
    async connectLibrary() {
      const v = fromEnv();
      if (!v) return connect();
      if (!v.connectSentinel) throw new Error(`${v.name} has no sentinel client: run this file on another client`);
      return v.connectSentinel(masterName, [{ host: '127.0.0.1', port }]);
    },
  };
}
