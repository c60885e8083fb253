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
