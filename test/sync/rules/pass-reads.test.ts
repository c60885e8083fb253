// What a pass's renames do to the verdicts already waiting (src/sync/verdict/pass-reads.ts): a file
// found at start that the pass makes Envoy read is timed from the first such rename. The behaviour
// with real Envoy: test/envoy/sds-first-start-refused.test.ts (the unchanged cert.pem, key.pem fixed).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { afterPass, readByPassAt, renameReads, type PassReadMap } from '../../../src/sync/verdict/pass-reads.js';
import { newPending } from '../../../src/sync/verdict/pending.js';
import type { PublishedFile } from '../../../src/sync/publish/syncer.js';

// sds.yaml holds a Secret reading cert.pem and key.pem; lds.yaml names rds.yaml; ca.pem is another Secret's.
const map: PassReadMap = {
  names: (name) => (name === 'sds.yaml' ? ['cert.pem', 'key.pem'] : name === 'lds.yaml' ? ['rds.yaml'] : []),
  secretReaders: (name) => ({ sdsFiles: name === 'cert.pem' || name === 'key.pem' ? ['sds.yaml'] : name === 'ca.pem' ? ['sds-ca.yaml'] : [] }),
};
const cert = { file: 'cert.pem', secret: { sdsFiles: ['sds.yaml'] } };

test('renameReads: the Secret\'s file, another file of it, or a file naming it by path; never itself', () => {
  const cases: [string, string, { file: string; secret?: { sdsFiles: string[] } }, boolean][] = [
    // name, renamed, waiting file, read again
    ['its key (the same Secret)', 'key.pem', cert, true],
    ['the file holding its Secret', 'sds.yaml', cert, true],
    ['another Secret\'s file', 'ca.pem', cert, false],
    ['itself', 'cert.pem', cert, false],
    ['a listener file naming its RDS file', 'lds.yaml', { file: 'rds.yaml' }, true],
    ['a file naming nothing', 'cds.yaml', { file: 'rds.yaml' }, false],
  ];
  for (const [name, renamed, file, want] of cases) assert.equal(renameReads(renamed, file, map), want, name);
});

const pending = (file: string, at: number, foundAtStart: boolean, secret?: { sdsFiles: string[] }) =>
  newPending({ name: file, content: Buffer.from('x'), version: undefined, sha256: 'ab', ino: 1, at }, { previousVersion: undefined, baseline: undefined, names: [], deadline: at + 1000, initial: foundAtStart, inFlight: new Set(), retried: false, secret });
const passFile = (name: string, at: number): PublishedFile => ({ name, sha256: 'cd', content: Buffer.from('y'), version: undefined, kind: 'data', ino: 2, at });

test('readByPassAt: found at start, waiting, and read by the pass: the first rename that reads it', () => {
  const pass = [passFile('sds.yaml', 9000), passFile('key.pem', 9005)];
  assert.equal(readByPassAt(pending('cert.pem', 10, true, cert.secret), pass, map), 9000);
  assert.equal(readByPassAt(pending('cert.pem', 10, true, cert.secret), [passFile('key.pem', 9005)], map), 9005);
  assert.equal(readByPassAt(pending('cert.pem', 10, false, cert.secret), pass, map), undefined, 'published by a pass: timed from its own rename');
  assert.equal(readByPassAt(pending('cert.pem', 10, true, cert.secret), [passFile('cds.yaml', 9000)], map), undefined, 'not read by the pass');
  assert.equal(readByPassAt(pending('cert.pem', 9500, true, cert.secret), [passFile('key.pem', 9005)], map), undefined, 'renamed before it was found: not moved back');
  const aside = pending('cert.pem', 10, true, cert.secret);
  aside.deferred = { judgement: { outcome: 'rejected', subscription: 's', kind: 'rejected' }, counters: { subscriptions: new Map(), unknownFields: 0, sslContextUpdates: 0 }, own: [], now: 20 };
  assert.equal(readByPassAt(aside, pass, map), undefined, 'a refusal set aside keeps its time');
});

test('afterPass: the pass\'s files wait on each other; a waiting file found at start it reads is timed from it', () => {
  const waiting = new Map([['cert.pem', pending('cert.pem', 10, true, cert.secret)], ['key.pem', pending('key.pem', 9005, false, cert.secret)], ['rds.yaml', pending('rds.yaml', 10, true)]]);
  afterPass(waiting, [passFile('key.pem', 9005)], (file) => new Set([...waiting.keys()].filter((f) => f !== file)), map);
  assert.equal(waiting.get('cert.pem')?.at, 9005);
  assert.equal(waiting.get('rds.yaml')?.at, 10, 'not read by the pass');
  assert.deepEqual([...(waiting.get('key.pem')?.inFlight ?? [])], ['cert.pem', 'rds.yaml']);
});
