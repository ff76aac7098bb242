/**
 * A hash of the library's sources (src/ and scripts/). Clients are forked, and
 * replacements forked later, from whatever is on disk at that moment: if the library
 * is edited during a run, its processes mix versions and its figures mean nothing.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export async function fingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...(await files('src')), ...(await files('scripts'))]) {
    hash.update(file);
    hash.update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 12);
}
