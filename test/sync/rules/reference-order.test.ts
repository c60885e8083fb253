import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { referenceOrder } from '../../../src/sync/publish/reference-order.js';

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
