/**
 * Imports flow one way: no module of src/ imports one that, through others, imports it
 * back (type-only and dynamic imports count too). A cycle is how ownership blurs: the
 * test names the first one it finds, file by file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** The files of `files` that `file` imports, in any form. */
function importsOf(file: string, files: ReadonlySet<string>): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')))
    .filter((target) => files.has(target));
}

/** A cycle in the graph, as the list of files around it, or undefined. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file];
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

function graphOf(dir: string): Map<string, string[]> {
  const files = new Set(sources(dir));
  return new Map([...files].map((file) => [file, importsOf(file, files)]));
}

for (const dir of ['src', 'test/helpers', 'bench']) {
  test(`no module of ${dir}/ imports one that imports it back`, (t) => {
    const graph = graphOf(join(root, dir));
    t.true(graph.size > 3, `found the modules of ${dir}/`);
    const cycle = findCycle(graph);
    t.is(cycle?.map((f) => relative(root, f)).join(' → '), undefined);
  });
}

test('the cycle finder finds a cycle through a type-only import', (t) => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
  ]);
  t.deepEqual(findCycle(graph), ['a', 'b', 'c', 'a']);
  const info = ts.preProcessFile("import type { X } from './x.js'; const y = await import('./y.js');", true, true);
  t.deepEqual(
    info.importedFiles.map((f) => f.fileName),
    ['./x.js', './y.js'],
  );
});
