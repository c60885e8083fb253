// What a `source: api` watcher keeps of the ConfigMap it read from the API, for `status`
// (src/sync/verdict/configmap-read.ts), as tables. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { configMapRead, recordRead } from '../../../src/sync/verdict/configmap-read.js';
import type { VerdictState } from '../../../src/sync/verdict/state.js';

const stamped = new Map([
  ['lds.yaml', { version: 'sha256:111111111111', sha256: 'a'.repeat(64) }],
  ['script.lua', { version: undefined, sha256: 'b'.repeat(64) }],
]);

test('configMapRead: every key with its version (none for a file that carries none), its stamped sha256, and where the gate refuses it', () => {
  assert.deepEqual(configMapRead('42', stamped, [{ file: 'lds.yaml', line: 3, column: 9, message: 'invalid YAML' }], 'T'), {
    resourceVersion: '42',
    at: 'T',
    files: {
      'lds.yaml': { version: 'sha256:111111111111', sha256: 'a'.repeat(64), invalid: { message: 'invalid YAML', line: 3, column: 9 } },
      'script.lua': { sha256: 'b'.repeat(64) },
    },
  });
});

test('recordRead: kept when it changed (content or resourceVersion), its first time kept for the same content; gone when a pass read the volume', () => {
  const state: VerdictState = { pid: 1, sourceDir: 's', targetDir: 't', updatedAt: '', files: {} };
  const table: [step: string, read: ReturnType<typeof configMapRead> | undefined, changed: boolean, at: string | undefined][] = [
    ['the volume, nothing kept', undefined, false, undefined],
    ['the first read from the API', configMapRead('1', stamped, [], 'T1'), true, 'T1'],
    ['the same again (a resync)', configMapRead('1', stamped, [], 'T2'), false, 'T1'],
    ['a new resourceVersion', configMapRead('2', stamped, [], 'T3'), true, 'T3'],
    ['new content', configMapRead('2', new Map([['lds.yaml', { version: 'v2', sha256: 'c'.repeat(64) }]]), [], 'T4'), true, 'T4'],
    ['the volume again (the API is not reachable)', undefined, true, undefined],
  ];
  for (const [step, read, changed, at] of table) {
    assert.equal(recordRead(state, read), changed, step);
    assert.equal(state.configMap?.at, at, step);
  }
});
