/**
 * The package as users get it: built (`npm run build`'s steps, into a scratch folder),
 * its types checked for internals, and an app importing it bundled with esbuild (as
 * serverless deployments do) and run against Redis from a folder with nothing else in it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { build } from 'esbuild';
import { redisUrl, uniqueKey } from './helpers/redis.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the package into a scratch folder, as `npm run build` does in place. */
async function buildPackage(): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'rfs-package-')), 'dist');
  await run(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    out,
  ]);
  await run(process.execPath, [join(out, 'lua.js'), '--embed', join(root, 'scripts')]);
  return out;
}

const built = buildPackage();

test('the built package carries its Lua inside its JavaScript and reads no file at run time', async (t) => {
  const dist = await built;
  const lua = readFileSync(join(dist, 'lua.js'), 'utf8');
  t.regex(lua, /Written by `npm run build`/);
  t.notRegex(lua, /readFileSync|node:fs/);
  t.regex(lua, /#!lua/);
});

test("the built types hide the library's internals and export the client type", async (t) => {
  const dist = await built;
  const lease = readFileSync(join(dist, 'lease.d.ts'), 'utf8');
  t.regex(lease, /private constructor\(\);/);
  t.notRegex(lease, /clientEnded|static grant/);
  t.regex(readFileSync(join(dist, 'index.d.ts'), 'utf8'), /Client as RedisClient/);
});

/**
 * A project of a user of one client only: the package, that client and Node's types in
 * its node_modules, nothing else, type-checked strictly with skipLibCheck off. The
 * published types must not name the other client's package.
 */
const consumers = {
  redis: [
    "import { createClient } from 'redis';",
    "import { Mutex, type RedisClient } from 'redis-fair-semaphore';",
    'const client = createClient();',
    'const asType: RedisClient = client;',
    "export const mutex = new Mutex(asType, 'report');",
  ],
  ioredis: [
    "import { Redis } from 'ioredis';",
    "import { Semaphore } from 'redis-fair-semaphore';",
    "export const semaphore = new Semaphore(new Redis({ lazyConnect: true }), 'partner-api', { permits: 3 });",
  ],
};
/** A project folder with the built package installed, its dependency, `client`'s package and Node's types. */
async function projectWith(client: keyof typeof consumers): Promise<string> {
  const dist = await built;
  const app = mkdtempSync(join(tmpdir(), 'rfs-project-'));
  const modules = join(app, 'node_modules');
  const pkg = join(modules, 'redis-fair-semaphore');
  mkdirSync(pkg, { recursive: true });
  cpSync(dist, join(pkg, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  const linked = client === 'redis' ? ['redis', '@redis'] : ['ioredis', '@ioredis'];
  for (const name of [...linked, 'nanoid', '@types'])
    symlinkSync(join(root, 'node_modules', name), join(modules, name));
  return app;
}

for (const [client, lines] of Object.entries(consumers) as [keyof typeof consumers, string[]][]) {
  test(`the published types check in a project that has ${client} and not the other client`, async (t) => {
    const app = await projectWith(client);
    writeFileSync(join(app, 'main.ts'), `${lines.join('\n')}\n`);
    const options = {
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      types: ['node'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['main.ts'] }));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    const checked = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app]).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    t.is(checked, '');
  });
}

test('the command-line tool, in a project that has node-redis and not ioredis, says what it needs', async (t) => {
  const cli = join(await projectWith('redis'), 'node_modules/redis-fair-semaphore/dist/cli.js');
  const { stdout } = await run(process.execPath, [cli, '--help'], { env: { ...process.env, NODE_OPTIONS: '' } });
  t.regex(stdout, /status <key>/);
  // A closed port: the tool must stop before connecting anywhere.
  const failed = await run(process.execPath, [cli, 'status', 'k', '--url', 'redis://127.0.0.1:1'], {
    env: { ...process.env, NODE_OPTIONS: '' },
  }).then(
    () => undefined,
    (error: { code?: number; stderr?: string }) => error,
  );
  t.is(failed?.code, 70);
  t.regex(failed?.stderr ?? '', /connects with ioredis, which is not installed here: npm install ioredis/);
});

for (const format of ['cjs', 'esm'] as const) {
  test(`an app bundled with esbuild --bundle --platform=node (${format}) runs against Redis, with no scripts/ beside it`, async (t) => {
    const dist = await built;
    const app = mkdtempSync(join(tmpdir(), 'rfs-app-'));
    const key = uniqueKey('bundled');
    writeFileSync(
      join(app, 'main.mjs'),
      [
        "import { Redis } from 'ioredis';",
        `import { Mutex } from ${JSON.stringify(join(dist, 'index.js'))};`,
        'async function main() {',
        '  const redis = new Redis(process.env.REDIS_URL);',
        `  const mutex = new Mutex(redis, ${JSON.stringify(key)});`,
        '  const lease = await mutex.acquire();',
        '  const status = await mutex.status();',
        '  await lease.release();',
        '  await redis.quit();',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a line of the generated program, a template literal there
        '  console.log(`held ${status.held}, fencing token ${lease.fencingToken > 0}`);',
        '}',
        'main().catch((error) => { console.error(error); process.exitCode = 1; });',
      ].join('\n'),
    );
    const outfile = join(app, 'out', `app.${format === 'esm' ? 'mjs' : 'cjs'}`);
    await build({
      entryPoints: [join(app, 'main.mjs')],
      bundle: true,
      platform: 'node',
      format,
      outfile,
      // ioredis is CommonJS: in an ES module bundle, its require() calls need one to use.
      banner:
        format === 'esm'
          ? { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" }
          : {},
      nodePaths: [join(root, 'node_modules')],
      logLevel: 'silent',
    });
    const { stdout } = await run(process.execPath, [outfile], {
      cwd: join(app, 'out'),
      env: { ...process.env, REDIS_URL: await redisUrl(), NODE_OPTIONS: '' },
    });
    t.is(stdout.trim(), 'held 1, fencing token true');
  });
}
