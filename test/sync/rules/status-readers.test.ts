// A file read through another with no verdict while Envoy refuses the file reading it
// (src/sync/verdict/status-readers.ts): `status` says that refusal, not `-`. The behaviour with real
// Envoy: test/envoy/sds-first-start-refused.test.ts (a new Pod's pair that does not match).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { readerRefusedText, refusedNow, refusedReadersOf } from '../../../src/sync/verdict/status-readers.js';
import type { FileStatus } from '../../../src/sync/verdict/status.js';

const rejected = { outcome: 'rejected' as const, version: 's1', at: 'T', rolledBack: false, message: 'm' };
const row = (file: string, more: Partial<FileStatus> = {}): FileStatus => ({ file, held: false, published: 'v', ...more });

test('refusedNow: a refusal of the version there now, or a refused version kept published', () => {
  assert.equal(refusedNow(row('sds.yaml', { verdict: rejected })), true);
  assert.equal(refusedNow(row('sds.yaml', { verdict: rejected, verdictEarlier: true })), false, 'an earlier version refused');
  assert.equal(refusedNow(row('sds.yaml', { verdict: { ...rejected, outcome: 'accepted' } })), false);
  assert.equal(refusedNow(row('sds.yaml', { refusedPublished: true })), true, 'kept published after a refusal');
});

test('refusedReadersOf: rows with nothing known of them, read by a refused file', () => {
  const reads = new Map([['sds.yaml', new Set(['cert.pem', 'key.pem'])], ['lds.yaml', new Set(['script.lua'])]]);
  const rows = [
    row('cert.pem'),
    row('key.pem', { verdict: { ...rejected, outcome: 'unknown' } }),
    row('script.lua', { withReader: { accepted: 'sha256:1', at: 'T' } }),
    row('body.txt'),
    row('gone.pem', { published: undefined }),
  ];
  assert.deepEqual([...refusedReadersOf(rows, reads)], [['cert.pem', ['sds.yaml']]]);
  assert.equal(readerRefusedText(['sds.yaml']), 'none yet: Envoy refused sds.yaml, which reads it');
  assert.equal(readerRefusedText(['a.yaml', 'b.yaml']), 'none yet: Envoy refused a.yaml, b.yaml, which read it');
});
