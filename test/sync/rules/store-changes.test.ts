// The last-accepted store's writes, pure (src/sync/last-accepted/changes.ts): a store that lost this
// Pod's verdicts gets them back; content the store cannot hold leaves a mark, never an older content.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { apply, holdsRefusal, refill, unkept, type OwnVerdicts } from '../../../src/sync/last-accepted/changes.js';
import type { LastAcceptedRecord } from '../../../src/sync/last-accepted/record.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const mark = (content: string, at: string, pod = 'ns/p1') => ({ sha256: sha(content), version: `v-${content}`, at, pod });
const own = (entries: Record<string, OwnVerdicts>): Map<string, OwnVerdicts> => new Map(Object.entries(entries));
const mine = own({ 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:00:00Z'), content: 'v1' } } });

for (const { store, data, expected } of [
  { store: undefined, data: {}, expected: ['accepted:lds.yaml'], why: 'no record (re-created empty)' },
  { store: { configMap: 'c', files: {} }, data: {}, expected: ['accepted:lds.yaml'] },
  { store: { configMap: 'c', files: { 'lds.yaml': { accepted: mark('v1', 't') } } }, data: {}, expected: ['accepted:lds.yaml'] },
  { store: { configMap: 'c', files: { 'lds.yaml': { accepted: mark('v1', 't') } } }, data: { 'lds.yaml': 'edited' }, expected: ['accepted:lds.yaml'] },
  { store: { configMap: 'c', files: { 'lds.yaml': { accepted: mark('v1', 't') } } }, data: { 'lds.yaml': 'v1' }, expected: [] },
  { store: { configMap: 'c', files: { 'lds.yaml': { accepted: mark('v2', 't', 'ns/p2') } } }, data: { 'lds.yaml': 'v2' }, expected: [] },
  { store: { configMap: 'c', files: { 'lds.yaml': { accepted: { ...mark('v2', 't'), unkept: 'Too long' } } } }, data: {}, expected: [] },
] as { store: LastAcceptedRecord | undefined; data: Record<string, string>; expected: string[] }[]) {
  test(`refill: store ${JSON.stringify(store?.files ?? null)} data ${JSON.stringify(Object.keys(data))} -> ${JSON.stringify(expected)}`, () => {
    const changes = refill(store, data, mine, sha);
    assert.deepEqual(changes.map((c) => `${'accepted' in c ? 'accepted' : 'refused'}:${c.file}`), expected);
  });
}

test('refill: a refusal after the acceptance is put back when the store has none; an older one is not', () => {
  const later = own({ 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:00:00Z'), content: 'v1' }, refused: mark('bad', '2026-12-02T16:05:00Z') } });
  assert.deepEqual(refill(undefined, {}, later, sha).map((c) => Object.keys(c).sort().join()), ['accepted,content,file', 'file,refused']);
  const earlier = own({ 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:10:00Z'), content: 'v1' }, refused: mark('bad', '2026-12-02T16:05:00Z') } });
  assert.deepEqual(refill(undefined, {}, earlier, sha).map((c) => 'refused' in c), [false]);
});

test('unkept: the accepted mark stays (with why), its content and the older content go; apply says what changed', () => {
  const record: LastAcceptedRecord = { configMap: 'c', files: { 'lds.yaml': { accepted: mark('v1', 't1') } } };
  const body = { data: { 'lds.yaml': 'v1', other: 'x' } };
  const [change] = unkept([{ file: 'lds.yaml', accepted: mark('v2', 't2'), content: 'v2'.repeat(10) }], 'Too long: must have at most 1048576 bytes');
  assert.ok(change !== undefined && 'accepted' in change);
  assert.equal(change.content, undefined);
  assert.equal(apply(record, body, change), true);
  assert.deepEqual(body.data, { other: 'x' });
  assert.equal(record.files['lds.yaml']?.accepted?.sha256, sha('v2'));
  assert.equal(record.files['lds.yaml'].accepted.unkept, 'Too long: must have at most 1048576 bytes');
  assert.equal(apply(record, body, change), false, 'idempotent');
  assert.deepEqual(unkept([{ file: 'a', refused: mark('r', 't') }], 'why'), [{ file: 'a', refused: mark('r', 't') }], 'refusals are kept as they are');
});

for (const { verdicts, holds, why } of [
  { verdicts: {}, holds: false, why: 'nothing judged yet' },
  { verdicts: { 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:00:00Z'), content: 'v1' } } }, holds: false, why: 'every last verdict an acceptance' },
  { verdicts: { 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:00:00Z'), content: 'v1' }, refused: mark('bad', '2026-12-02T16:05:00Z') } }, holds: true, why: 'a refusal after the acceptance' },
  { verdicts: { 'lds.yaml': { accepted: { mark: mark('v2', '2026-12-02T16:10:00Z'), content: 'v2' }, refused: mark('bad', '2026-12-02T16:05:00Z') } }, holds: false, why: 'an acceptance after the refusal (the edit fixed)' },
  { verdicts: { 'lds.yaml': { refused: mark('bad', '2026-12-02T16:05:00Z') } }, holds: true, why: 'a refused first version' },
  { verdicts: { 'cds.yaml': { accepted: { mark: mark('c1', '2026-12-02T16:00:00Z'), content: 'c1' } }, 'lds.yaml': { accepted: { mark: mark('v1', '2026-12-02T16:00:00Z'), content: 'v1' }, refused: mark('bad', '2026-12-02T16:05:00Z') } }, holds: true, why: 'one file of two refused' },
] as { verdicts: Record<string, OwnVerdicts>; holds: boolean; why: string }[]) {
  test(`holdsRefusal: ${why} -> ${String(holds)}`, () => {
    assert.equal(holdsRefusal(own(verdicts)), holds);
  });
}
