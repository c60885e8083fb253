// Which files, once Envoy's own bootstrap shows it reads them, still need a verdict
// (src/sync/verdict/envoy-answer.ts unjudgedOnDisk), as a table. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { PublishedFile } from '../../../src/sync/publish/syncer.js';
import { unjudgedOnDisk } from '../../../src/sync/verdict/envoy-answer.js';
import type { VerdictState } from '../../../src/sync/verdict/state.js';

const file = (name: string, version: string): PublishedFile => ({ name, version, sha256: 'x', content: Buffer.from(''), kind: 'xds', ino: 1, at: 0 });
const verdict = (outcome: 'accepted' | 'rejected' | 'unknown', version: string) => ({ verdict: { outcome, version, at: '', message: '', rolledBack: false } });

test('unjudgedOnDisk: a file with no verdict, an unknown one, or one on another version; not one pending or judged', () => {
  const state = {
    pid: 1, sourceDir: 's', targetDir: 't', updatedAt: '',
    files: { 'a.yaml': verdict('rejected', 'v1'), 'b.yaml': verdict('unknown', 'v1'), 'c.yaml': verdict('accepted', 'v0'), 'e.yaml': verdict('accepted', 'v1') },
  } as unknown as VerdictState;
  const files = ['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml', 'e.yaml', 'p.yaml'].map((name) => file(name, 'v1'));
  assert.deepEqual(unjudgedOnDisk(files, state, (name) => name === 'p.yaml').map((f) => f.name), ['b.yaml', 'c.yaml', 'd.yaml']);
});
