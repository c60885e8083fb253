// The files refused-retry.ts renames again, read by name (src/sync/publish/target.ts
// configFilesNamed) instead of the whole target directory (configFilesIn, then filtered): the same
// files, contents, inodes and mtimes, for names that are there, missing, reserved, not
// configuration files or not regular files. A real directory.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configFilesIn, configFilesNamed } from '../../src/sync/publish/target.js';

test('configFilesNamed: what configFilesIn finds of those names, reading only them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'target-files-named-'));
  try {
    for (const name of ['lds.yaml', 'cds.yaml', 'eds.json', 'rds.yml', 'body.txt', '..state.yaml']) await writeFile(join(dir, name), `resources: [] # ${name}\n`);
    await mkdir(join(dir, 'sub.yaml'));
    await writeFile(join(dir, 'sub.yaml', 'lds.yaml'), 'nested\n');
    const cases: [string, string[]][] = [
      ['one file', ['lds.yaml']],
      ['several, unsorted, one twice', ['rds.yml', 'cds.yaml', 'lds.yaml', 'cds.yaml']],
      ['missing', ['gone.yaml']],
      ['not a configuration file', ['body.txt']],
      ['reserved (our `..` entries)', ['..state.yaml']],
      ['a directory', ['sub.yaml']],
      ['a path, not a name', ['sub.yaml/lds.yaml']],
      ['none', []],
    ];
    const all = await configFilesIn(dir);
    for (const [name, names] of cases) assert.deepEqual(await configFilesNamed(dir, names), all.filter((found) => names.includes(found.name)), name);
    assert.deepEqual(await configFilesNamed(join(dir, 'absent'), ['lds.yaml']), [], 'no directory');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
