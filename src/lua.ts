/**
 * The Lua of every script in scripts/, each `--@include name` inlined from
 * scripts/includes/. scripts/ is the only source: during development it is read from
 * disk; `npm run build` then runs `node dist/lua.js --embed`, which writes this module's
 * compiled file again with the sources inside it, so that the published package, and an
 * app bundled from it, never reads a file at run time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One file per atomic operation, named `<verb>-<number of KEYS>.lua`. */
export const files = {
  acquire: 'acquire-4.lua',
  configure: 'configure-4.lua',
  heartbeat: 'heartbeat-4.lua',
  release: 'release-4.lua',
  refresh: 'refresh-4.lua',
  status: 'status-4.lua',
} as const;

export type ScriptName = keyof typeof files;

/** Reads every script from `dir` (scripts/ next to this package), includes inlined. */
export function readSources(dir: URL = new URL('../scripts/', import.meta.url)): Record<ScriptName, string> {
  const load = (file: string) =>
    readFileSync(new URL(file, dir), 'utf8').replace(/^--@include (\w+)$/gm, (_line, name: string) =>
      readFileSync(new URL(`includes/${name}.lua`, dir), 'utf8'),
    );
  return Object.fromEntries(Object.entries(files).map(([name, file]) => [name, load(file)])) as Record<
    ScriptName,
    string
  >;
}

let cached: Record<ScriptName, string> | undefined;

export function sources(): Readonly<Record<ScriptName, string>> {
  cached ??= readSources();
  return cached;
}

/** The module that replaces this one in the built package: the same exports, the sources inlined. */
function embedded(lua: Record<ScriptName, string>): string {
  return [
    '// Written by `npm run build` from scripts/*.lua, the only source of the Lua; do not edit.',
    `export const files = ${JSON.stringify(files)};`,
    `const lua = ${JSON.stringify(lua)};`,
    'export function readSources() {',
    '  return { ...lua };',
    '}',
    'export function sources() {',
    '  return lua;',
    '}',
    '',
  ].join('\n');
}

// `node dist/lua.js --embed [scriptsDir]`: the build step described above.
if (process.argv.includes('--embed') && process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[process.argv.indexOf('--embed') + 1];
  const lua = readSources(dir ? new URL(`file://${dir.endsWith('/') ? dir : `${dir}/`}`) : undefined);
  writeFileSync(fileURLToPath(import.meta.url), embedded(lua));
}
