// src/sync's layout, checked without ESLint (which checks the same direction on every file it lints,
// eslint.config.js): every file lives in a room, imports run one way (src/sync/rooms.json), no
// import circle, no file past about 300 lines. Reads the source text only: runs in milliseconds.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './harness.js';

const SYNC = join(repoRoot, 'src', 'sync');
const rooms = JSON.parse(readFileSync(join(SYNC, 'rooms.json'), 'utf8')) as Record<string, string[]>;
// Static imports, `import type`, re-exports and dynamic import() of a relative path.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
// "about 300" (CONTRIBUTING.md).
const MAX_LINES = 300;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** `src/sync/<room>/...` → room; undefined outside src/sync. */
function roomOf(path: string): string | undefined {
  const rel = relative(SYNC, path);
  return rel.startsWith('..') ? undefined : rel.split('/')[0];
}

function importsOf(path: string, text = readFileSync(path, 'utf8')): string[] {
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(path), (m[1] ?? '').replace(/\.js$/, '.ts')));
}

const sources = files(SYNC);
const graph = new Map(sources.map((path) => [path, importsOf(path)]));

test('every src/sync file lives in a room of rooms.json', () => {
  const loose = sources.filter((path) => !(dirname(path) !== SYNC && (roomOf(path) ?? '') in rooms)).map((path) => relative(SYNC, path));
  assert.deepEqual(loose, []);
});

/** Imports against rooms.json (or into the CLI or server), as `from → to`. */
function wrongImports(imports: Map<string, string[]>): string[] {
  const against: string[] = [];
  for (const [path, targets] of imports) {
    const from = roomOf(path) ?? '';
    for (const target of targets) {
      const to = roomOf(target);
      if (to === undefined) {
        if (/\/src\/(cli|server)\//.test(target)) against.push(`${relative(SYNC, path)} → ${relative(repoRoot, target)}`);
        continue;
      }
      if (to !== from && !(rooms[from] ?? []).includes(to)) against.push(`${relative(SYNC, path)} → ${relative(SYNC, target)}`);
    }
  }
  return against;
}

/** Every import circle found by a depth-first walk, as `a → b → a`. */
function circlesIn(imports: Map<string, string[]>): string[] {
  const done = new Set<string>();
  const circles: string[] = [];
  const visit = (path: string, stack: string[]): void => {
    const at = stack.indexOf(path);
    if (at !== -1) {
      circles.push([...stack.slice(at), path].map((p) => relative(SYNC, p)).join(' → '));
      return;
    }
    if (done.has(path)) return;
    for (const next of imports.get(path) ?? []) if (imports.has(next)) visit(next, [...stack, path]);
    done.add(path);
  };
  for (const path of imports.keys()) visit(path, []);
  return circles;
}

test('imports run one way: each room imports only the rooms rooms.json allows it', () => {
  assert.deepEqual(wrongImports(graph), []);
});

test('rooms.json itself has no circle (so the direction is one way)', () => {
  const seen = new Set<string>();
  const visit = (room: string, path: string[]): void => {
    assert.ok(!path.includes(room), `rooms.json circle: ${[...path, room].join(' → ')}`);
    if (seen.has(room)) return;
    for (const next of rooms[room] ?? []) visit(next, [...path, room]);
    seen.add(room);
  };
  for (const room of Object.keys(rooms)) visit(room, []);
});

test('no import circle among src/sync files (type imports included)', () => {
  assert.deepEqual(circlesIn(graph), []);
});

test(`no src/sync file is past about 300 lines (${String(MAX_LINES)})`, () => {
  const long = sources.map((path) => ({ file: relative(SYNC, path), lines: readFileSync(path, 'utf8').split('\n').length - 1 })).filter((f) => f.lines > MAX_LINES);
  assert.deepEqual(long, []);
});

test('the checks see a wrong import and a circle (they can fail)', () => {
  const at = (path: string): string => join(SYNC, path);
  const probe = at('envoy/probe.ts');
  const imports = new Map([[probe, importsOf(probe, "import { Syncer } from '../publish/syncer.js';\nimport type { Verdict } from '../verdict/verdict.js';")]]);
  assert.deepEqual(wrongImports(imports), ['envoy/probe.ts → publish/syncer.ts', 'envoy/probe.ts → verdict/verdict.ts']);
  const circle = new Map([[at('verdict/a.ts'), [at('verdict/b.ts')]], [at('verdict/b.ts'), [at('verdict/a.ts')]]]);
  assert.deepEqual(circlesIn(circle), ['verdict/a.ts → verdict/b.ts → verdict/a.ts']);
});

test('a source: volume watcher loads no API code: src/cli/watch.ts reaches kube/, the API source, the store writer and the reporters only through import()', () => {
  // Static value imports (not `import type`, erased by tsc; not import(), loaded only for --source api).
  const VALUE_IMPORT = /^import\s+(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]/gm;
  const loaded = new Set<string>();
  const packages = new Set<string>();
  const visit = (path: string): void => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const m of readFileSync(path, 'utf8').matchAll(VALUE_IMPORT)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('.')) visit(resolve(dirname(path), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(join(repoRoot, 'src', 'cli', 'watch.ts'));
  const api = [...loaded].map((path) => relative(SYNC, path)).filter((path) => /^(kube\/(?!rbac-hint)|sources\/api-source|last-accepted\/writer|watch\/reporters)/.test(path));
  assert.deepEqual(api, []);
  assert.deepEqual([...packages].filter((name) => name.startsWith('@kubernetes/')), []);
  assert.ok(loaded.has(join(SYNC, 'watch', 'run-watch.ts')), 'the walk follows the volume watcher');
});
