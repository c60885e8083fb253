// The last-accepted store as `copy` hands it to the watcher (src/sync/last-accepted/handoff.ts),
// pure: only accepted content the store held intact counts as held; a handoff of another ConfigMap,
// too old, of another format or not a handoff at all is not used (and the last two are said loudly).
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { alreadyHeld, type Change } from '../../../src/sync/last-accepted/changes.js';
import { HANDOFF_FORMAT, HANDOFF_MAX_AGE_MS, formatHandoff, intactRecord, storeHandoff, useHandoff } from '../../../src/sync/last-accepted/handoff.js';
import type { LastAcceptedRecord, Mark } from '../../../src/sync/last-accepted/record.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const mark = (content: string, extra: Partial<Mark> = {}): Mark => ({ sha256: sha(content), version: `v-${content}`, at: '2026-12-05T21:00:00.000Z', pod: 'ns/p1', ...extra });
const refused = mark('bad');

for (const { why, files, data, kept } of [
  { why: 'content intact', files: { 'lds.yaml': { accepted: mark('v1') } }, data: { 'lds.yaml': 'v1' }, kept: true },
  { why: 'content missing', files: { 'lds.yaml': { accepted: mark('v1') } }, data: {}, kept: false },
  { why: 'content edited by hand', files: { 'lds.yaml': { accepted: mark('v1') } }, data: { 'lds.yaml': 'v1 edited' }, kept: false },
  { why: 'unkept, no content', files: { 'lds.yaml': { accepted: mark('v1', { unkept: 'Too long' }) } }, data: {}, kept: true },
  { why: 'unkept, yet content there', files: { 'lds.yaml': { accepted: mark('v1', { unkept: 'Too long' }) } }, data: { 'lds.yaml': 'v1' }, kept: false },
] as { why: string; files: LastAcceptedRecord['files']; data: Record<string, string>; kept: boolean }[]) {
  test(`intactRecord: accepted mark, ${why} -> ${kept ? 'kept' : 'dropped'}; a refusal mark always kept`, () => {
    const withRefusal = Object.fromEntries(Object.entries(files).map(([name, entry]) => [name, { ...entry, refused }]));
    const record = intactRecord({ record: { configMap: 'envoy-xds', files: withRefusal }, files: new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])) });
    assert.equal(record.configMap, 'envoy-xds');
    assert.equal(record.files['lds.yaml']?.accepted !== undefined, kept);
    assert.deepEqual(record.files['lds.yaml']?.refused, refused);
  });
}

const NOW = new Date('2026-12-05T22:00:00.000Z');
const handoff = (readAt: Date, configMap = 'envoy-xds'): string => formatHandoff(storeHandoff(
  { record: { configMap, files: { 'lds.yaml': { accepted: mark('v1') } } }, files: new Map([['lds.yaml', Buffer.from('v1')]]) },
  '/var/run/envoy-xds-injector/accepted',
  readAt,
));

test('useHandoff: a fresh handoff of this ConfigMap\'s store is used, with its record and age', () => {
  const found = useHandoff(handoff(new Date(NOW.getTime() - 4_000)), 'envoy-xds', NOW);
  assert.ok(found.use);
  assert.equal(found.ageMs, 4_000);
  assert.equal(found.readAt, '2026-12-05T21:59:56.000Z');
  assert.deepEqual(found.record, { configMap: 'envoy-xds', files: { 'lds.yaml': { accepted: mark('v1') } } });
});

for (const { why, text, corrupt } of [
  { why: 'another ConfigMap\'s store', text: handoff(NOW, 'other'), corrupt: false },
  { why: 'read too long ago (a watcher started long after copy)', text: handoff(new Date(NOW.getTime() - HANDOFF_MAX_AGE_MS - 1)), corrupt: false },
  { why: 'read in the future (another clock)', text: handoff(new Date(NOW.getTime() + 120_000)), corrupt: false },
  { why: 'a newer format', text: handoff(NOW).replace(`"format":${String(HANDOFF_FORMAT)}`, '"format":2'), corrupt: false },
  { why: 'cut short', text: handoff(NOW).slice(0, 40), corrupt: true },
  { why: 'empty', text: '', corrupt: true },
  { why: 'a JSON array', text: '[]', corrupt: true },
  { why: 'no format', text: '{"readAt":"2026-12-05T22:00:00.000Z"}', corrupt: true },
  { why: 'no readAt', text: handoff(NOW).replace(/"readAt":"[^"]+",/, ''), corrupt: true },
  { why: 'a record of another shape', text: handoff(NOW).replace(/"sha256":"[0-9a-f]+"/, '"sha256":"abc"'), corrupt: true },
]) {
  test(`useHandoff: ${why} -> not used${corrupt ? ', said as corrupt' : ''}`, () => {
    const found = useHandoff(text, 'envoy-xds', NOW);
    assert.equal(found.use, false);
    assert.ok(!found.use);
    assert.equal(found.corrupt, corrupt, found.why);
    assert.ok(found.why.length > 0);
  });
}

const held: LastAcceptedRecord = { configMap: 'envoy-xds', files: { 'lds.yaml': { accepted: mark('v1'), refused } } };
for (const { why, known, changes, expected } of [
  { why: 'no record known (no handoff, nothing read yet)', known: undefined, changes: [{ file: 'lds.yaml', accepted: mark('v1', { pod: 'ns/p2' }), content: 'v1' }], expected: false },
  { why: 'the same content accepted (by another Pod)', known: held, changes: [{ file: 'lds.yaml', accepted: mark('v1', { pod: 'ns/p2', at: '2026-12-05T22:00:00.000Z' }), content: 'v1' }], expected: true },
  { why: 'the same content refused', known: held, changes: [{ file: 'lds.yaml', refused: mark('bad', { pod: 'ns/p2' }) }], expected: true },
  { why: 'another content accepted', known: held, changes: [{ file: 'lds.yaml', accepted: mark('v2'), content: 'v2' }], expected: false },
  { why: 'a file the record lacks', known: held, changes: [{ file: 'cds.yaml', accepted: mark('c1'), content: 'c1' }], expected: false },
  { why: 'one held, one not', known: held, changes: [{ file: 'lds.yaml', refused }, { file: 'lds.yaml', accepted: mark('v2'), content: 'v2' }], expected: false },
] as { why: string; known: LastAcceptedRecord | undefined; changes: Change[]; expected: boolean }[]) {
  test(`alreadyHeld: ${why} -> ${expected ? 'nothing sent' : 'written'}`, () => {
    const before = JSON.stringify(known);
    assert.equal(alreadyHeld(known, changes), expected);
    assert.equal(JSON.stringify(known), before, 'the known record is not changed by asking');
  });
}
