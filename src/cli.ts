#!/usr/bin/env node
/**
 * The `redis-fair-semaphore` command: `run` a command holding a permit; `acquire` a
 * fixed-term lease and print its id, to `extend` or `release` it in a later step; or
 * show a semaphore's `status`. Run `redis-fair-semaphore --help` for the whole contract.
 */
import { readFileSync } from 'node:fs';
import { parse, UsageError } from './cli/args.js';
import { UnreachableError } from './cli/connection.js';
import { ExitCode } from './cli/exit-codes.js';
import { programName, say } from './cli/format.js';
import { help } from './cli/help.js';
import { acquire, actOnLease } from './cli/lease.js';
import { run } from './cli/run.js';
import { status } from './cli/status.js';

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`${error.message} (see ${programName} --help)`);
    return ExitCode.usage;
  }
  try {
    switch (parsed.kind) {
      case 'help':
        process.stdout.write(help);
        return ExitCode.ok;
      case 'version':
        process.stdout.write(`${version()}\n`);
        return ExitCode.ok;
      case 'run':
        return await run(parsed);
      case 'status':
        return await status(parsed);
      case 'acquire':
        return await acquire(parsed);
      case 'extend':
      case 'release':
        return await actOnLease(parsed);
    }
  } catch (error) {
    // One line, whatever the error: the full story is for --verbose readers of the library, not here.
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    say(message);
    return error instanceof UnreachableError ? ExitCode.unavailable : ExitCode.internal;
  }
}

function version(): string {
  // src/cli.ts and dist/cli.js both sit one level below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

// exitCode rather than exit(): the process ends once Redis is closed and output flushed.
process.exitCode = await main(process.argv.slice(2));
