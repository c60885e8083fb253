// The --store-check rule (src/sync/last-accepted/store-check.ts): the store's metadata decides
// whether it is read whole. Only the same uid, the same resourceVersion and the same verdicts of
// this Pod as when a full read found the store complete skip the full read.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { metadataOf, ownKey, storeCheckStep, type CompleteStore } from '../../../src/sync/last-accepted/store-check.js';
import type { OwnVerdicts } from '../../../src/sync/last-accepted/changes.js';

const own = (entries: Record<string, OwnVerdicts>): Map<string, OwnVerdicts> => new Map(Object.entries(entries));
const mark = (sha: string, extra: object = {}) => ({ sha256: sha.repeat(64), at: 't', ...extra });
const v1 = ownKey(own({ 'lds.yaml': { accepted: { mark: mark('a'), content: 'x' } } }));
const complete: CompleteStore = { uid: 'u1', resourceVersion: '7', own: v1 };

for (const [status, metadata, seen, key, expected, why] of [
  [200, { uid: 'u1', resourceVersion: '7' }, complete, v1, 'unchanged', 'the store found complete, nothing judged since'],
  [200, { uid: 'u1', resourceVersion: '8' }, complete, v1, 'read', 'written since (by any Pod)'],
  [200, { uid: 'u2', resourceVersion: '7' }, complete, v1, 'read', 're-created (new uid), even with a resourceVersion seen before'],
  [200, { uid: 'u1', resourceVersion: '7' }, complete, ownKey(own({ 'lds.yaml': { accepted: { mark: mark('b'), content: 'y' } } })), 'read', 'this Pod\'s Envoy judged a new version since'],
  [200, { uid: 'u1', resourceVersion: '7' }, undefined, v1, 'read', 'never found complete yet'],
  [200, { uid: undefined, resourceVersion: '7' }, complete, v1, 'read', 'an answer without a uid'],
  [200, undefined, complete, v1, 'read', 'an answer without metadata'],
  [404, undefined, complete, v1, 'absent', 'deleted: put everything back, nothing to read'],
  [403, undefined, complete, v1, 'unknown', 'forbidden: the next write says why'],
  [500, undefined, undefined, v1, 'unknown', 'a server error'],
] as const) {
  test(`storeCheckStep: ${why} -> ${expected}`, () => {
    assert.equal(storeCheckStep(status, metadata, seen, key), expected);
  });
}

test('ownKey: changes with an accepted or refused version, or an accepted one the store could not hold; not with the order of files or the time', () => {
  const base = own({ 'lds.yaml': { accepted: { mark: mark('a'), content: 'x' } }, 'cds.yaml': { refused: mark('c') } });
  assert.equal(ownKey(base), ownKey(own({ 'cds.yaml': { refused: { ...mark('c'), at: 'later' } }, 'lds.yaml': { accepted: { mark: mark('a'), content: 'x' } } })));
  assert.notEqual(ownKey(base), ownKey(own({ 'lds.yaml': { accepted: { mark: mark('a'), content: 'x' } }, 'cds.yaml': { refused: mark('d') } })));
  assert.notEqual(ownKey(base), ownKey(own({ 'lds.yaml': { accepted: { mark: mark('a', { unkept: 'Too long' }), content: undefined } }, 'cds.yaml': { refused: mark('c') } })));
  assert.notEqual(ownKey(base), ownKey(own({ 'lds.yaml': { accepted: { mark: mark('a'), content: 'x' } } })));
});

test('metadataOf: a PartialObjectMetadata or a full object; nothing else', () => {
  assert.deepEqual(metadataOf({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'n', uid: 'u', resourceVersion: '3' } }), { uid: 'u', resourceVersion: '3' });
  assert.deepEqual(metadataOf({ kind: 'ConfigMap', metadata: { uid: 'u', resourceVersion: '3' }, data: {} }), { uid: 'u', resourceVersion: '3' });
  assert.equal(metadataOf(undefined), undefined);
  assert.equal(metadataOf('text'), undefined);
  assert.deepEqual(metadataOf({ metadata: { uid: 3 } }), { uid: undefined, resourceVersion: undefined });
});
