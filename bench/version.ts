import { spawnSync } from 'node:child_process';

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
