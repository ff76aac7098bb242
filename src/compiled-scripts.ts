import { createHash } from 'node:crypto';
import type { Script } from './adapters/adapter.js';
import { files, type ScriptName, sources } from './lua.js';

/**
 * A variant of the scripts with their Lua rewritten: the seam model-based tests use
 * to put the scripts on a clock they can move. Its own SHAs keep it apart from the
 * shipped scripts on one Redis. The library itself always uses the scripts as they are.
 */
export type ScriptVariant = { readonly rewrite: (lua: string) => string };

/** The scripts as they ship. */
export const shipped: ScriptVariant = { rewrite: (lua) => lua };

const compiled = new WeakMap<ScriptVariant, Record<ScriptName, Script>>();

/** Every script of a variant as Redis runs it (Lua, SHA, key count), hashed once per process. */
export function compiledScripts(variant: ScriptVariant): Record<ScriptName, Script> {
  let scripts = compiled.get(variant);
  if (!scripts) {
    const lua = sources();
    scripts = {} as Record<ScriptName, Script>;
    for (const name of Object.keys(files) as ScriptName[]) {
      const text = variant.rewrite(lua[name]);
      scripts[name] = {
        lua: text,
        sha: createHash('sha1').update(text).digest('hex'),
        // The loader's naming rule (lua.ts): `<verb>-<number of KEYS>.lua`.
        numberOfKeys: Number(/-(\d+)\.lua$/.exec(files[name])?.[1]),
      };
    }
    compiled.set(variant, scripts);
  }
  return scripts;
}
