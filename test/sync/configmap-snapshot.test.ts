import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { configMapSnapshot, contentDigest } from '../../src/sync/sources/configmap-snapshot.js';
import { readSnapshot } from '../../src/sync/volume/snapshot.js';
import { AtomicWriter, makeTempDirs } from './harness.js';

const binary = Buffer.from([0, 1, 2, 254, 255]);
const configMap = {
  metadata: { name: 'xds', namespace: 'ns', uid: 'u', resourceVersion: '42' },
  data: { 'lds.yaml': 'resources: []\n', 'cds.yaml': 'resources: []\n' },
  // The API's JSON carries binaryData base64-encoded; the kubelet writes the decoded bytes.
  binaryData: { 'cert.der': binary.toString('base64') },
};

test('a ConfigMap from the API gives the same files, and the same content digest, as the kubelet volume of it', async () => {
  const fromApi = configMapSnapshot(configMap);
  assert.deepEqual([...fromApi.files.keys()], ['cds.yaml', 'cert.der', 'lds.yaml']);
  assert.deepEqual(fromApi.files.get('cert.der'), binary);
  assert.deepEqual(fromApi.api, { resourceVersion: '42', uid: 'u' });

  const dirs = await makeTempDirs();
  try {
    await new AtomicWriter(dirs.source).write({ 'lds.yaml': 'resources: []\n', 'cds.yaml': 'resources: []\n', 'cert.der': binary });
    const fromVolume = await readSnapshot(dirs.source);
    assert.equal(contentDigest(fromVolume), contentDigest(fromApi));
    await new AtomicWriter(dirs.source).write({ 'lds.yaml': 'resources: [] # changed\n', 'cds.yaml': 'resources: []\n', 'cert.der': binary });
    assert.notEqual(contentDigest(await readSnapshot(dirs.source)), contentDigest(fromApi));
  } finally {
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test('the digest tells a renamed key from the same bytes under another name', () => {
  const a = configMapSnapshot({ metadata: { name: 'x' }, data: { 'a.yaml': 'x' } });
  const b = configMapSnapshot({ metadata: { name: 'x' }, data: { 'b.yaml': 'x' } });
  const ab = configMapSnapshot({ metadata: { name: 'x' }, data: { a: 'b\0c' } });
  const ab2 = configMapSnapshot({ metadata: { name: 'x' }, data: { 'a\0b': 'c' } });
  assert.notEqual(contentDigest(a), contentDigest(b));
  assert.notEqual(contentDigest(ab), contentDigest(ab2));
});
