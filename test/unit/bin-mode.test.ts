// package.json's bin points at dist/cli/main.js. npm makes a bin executable only when it links it
// (install, or npx's first run for a directory); npx then reuses its cached link, so a clone made
// again at the same path ran a non-executable file ("Permission denied"). The build sets the mode.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../e2e/cluster.js';

test('every bin of package.json is built executable, with a node shebang', async () => {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  for (const [name, path] of Object.entries(pkg.bin)) {
    const file = join(repoRoot, path);
    assert.equal((await stat(file)).mode & 0o111, 0o111, `${name}: ${path} is not executable (run npm run build)`);
    assert.match(await readFile(file, 'utf8'), /^#!\/usr\/bin\/env node\n/, `${name}: ${path}`);
  }
});
