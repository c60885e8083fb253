import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceMissingError, readSnapshot } from '../../src/sync/volume/snapshot.js';
import { AtomicWriter, makeTempDirs, versionOf, xdsFile } from './harness.js';
import { swapPayload } from './kubelet-swaps.js';

test('reads through ..data, ignores .. entries and the key symlinks', async () => {
  const { root, source } = await makeTempDirs();
  try {
    const writer = new AtomicWriter(source);
    await writer.write({ 'cds.yaml': xdsFile('cds', 1, 100), 'lds.yaml': xdsFile('lds', 1, 100) });
    const snapshot = await readSnapshot(source);
    assert.match(snapshot.dataDir ?? '', /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\./);
    assert.deepEqual([...snapshot.files.keys()], ['cds.yaml', 'lds.yaml']);
    assert.equal(versionOf(snapshot.files.get('cds.yaml')), 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a plain directory (no ..data) is read as is; subdirectories are reported, not read', async () => {
  const { root, source } = await makeTempDirs();
  try {
    await writeFile(join(source, 'a.yaml'), 'a: 1\n');
    await symlink('a.yaml', join(source, 'b.yaml'));
    await mkdir(join(source, 'sub'));
    await writeFile(join(source, '..hidden'), 'x');
    const snapshot = await readSnapshot(source);
    assert.equal(snapshot.dataDir, undefined);
    assert.deepEqual([...snapshot.files.keys()], ['a.yaml', 'b.yaml']);
    assert.deepEqual(snapshot.skipped, ['sub']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a missing source directory is a SourceMissingError naming the mount', async () => {
  await assert.rejects(readSnapshot('/nonexistent/envoy-xds-source'), (err: unknown) => {
    assert.ok(err instanceof SourceMissingError);
    assert.match(err.message, /\/nonexistent\/envoy-xds-source/);
    return true;
  });
});

test('every snapshot is one whole version while kubelet swaps versions underneath', async () => {
  const { root, source } = await makeTempDirs();
  try {
    await new AtomicWriter(source).write(swapPayload(0));
    // kubelet in another process, as on a node: it swaps while a (synchronous) read is under way.
    const kubelet = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'kubelet-swaps.ts'), source, '400'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => kubelet.once('exit', resolve));
    const kubeletState = { writing: true };
    void exited.then(() => (kubeletState.writing = false));
    let reads = 0;
    let newest = 0;
    while (kubeletState.writing || reads === 0) {
      const snapshot = await readSnapshot(source);
      const versions = [...snapshot.files.values()].map(versionOf);
      assert.equal(versions.length, 3, `snapshot ${snapshot.dataDir} lost a key`);
      assert.ok(versions.every((v) => v === versions[0]), `mixed versions ${versions.join(',')}`);
      const version = versions[0] ?? -1;
      assert.equal(snapshot.files.get('a.yaml')?.toString(), swapPayload(version)['a.yaml'], 'torn a.yaml');
      assert.ok(version >= newest, `went back from ${newest} to ${version}`);
      newest = version;
      reads++;
      await new Promise((resolve) => setImmediate(resolve)); // let the exit event in
    }
    assert.equal(await exited, 0);
    assert.equal(versionOf((await readSnapshot(source)).files.get('a.yaml')), 400);
    assert.ok(reads > 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
