#!/usr/bin/env node
/**
 * The `redis-fair-semaphore` command: `run` a command holding a permit; `acquire` a
 * fixed-term lease and print its id, to `extend` or `release` it in a later step; show
 * a semaphore's `status` (once, or live with --watch) or `list` those under a prefix;
 * or change its settings for every process (`set-permits`, `pause`, `resume`). Run
 * `redis-fair-semaphore --help` for the whole contract.
 */
import { readFileSync } from 'node:fs';
import { type Parsed, parse, UsageError } from './cli/args.js';
import { CommandFailure, ExitCode } from './cli/exit-codes.js';
import { programName, say } from './cli/format.js';
import { help } from './cli/help.js';

/**
 * The commands, which connect with ioredis: loaded only once one is asked for, so that
 * `--help` works without it and a project that has only node-redis is told what is missing.
 */
async function commands() {
  try {
    const [{ UnreachableError }, { acquire, actOnLease }, { run }, { status }, { watch }, { list }, { configure }] =
      await Promise.all([
        import('./cli/connection.js'),
        import('./cli/lease.js'),
        import('./cli/run.js'),
        import('./cli/status.js'),
        import('./cli/watch.js'),
        import('./cli/list.js'),
        import('./cli/settings.js'),
      ]);
    return { UnreachableError, acquire, actOnLease, run, status, watch, list, configure };
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /'ioredis'/.test(String(error));
    if (!missing) throw error;
    throw new MissingIoredisError();
  }
}

class MissingIoredisError extends Error {
  constructor() {
    super('the command-line tool connects with ioredis, which is not installed here: npm install ioredis');
    this.name = 'MissingIoredisError';
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`${error.message} (see ${programName} --help)`);
    return ExitCode.usage;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(help);
    return ExitCode.ok;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${version()}\n`);
    return ExitCode.ok;
  }
  let unreachable: (error: unknown) => boolean = () => false;
  try {
    const c = await commands();
    unreachable = (error) => error instanceof c.UnreachableError;
    switch (parsed.kind) {
      case 'run':
        return await c.run(parsed);
      case 'status':
        return await (parsed.watch ? c.watch(parsed) : c.status(parsed));
      case 'list':
        return await c.list(parsed);
      case 'acquire':
        return await c.acquire(parsed);
      case 'extend':
      case 'release':
        return await c.actOnLease(parsed);
      case 'set-permits':
      case 'pause':
      case 'resume':
        return await c.configure(parsed);
    }
  } catch (error) {
    if (error instanceof CommandFailure) {
      say(error.message);
      return error.exitCode;
    }
    // One line, whatever the error: the full story is for --verbose readers of the library, not here.
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    say(message);
    return unreachable(error) ? ExitCode.unavailable : ExitCode.internal;
  }
}

function version(): string {
  // src/cli.ts and dist/cli.js both sit one level below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

// exitCode rather than exit(): the process ends once Redis is closed and output flushed.
process.exitCode = await main(process.argv.slice(2));
