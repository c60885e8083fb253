import { strict as assert } from 'node:assert';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceMissingError, readSnapshot } from '../../src/sync/volume/snapshot.js';
import { AtomicWriter, makeTempDirs, versionOf, xdsFile } from './harness.js';

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
    const writer = new AtomicWriter(source);
    const payload = (version: number) => ({
      'a.yaml': xdsFile('cds', version, 20_000),
      'b.yaml': xdsFile('lds', version, 5_000),
      'c.txt': `# version: ${version}\n`,
    });
    await writer.write(payload(0));
    const progress = { writing: true, written: 0 };
    const swaps = (async () => {
      for (let version = 1; version <= 400; version++) {
        await writer.write(payload(version));
        progress.written = version;
      }
      progress.writing = false;
    })();
    let reads = 0;
    let newest = 0;
    while (progress.writing || reads === 0) {
      const snapshot = await readSnapshot(source);
      const versions = [...snapshot.files.values()].map(versionOf);
      assert.equal(versions.length, 3, `snapshot ${snapshot.dataDir} lost a key`);
      assert.ok(versions.every((v) => v === versions[0]), `mixed versions ${versions.join(',')}`);
      const version = versions[0] ?? -1;
      assert.equal(snapshot.files.get('a.yaml')?.toString(), xdsFile('cds', version, 20_000), 'torn a.yaml');
      assert.ok(version >= newest, `went back from ${newest} to ${version}`);
      newest = version;
      reads++;
    }
    await swaps;
    assert.equal(progress.written, 400);
    assert.ok(reads > 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
