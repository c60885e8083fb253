// The ConfigMap as Envoy can see it (src/sync/publish/gate-memo.ts): a key the gate refused counts
// with the last content the gate let through.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { GateMemo } from '../../../src/sync/publish/gate-memo.js';

const GOOD = Buffer.from('resources: []\n');
const BAD = Buffer.from('resources:\n- name: [oops\n');

test('asPublished: refused content reads as the last content let through; never let through, or not judged, as is', async () => {
  const gate = new GateMemo('envoy.yaml');
  assert.equal((await gate.validate('cds.yaml', GOOD, 'g1')).ok, true);
  assert.equal((await gate.validate('cds.yaml', BAD, 'b1')).ok, false);
  assert.equal((await gate.validate('lds.yaml', BAD, 'b2')).ok, false);
  const cases: [string, Map<string, string>, Map<string, string>][] = [
    ['cds.yaml refused now: its last good content', new Map([['cds.yaml', 'b1']]), new Map([['cds.yaml', 'g1']])],
    ['cds.yaml good now', new Map([['cds.yaml', 'g1']]), new Map([['cds.yaml', 'g1']])],
    ['lds.yaml never let through: as is', new Map([['lds.yaml', 'b2']]), new Map([['lds.yaml', 'b2']])],
    ['content not judged yet: as is', new Map([['cds.yaml', 'x9'], ['rds.yaml', 'r']]), new Map([['cds.yaml', 'x9'], ['rds.yaml', 'r']])],
  ];
  for (const [name, configMap, want] of cases) assert.deepEqual(gate.asPublished(configMap), want, name);
  // Judged once per content: the same digest is not parsed again (a different buffer under it is not read).
  assert.equal((await gate.validate('cds.yaml', GOOD, 'b1')).ok, false);
});
