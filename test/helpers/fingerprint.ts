/**
 * A hash of the library's source (src/ and scripts/). The bench and the chaos run fork
 * client processes, which load the library when they start: an edit during a run would
 * mix two versions in one set of results, so a run compares the hash at its start and
 * end and says so. Free of AVA, so bench/ can use it too.
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
  for (const dir of ['../../src/', '../../scripts/']) {
    for (const file of files(new URL(dir, import.meta.url))) {
      hash.update(file.pathname);
      hash.update(readFileSync(file));
    }
  }
  return hash.digest('hex').slice(0, 12);
}
