/**
 * The product as its image runs it, for the benches: tsc output (not tsx), laid out like the image (package.json
 * beside dist/), so a bench measures the compiled watcher rather than the TypeScript loader.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/sync/harness.js';

/**
 * Builds src/ with tsconfig.build.json into `.bench/<dir>/dist` and copies package.json beside it.
 * `dir` is per bench where two benches may build at once (default `app`).
 * Returns the absolute path of the CLI entry point (`.bench/<dir>/dist/cli/main.js`).
 * Throws tsc's error only when the entry point was not emitted: type errors elsewhere in src/ do not stop tsc
 * from emitting.
 */
export function buildApp(dir = 'app'): string {
  const app = join(repoRoot, '.bench', dir);
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { stdio: 'pipe' });
  } catch (err) {
    if (!existsSync(join(app, 'dist/cli/main.js'))) throw err;
  }
  execFileSync('cp', [join(repoRoot, 'package.json'), join(app, 'package.json')]);
  return join(app, 'dist/cli/main.js');
}

/**
 * Builds src/ as it is at git revision `ref` (a commit, branch or tag of this repository) into
 * `.bench/at-<ref>/dist`, for a before/after comparison in one run. Its imports resolve from this
 * checkout's node_modules (node looks in the parent directories). `withSchema`: the revision's
 * schema/ (Envoy's descriptors, read at run time from beside dist/) too. Returns the CLI entry point.
 */
export function buildAppAt(ref: string, withSchema = false): string {
  const dir = `at-${ref.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const tree = join(repoRoot, '.bench', dir, 'tree');
  execFileSync('rm', ['-rf', tree]);
  execFileSync('mkdir', ['-p', tree]);
  execFileSync('sh', ['-c', 'git -C "$1" archive "$2" src tsconfig.json tsconfig.build.json package.json | tar -x -C "$3"', 'sh', repoRoot, ref, tree]);
  const app = join(repoRoot, '.bench', dir);
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(tree, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { stdio: 'pipe' });
  } catch (err) {
    if (!existsSync(join(app, 'dist/cli/main.js'))) throw err;
  }
  execFileSync('cp', [join(tree, 'package.json'), join(app, 'package.json')]);
  if (withSchema) {
    execFileSync('rm', ['-rf', join(app, 'schema')]);
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" schema | tar -x -C "$3"', 'sh', repoRoot, ref, app]);
  }
  return join(app, 'dist/cli/main.js');
}
