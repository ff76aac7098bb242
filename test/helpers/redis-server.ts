/**
 * Starts a real Redis server for tests and benchmarks: a private `redis-server`
 * from PATH on a free loopback port, or else one in Docker through testcontainers,
 * or else a failure that says how to get one. Free of AVA, so bench/ can use it too.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type RedisServer = {
  readonly url: string;
  readonly port: number;
  /** Stops the server and starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Freezes the server (SIGSTOP) until `resume()`: a stalled node, as the network sees it. */
  pause(): void;
  resume(): void;
};

const hasLocalServer = spawnSync('redis-server', ['--version']).status === 0;

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'rfs-redis-'));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function spawnLocal(port: number, extraArgs: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    // A directory of its own: a replica's full sync writes an RDB file even with --save ''.
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      scratch(),
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        // Keep draining so a chatty server never blocks on a full pipe.
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
  });
  child.stderr?.resume();
  return child;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startLocal(extraArgs: readonly string[]): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await spawnLocal(port, extraArgs);
    } catch (error) {
      // Another process may have taken the port between our probe and the bind.
      if (attempt < 5) continue;
      throw error;
    }
    running.add(child);
    const stop = async () => {
      running.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      stop,
      pause: () => child.kill('SIGSTOP'),
      resume: () => child.kill('SIGCONT'),
      restart: async () => {
        await stop();
        child = await spawnLocal(port, extraArgs);
        running.add(child);
      },
    };
  }
}

async function startContainer(): Promise<RedisServer> {
  let GenericContainer: typeof import('testcontainers').GenericContainer;
  try {
    ({ GenericContainer } = await import('testcontainers'));
  } catch (error) {
    throw new Error(`testcontainers could not be loaded: ${String(error)}`);
  }
  const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  const port = () => container.getMappedPort(6379);
  return {
    get url() {
      return `redis://${container.getHost()}:${port()}`;
    },
    get port() {
      return port();
    },
    stop: async () => {
      await container.stop();
    },
    restart: async () => {
      await container.restart();
    },
    pause: () => {
      void container.exec(['kill', '-STOP', '1']);
    },
    resume: () => {
      void container.exec(['kill', '-CONT', '1']);
    },
  } as RedisServer;
}

/** A Redis server of the caller's own, which it may restart or stop. */
export async function startRedisProcess(extraArgs: readonly string[] = []): Promise<RedisServer> {
  if (hasLocalServer) return startLocal(extraArgs);
  try {
    return await startContainer();
  } catch (error) {
    throw new Error(
      'These tests need a real Redis: put `redis-server` on PATH (e.g. `apt-get install redis-server`), ' +
        `run a Docker engine for testcontainers, or set REDIS_URL. Docker failed with: ${String(error)}`,
    );
  }
}
