import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type DecodedLeaseId, decodeLeaseId, shownId } from '../lease-id.js';
import { defaults as library } from '../options.js';
import { maxTimerDelay } from '../timing.js';
import { limits, requireKey, requireLabel, requirePrefix } from '../validate.js';

/** Bad arguments: reported as one line and exit code 64, before anything touches Redis. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Which semaphore: where it lives and under which key. */
type Target = {
  readonly key: string;
  readonly url: string;
  readonly prefix: string;
};

/** run and acquire: --permits may be left out when the key has a limit stored in Redis. */
export type Waiting = Target & {
  /** undefined: use the limit stored for the key, or refuse (permits.ts). */
  readonly permits: number | undefined;
  readonly weight: number;
};

export type RunArgs = Waiting & {
  readonly kind: 'run';
  readonly ttl: number;
  readonly timeout: number;
  readonly grace: number;
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly command: string;
  readonly args: readonly string[];
};

export type StatusArgs = Target & {
  readonly kind: 'status';
  /** The limit shown when none is stored and nobody holds or waits. */
  readonly permits: number;
  readonly json: boolean;
  readonly limit: number;
  /** Read again every `interval` ms until a signal: redrawn on a terminal, a line each time off one. */
  readonly watch: boolean;
  readonly interval: number;
};

/** `list`: the semaphores under a prefix, found by a bounded SCAN. */
export type ListArgs = {
  readonly kind: 'list';
  readonly url: string;
  readonly prefix: string;
  readonly json: boolean;
  /** At most this many semaphores are listed. */
  readonly limit: number;
  /** SCAN stops after examining about this many keys of the database. */
  readonly scanLimit: number;
  /** Also keys that nobody holds or waits for and have no settings (only their fencing token is left). */
  readonly all: boolean;
};

/** `acquire`: wait, take a fixed-term lease, print its id. */
export type AcquireArgs = Waiting & {
  readonly kind: 'acquire';
  readonly ttl: number;
  readonly timeout: number;
  readonly label: string | undefined;
  readonly verbose: boolean;
  readonly quiet: boolean;
};

/** `extend <id> <ms>` and `release <id>`: the lease id says which key, prefix and permits. */
export type LeaseArgs = {
  readonly kind: 'extend' | 'release';
  readonly id: string;
  readonly lease: DecodedLeaseId;
  readonly url: string;
  /** extend: ms the lease is to be held from now. */
  readonly ms: number;
};

/** `set-permits <key> <n>`, `set-permits <key> --unset`: the limit stored in Redis, or null to remove it. */
export type SetPermitsArgs = Target & {
  readonly kind: 'set-permits';
  readonly permits: number | null;
};

/** `pause <key>`, `resume <key>`. */
export type PauseArgs = Target & { readonly kind: 'pause' | 'resume' };

export type Parsed =
  | RunArgs
  | StatusArgs
  | ListArgs
  | AcquireArgs
  | LeaseArgs
  | SetPermitsArgs
  | PauseArgs
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

export const defaultUrl = 'redis://127.0.0.1:6379';
const commands = 'run, acquire, extend, release, status, list, set-permits, pause or resume';
/** The library's own defaults, and the CLI's. */
export const defaults = {
  permits: 1,
  weight: library.weight,
  ttl: library.ttl,
  grace: 5_000,
  limit: library.statusLimit,
  prefix: library.prefix,
  /** status --watch: ms between readings. */
  interval: 1_000,
  /** list: semaphores listed at most. */
  listLimit: 100,
  /** list: keys SCAN examines at most, about a second of SCAN calls on a local Redis. */
  scanLimit: 1_000_000,
} as const;

/** status --watch reads no more often: each reading is a script call on the key. */
export const minInterval = 100;
/** list reads each semaphore it lists: more than this is a job for a script over --json with another --prefix. */
export const maxListLimit = 10_000;

/** setTimeout treats longer delays as 1 ms, and the library rejects them. */
const maxMs = maxTimerDelay;
/** Permits and weights: the library's bound, the largest integer a double holds exactly. */
const maxCount = Number.MAX_SAFE_INTEGER;

/** extend and release: the id names everything else. */
const leaseOptions = {
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** set-permits, pause and resume name the key as status does, and need nothing else. */
const settingsOptions = {
  ...leaseOptions,
  prefix: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const common = {
  ...settingsOptions,
  permits: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const runOptions = {
  ...common,
  weight: { type: 'string' },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  grace: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies ParseArgsConfig['options'];

const acquireOptions = {
  ...common,
  weight: { type: 'string' },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  label: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies ParseArgsConfig['options'];

const setPermitsOptions = {
  ...settingsOptions,
  unset: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

const statusOptions = {
  ...common,
  json: { type: 'boolean' },
  limit: { type: 'string' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const listOptions = {
  ...settingsOptions,
  json: { type: 'boolean' },
  limit: { type: 'string' },
  'scan-limit': { type: 'string' },
  all: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

/** `env` is where REDIS_URL comes from; passed in so parsing stays a pure function. */
export function parse(argv: readonly string[], env: NodeJS.ProcessEnv): Parsed {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case undefined:
      throw new UsageError(`missing command: expected ${commands}`);
    case '-h':
    case '--help':
    case 'help':
      return { kind: 'help' };
    case '--version':
      return { kind: 'version' };
    case 'run':
      return parseRun(rest, env);
    case 'status':
      return parseStatus(rest, env);
    case 'list':
      return parseList(rest, env);
    case 'acquire':
      return parseAcquire(rest, env);
    case 'extend':
    case 'release':
      return parseLease(subcommand, rest, env);
    case 'set-permits':
      return parseSetPermits(rest, env);
    case 'pause':
    case 'resume':
      return parsePause(subcommand, rest, env);
    default:
      throw new UsageError(`unknown command "${subcommand}": expected ${commands}`);
  }
}

function parseRun(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, tokens } = tokenize(args, runOptions);
  if (values.help) return { kind: 'help' };
  // Everything after the first `--` belongs to the command, options included.
  const terminator = tokens.find((t) => t.kind === 'option-terminator');
  const before = tokens.filter((t) => t.kind === 'positional' && (!terminator || t.index < terminator.index));
  if (!terminator) {
    throw new UsageError('missing "--" before the command: run <key> [options] -- <command> [args...]');
  }
  const positionals = before.map((t) => (t.kind === 'positional' ? t.value : ''));
  const named = target(positionals, values, env);
  const [command, ...commandArgs] = args.slice(terminator.index + 1);
  if (command === undefined || command === '') throw new UsageError('missing command after "--"');
  if (values.verbose && values.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  return {
    kind: 'run',
    ...named,
    ...permitsAndWeight(values),
    ttl: integer('--ttl', values.ttl, defaults.ttl, limits.minTtl),
    timeout: integer('--timeout', values.timeout, Number.POSITIVE_INFINITY, 0),
    grace: integer('--grace', values.grace, defaults.grace, 0),
    verbose: values.verbose ?? false,
    quiet: values.quiet ?? false,
    command,
    args: commandArgs,
  };
}

function parseStatus(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, statusOptions);
  if (values.help) return { kind: 'help' };
  const watch = values.watch ?? false;
  if (values.interval !== undefined && !watch) throw new UsageError('--interval needs --watch');
  return {
    kind: 'status',
    ...target(positionals, values, env),
    permits: integer('--permits', values.permits, defaults.permits, 1, maxCount),
    json: values.json ?? false,
    limit: integer('--limit', values.limit, defaults.limit, 1),
    watch,
    interval: integer('--interval', values.interval, defaults.interval, minInterval),
  };
}

function parseList(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, listOptions);
  if (values.help) return { kind: 'help' };
  const [extra] = positionals;
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument "${extra}": list takes no <key> (it lists every key under --prefix)`);
  }
  return {
    kind: 'list',
    url: redisUrl(values.url, env),
    prefix: prefixOption(values.prefix),
    json: values.json ?? false,
    limit: integer('--limit', values.limit, defaults.listLimit, 1, maxListLimit),
    scanLimit: integer('--scan-limit', values['scan-limit'], defaults.scanLimit, 1, maxCount),
    all: values.all ?? false,
  };
}

function parseAcquire(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, acquireOptions);
  if (values.help) return { kind: 'help' };
  if (values.verbose && values.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  let label: string | undefined;
  if (values.label !== undefined) {
    try {
      label = requireLabel(values.label);
    } catch {
      throw new UsageError(
        `--label must be 1 to ${limits.maxLabelLength} characters of letters, digits, space and _.:@,=+#()[]-, got "${values.label}"`,
      );
    }
  }
  return {
    kind: 'acquire',
    ...target(positionals, values, env),
    ...permitsAndWeight(values),
    ttl: integer('--ttl', values.ttl, defaults.ttl, limits.minTtl),
    timeout: integer('--timeout', values.timeout, Number.POSITIVE_INFINITY, 0),
    label,
    verbose: values.verbose ?? false,
    quiet: values.quiet ?? false,
  };
}

function parseLease(kind: 'extend' | 'release', args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, leaseOptions);
  if (values.help) return { kind: 'help' };
  const [id, msText, extra] = positionals;
  const usage = kind === 'extend' ? 'extend <id> <ms>' : 'release <id>';
  if (id === undefined || id === '') throw new UsageError(`missing <id>: ${usage}`);
  let lease: DecodedLeaseId;
  try {
    lease = decodeLeaseId(id);
  } catch {
    throw new UsageError(`<id> is not a lease id (as acquire prints it), got "${shownId(id)}"`);
  }
  try {
    // The CLI's client has no keyPrefix: it names the keys with the id's prefix alone,
    // which must be a prefix the library takes (a client's keyPrefix may hold braces).
    requirePrefix(lease.prefix);
  } catch {
    throw new UsageError(
      `<id> names keys under "${lease.prefix}", which has braces (from a client's keyPrefix): ` +
        'the CLI cannot name them; use the library through a client with that keyPrefix',
    );
  }
  let ms = 0;
  if (kind === 'extend') {
    if (msText === undefined) throw new UsageError(`missing <ms>: ${usage}`);
    ms = integer('<ms>', msText, 0, 1);
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" after <ms>`);
  } else if (msText !== undefined) {
    throw new UsageError(`unexpected argument "${msText}" after <id>`);
  }
  return { kind, id, lease, url: redisUrl(values.url, env), ms };
}

/**
 * Without --permits, the weight can only be checked against the key's stored limit,
 * once it is read from Redis (permits.ts).
 */
function permitsAndWeight(values: { permits?: string | undefined; weight?: string | undefined }) {
  const permits = values.permits === undefined ? undefined : integer('--permits', values.permits, 0, 1, maxCount);
  return { permits, weight: integer('--weight', values.weight, defaults.weight, 1, permits ?? maxCount) };
}

function parseSetPermits(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, setPermitsOptions);
  if (values.help) return { kind: 'help' };
  const [, n, extra] = positionals;
  const usage = 'set-permits <key> <n>, or set-permits <key> --unset';
  const named = target(positionals.slice(0, 1), values, env);
  if (values.unset) {
    if (n !== undefined) throw new UsageError(`--unset and <n> cannot be used together (got "${n}"): ${usage}`);
    return { kind: 'set-permits', ...named, permits: null };
  }
  if (n === undefined) throw new UsageError(`missing <n> (or --unset): ${usage}`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" after <n>`);
  return { kind: 'set-permits', ...named, permits: integer('<n>', n, 0, 1, maxCount) };
}

function parsePause(kind: 'pause' | 'resume', args: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values, positionals } = tokenize(args, settingsOptions);
  if (values.help) return { kind: 'help' };
  return { kind, ...target(positionals, values, env) };
}

/** The key, URL and prefix that name one semaphore, as every command but extend and release takes them. */
function target(
  positionals: readonly string[],
  values: { url?: string | undefined; prefix?: string | undefined },
  env: NodeJS.ProcessEnv,
): Target {
  return { key: onlyKey(positionals), url: redisUrl(values.url, env), prefix: prefixOption(values.prefix) };
}

function tokenize<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true });
  } catch (error) {
    const e = error as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(e.message);
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      throw new UsageError(`unknown option ${unknown[1]}`);
    }
    const value = /^Option '(?:-\w, )?(-[^' ]+)(?: <value>)?' (argument missing|argument is ambiguous|does not take)/;
    const [, name, problem] = value.exec(e.message) ?? [];
    if (name) throw new UsageError(problem === 'does not take' ? `${name} takes no value` : `${name} needs a value`);
    // Node's messages span lines for some cases; the contract is one line.
    throw new UsageError(e.message.replace(/\s*\n\s*/g, ' '));
  }
}

function onlyKey(positionals: readonly string[]): string {
  const [key, extra] = positionals;
  if (key === undefined) throw new UsageError('missing <key>');
  if (key === '') throw new UsageError('<key> must not be empty');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" after <key>`);
  return asUsage('<key>', () => requireKey(key));
}

function prefixOption(raw: string | undefined): string {
  return raw === undefined ? defaults.prefix : asUsage('--prefix', () => requirePrefix(raw));
}

/** The library's own check of a value, its message said of the argument it came from. */
function asUsage<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError(`${name} is not valid: ${(error as Error).message}`);
  }
}

/** Plain decimal digits only: "1e3", "0x10", " 5" and "1.5" are all refused. */
function integer(name: string, raw: string | undefined, fallback: number, min: number, max = maxMs): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function redisUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const fromEnv = env['REDIS_URL'];
  const [url, source] =
    flag !== undefined ? [flag, '--url'] : fromEnv ? [fromEnv, 'REDIS_URL'] : [defaultUrl, 'the default URL'];
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError(`${source} is not a URL: "${url}"`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new UsageError(`${source} must start with redis:// or rediss://, got "${url}"`);
  }
  return url;
}
