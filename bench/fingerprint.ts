/**
 * A hash of the library's source (src/ and scripts/). Client processes load the
 * scripts when they start, so an edit during a run would mix two versions in one
 * set of figures: the run compares the hash at its start and end and says so.
 */
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
