/**
 * A hash of the library's source (src/ and scripts/). Client processes load the
 * scripts when they start, so an edit during a run would mix two versions in one
 * set of figures: the run compares the hash at its start and end and says so.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

function files(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? files(new URL(`${e.name}/`, dir)) : [new URL(e.name, dir)]));
}

export function libraryFingerprint(): string {
  const hash = createHash('sha1');
  for (const dir of ['../src/', '../scripts/']) {
    for (const file of files(new URL(dir, import.meta.url))) {
      hash.update(file.pathname);
      hash.update(readFileSync(file));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

/**
 * Which library version was measured: the git commit (and whether src/ or scripts/
 * had uncommitted edits), or BENCH_COMMIT for a snapshot exported from git.
 */
export function libraryVersion(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status === 0) {
    const dirty = git('status', '--porcelain', '--', 'src', 'scripts').stdout.trim() !== '';
    return `commit ${head.stdout.trim()}${dirty ? ' with uncommitted changes in src/ or scripts/' : ''}`;
  }
  return process.env['BENCH_COMMIT'] ? `commit ${process.env['BENCH_COMMIT']}` : 'unknown commit';
}
