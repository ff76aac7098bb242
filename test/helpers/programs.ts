/**
 * The programs tests start as child processes (the CLI, contenders, workers), each
 * bundled once per test process into plain JavaScript, so that a child starts with
 * node alone: through tsx, every start compiled the sources again, about 0.6 s of CPU
 * a child, which the suite spent thousands of times. The bundle is the same source;
 * packages stay imports (so a module hook such as test/ioredis6/register.mjs still
 * swaps ioredis), and it is written one folder below the repository root, where the
 * library's `../scripts/` and `../package.json` are where they are in src/ and dist/.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, '.test-build');
const built = new Map<string, Promise<string>>();
const files = new Set<string>();

process.once('exit', () => {
  for (const file of files) rmSync(file, { force: true });
});

/**
 * The path of `entry` (a .ts file) bundled for `node`; built on the first call in this
 * process. Asynchronous: esbuild works in its own process meanwhile, so the tests' timers
 * (leases with short ttls) never wait on it.
 */
export function bundled(entry: URL): Promise<string> {
  const source = fileURLToPath(entry);
  let file = built.get(source);
  if (!file) {
    mkdirSync(dir, { recursive: true });
    // Per process: test files run side by side, each with its own copy.
    const out = join(dir, `${basename(source, '.ts')}-${process.pid}.mjs`);
    files.add(out);
    file = build({
      entryPoints: [source],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
    }).then(() => out);
    built.set(source, file);
  }
  return file;
}
