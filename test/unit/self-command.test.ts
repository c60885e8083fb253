// The command line hints print to run this program again (src/cli/self-command.ts): the bare name
// only where PATH's `envoy-xds-injector` is this program, else `node /abs/main.js`, which runs from
// any directory; never `envoy-xds-injector` where no such program is on PATH.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readWrapperTarget, selfCommand, shellWord } from '../../src/cli/self-command.js';

let root = '';
let main = '';
before(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'self-command-')));
  main = join(root, 'app', 'dist', 'cli', 'main.js');
  await mkdir(join(root, 'app', 'dist', 'cli'), { recursive: true });
  await mkdir(join(root, 'app', 'src', 'cli'), { recursive: true });
  await writeFile(main, '');
  await writeFile(join(root, 'app', 'src', 'cli', 'main.ts'), '');
  await mkdir(join(root, 'linked'));
  await symlink(main, join(root, 'linked', 'envoy-xds-injector')); // npm link
  await mkdir(join(root, 'image'));
  await writeFile(join(root, 'image', 'envoy-xds-injector'), `#!/bin/sh\nexec node ${main} "$@"\n`); // the Dockerfile's wrapper
  await chmod(join(root, 'image', 'envoy-xds-injector'), 0o755);
  await mkdir(join(root, 'other'));
  await writeFile(join(root, 'other', 'envoy-xds-injector'), '#!/bin/sh\necho another\n');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('self command: nothing on PATH is this program: node and its absolute path', () => {
  assert.equal(selfCommand({ PATH: '/usr/bin:/bin' }, main), `node ${main}`);
  assert.equal(selfCommand({}, main), `node ${main}`);
});

test('self command: npm link (a symlink on PATH) and the image\'s wrapper are this program: the bare name', () => {
  assert.equal(selfCommand({ PATH: `/nonexistent:${join(root, 'linked')}` }, main), 'envoy-xds-injector');
  assert.equal(selfCommand({ PATH: join(root, 'image') }, main), 'envoy-xds-injector');
  assert.equal(readWrapperTarget(join(root, 'image', 'envoy-xds-injector')), main);
});

test('self command: under npx (npm_command=exec) PATH is npm\'s, where npx linked the clone: node and the path, which the user\'s shell runs', () => {
  assert.equal(selfCommand({ PATH: join(root, 'linked'), npm_command: 'exec' }, main), `node ${main}`);
});

test('self command: PATH\'s first envoy-xds-injector is another program: ours by its path', () => {
  assert.equal(selfCommand({ PATH: `${join(root, 'other')}:${join(root, 'linked')}` }, main), `node ${main}`);
});

test('self command: run from src/cli/main.ts by tsx: the same clone\'s dist/cli/main.js', () => {
  assert.equal(selfCommand({ PATH: '' }, join(root, 'app', 'src', 'cli', 'main.ts')), `node ${main}`);
});

test('self command: a path with a space is quoted for the shell', () => {
  assert.equal(shellWord('/a b/main.js'), "'/a b/main.js'");
  assert.equal(shellWord("/it's"), "'/it'\\''s'");
  assert.equal(shellWord('/usr/lib/node_modules/x/main.js'), '/usr/lib/node_modules/x/main.js');
});
