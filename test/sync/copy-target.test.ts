// `copy --to` a directory that is not empty: what it keeps and what it refuses.
import { strict as assert } from 'node:assert';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDirs, runCli, xdsFile } from './harness.js';

test('files the ConfigMap lacks are kept as keys published before a restart, each with a warning', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await writeFile(join(source, 'cds.yaml'), xdsFile('cds', 2, 100));
    await writeFile(join(target, 'rds.yaml'), 'resources: []\n'); // a key the ConfigMap has since lost
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual((await readdir(target)).sort(), ['cds.yaml', 'rds.yaml']);
    assert.ok(result.logs.some((line) => line.level === 40 && (line.msg ?? '').startsWith('rds.yaml is no longer in the ConfigMap: keeping the last published copy')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a directory in --to (copy and watch write only regular files): refused, nothing copied, exit 1', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await writeFile(join(source, 'cds.yaml'), xdsFile('cds', 1, 100));
    await mkdir(join(target, 'backup'));
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 1);
    assert.deepEqual(await readdir(target), ['backup']);
    const error = result.logs.find((line) => line.level === 50);
    assert.equal(error?.msg, `--to ${target} holds backup/, which copy and watch never write (not regular files): --to must be a directory only they use, the Pod's emptyDir; nothing copied`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
