/**
 * Every TypeScript block of the README is a whole program: each is type-checked
 * (strict, as users compile) and run against the test's Redis, with a stand-in for the
 * partner API the quick start calls. The documentation cannot drift from the code.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { redisUrl } from './helpers/redis.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

type Block = { line: number; code: string };

/** The ```ts blocks of the README, with the line each starts on. */
function blocks(): Block[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    found.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

/** Each block as a module of its own, importing the library from src/ as the package name would. */
function write(all: Block[]): { dir: string; files: string[] } {
  mkdirSync(join(root, '.readme-check'), { recursive: true });
  const dir = mkdtempSync(join(root, '.readme-check', 'run-'));
  const files = all.map((b) => {
    const file = join(dir, `line-${b.line}.ts`);
    writeFileSync(
      file,
      b.code
        .replaceAll("from 'redis-fair-semaphore/opentelemetry'", "from '../../src/opentelemetry.js'")
        .replaceAll("from 'redis-fair-semaphore'", "from '../../src/index.js'"),
    );
    return file;
  });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '../..' },
      include: ['*.ts'],
    }),
  );
  return { dir, files };
}

const readme = blocks();

test('the README has its examples, each a whole program', (t) => {
  t.true(readme.length >= 4, `found ${readme.length} blocks`);
  for (const b of readme) t.regex(b.code, /^import /m, `the block at line ${b.line} imports what it uses`);
});

test('every TypeScript block of the README type-checks', async (t) => {
  const { dir } = write(readme);
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  t.is(result, '');
});

test('every TypeScript block of the README runs against Redis and exits by itself', async (t) => {
  // A stand-in for the partner API of the quick start, on loopback.
  const api = createServer((_request, response) => response.end('quote: 42'));
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  t.teardown(() => api.close());
  const address = api.address() as { port: number };
  const env = {
    ...process.env,
    REDIS_URL: await redisUrl(),
    PARTNER_API_URL: `http://127.0.0.1:${address.port}/quote`,
  };
  const { files } = write(readme);
  for (const [i, file] of files.entries()) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { env, timeout: 20_000 });
    t.not(stdout.trim(), '', `the block at line ${readme[i]!.line} printed nothing`);
  }
});
