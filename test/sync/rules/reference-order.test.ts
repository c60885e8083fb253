import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { fileReferences, publishOrder, referenceOrder } from '../../../src/sync/publish/reference-order.js';
import type { Reference } from '../../../src/sync/envoy/references.js';
import { BOOTSTRAP } from '../harness.js';

const names = (files: { name: string }[]) => files.map((f) => f.name);

test('a file named by another file of the change is renamed first, whatever its rank', () => {
  // The shared case 01: lds.yaml (rank 5) names the new rds.yaml (rank 6).
  assert.deepEqual(names(referenceOrder([
    { name: 'lds.yaml', rank: 5, names: ['rds.yaml'] },
    { name: 'rds.yaml', rank: 6, names: [] },
  ])), ['rds.yaml', 'lds.yaml']);
  // cds.yaml names eds.yaml; lds.yaml routes to the new cluster: eds, cds, lds.
  assert.deepEqual(names(referenceOrder([
    { name: 'lds.yaml', rank: 5, names: [] },
    { name: 'cds.yaml', rank: 3, names: ['eds.yaml'] },
    { name: 'eds.yaml', rank: 4, names: [] },
  ])), ['eds.yaml', 'cds.yaml', 'lds.yaml']);
  // A secret's certificate files before the SDS file that names them; the ECDS file before the listener.
  assert.deepEqual(names(referenceOrder([
    { name: 'lds.yaml', rank: 5, names: ['ecds.yaml'] },
    { name: 'sds.yaml', rank: 2, names: ['cert.pem', 'key.pem'] },
    { name: 'ecds.yaml', rank: 2, names: [] },
    { name: 'key.pem', rank: 0, names: [] },
    { name: 'cert.pem', rank: 0, names: [] },
  ])), ['cert.pem', 'key.pem', 'ecds.yaml', 'sds.yaml', 'lds.yaml']);
});

test('without links, rank then name; names outside the change and cycles do not stall the order', () => {
  assert.deepEqual(names(referenceOrder([
    { name: 'b.yaml', rank: 5, names: ['gone.yaml'] },
    { name: 'a.yaml', rank: 5, names: [] },
    { name: 'c.yaml', rank: 3, names: [] },
  ])), ['c.yaml', 'a.yaml', 'b.yaml']);
  assert.deepEqual(names(referenceOrder([
    { name: 'x.yaml', rank: 6, names: ['y.yaml'] },
    { name: 'y.yaml', rank: 5, names: ['x.yaml'] },
    { name: 'z.yaml', rank: 1, names: ['z.yaml'] },
  ])), ['z.yaml', 'y.yaml', 'x.yaml']);
  assert.deepEqual(referenceOrder([]), []);
});

test('publishOrder: a file with no resources of a known type is ranked as the subscription naming it reads it', () => {
  const bootstrap: Reference[] = [
    { type: 'CDS', file: 'cds.yaml', path: '/etc/envoy/cds.yaml' },
    { type: 'LDS', file: 'lds.yaml', path: '/etc/envoy/lds.yaml' },
  ];
  const listeners = { type: 'xds' as const, resourceTypes: ['type.googleapis.com/envoy.config.listener.v3.Listener'] };
  const noClusters = { type: 'xds' as const, resourceTypes: [] };
  const change = [{ name: 'lds.yaml', kind: listeners }, { name: 'cds.yaml', kind: noClusters }];
  // The bootstrap (unchanged, not among the changes) names cds.yaml as CDS: clusters before listeners.
  assert.deepEqual(names(publishOrder(change, new Map([['envoy.yaml', bootstrap]]))), ['cds.yaml', 'lds.yaml']);
  // Nothing names it: an xDS file of unknown type, after the listeners (as before).
  assert.deepEqual(names(publishOrder(change, new Map())), ['lds.yaml', 'cds.yaml']);
  // An RDS file with no routes named by the changed lds.yaml: still before it (it is named by it).
  const rds = [{ name: 'lds.yaml', kind: listeners }, { name: 'rds.yaml', kind: noClusters }];
  assert.deepEqual(names(publishOrder(rds, new Map([['lds.yaml', [{ type: 'RDS' as const, file: 'rds.yaml', path: '/etc/envoy/rds.yaml' }]]]))), ['rds.yaml', 'lds.yaml']);
});

test('fileReferences: the files a bootstrap names, by type', () => {
  assert.deepEqual(fileReferences(Buffer.from(BOOTSTRAP)).map((ref) => `${ref.type} ${ref.file}`), ['LDS lds.yaml', 'CDS cds.yaml']);
  assert.deepEqual(fileReferences(Buffer.from('resources: []\n')), []);
});
