// Whose Envoy's count of ignored unknown fields is (src/sync/verdict/unknown-fields.ts ignoredAmong):
// server.dynamic_unknown_fields is one counter for the whole Envoy process, and Envoy counts an
// unknown field while it parses a file, before it judges it (a refused file counts too). So a count
// made while Envoy loaded other files is never given to the file whose verdict carries it: it is the
// change's (test/fixtures/verdict-cases/11-unknown-fields-of-a-change: a clean cds.yaml and a refused
// misspelt lds.yaml in one edit) or the start's, and the log line, the Event and `status` say so in
// the same words (messages.ts ignoredAmongWhere, ignoredText).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { acceptedMessage, ignoredText } from '../../../src/sync/verdict/messages.js';
import { ignoredAmong } from '../../../src/sync/verdict/unknown-fields.js';

const base = { file: 'cds.yaml', ignored: 1, atStart: false, sinceStart: false, startFiles: [] as string[], restartFiles: [] as string[], inFlight: [] as string[] };

const cases: [string, Partial<typeof base>, ReturnType<typeof ignoredAmong>][] = [
  ['nothing ignored: nobody\'s', { ignored: 0, inFlight: ['lds.yaml'] }, undefined],
  ['the only file Envoy loaded in the span: its own', {}, undefined],
  ['a clean cds.yaml renamed with a refused misspelt lds.yaml (case 11): the change\'s', { inFlight: ['lds.yaml'] }, { files: ['cds.yaml', 'lds.yaml'], when: 'change' }],
  ['files of the change listed sorted after the file', { file: 'rds.yaml', inFlight: ['lds.yaml', 'cds.yaml'] }, { files: ['rds.yaml', 'cds.yaml', 'lds.yaml'], when: 'change' }],
  ['found at the watcher\'s start with others: the start\'s', { atStart: true, startFiles: ['lds.yaml', 'cds.yaml'] }, { files: ['cds.yaml', 'lds.yaml'], when: 'start' }],
  ['found at start alone: its own', { atStart: true, startFiles: ['cds.yaml'] }, undefined],
  ['Envoy restarted after the baseline: what the new process loaded at its start, not the change', { sinceStart: true, restartFiles: ['lds.yaml'], inFlight: ['eds.yaml'] }, { files: ['cds.yaml', 'lds.yaml'], when: 'start' }],
];

for (const [name, input, want] of cases) {
  test(`ignoredAmong: ${name}`, () => {
    assert.deepEqual(ignoredAmong({ ...base, ...input }), want);
  });
}

test('the sentence of a change\'s count: one of the files of its change, never "loaded at start" nor "in it"', () => {
  const msg = acceptedMessage('cds.yaml', 'c1', 5, 1, 'cli validate /t/cds.yaml', { files: ['cds.yaml', 'lds.yaml'], validate: 'cli validate /t', when: 'change' });
  assert.match(msg, /^Envoy accepted cds\.yaml version c1 in 5 ms; Envoy ignored unknown fields in one of the files of its change \(cds\.yaml, lds\.yaml; Envoy counted 1 in server\.dynamic_unknown_fields; /);
  assert.match(msg, /: cli validate \/t names them all/);
  assert.doesNotMatch(msg, /loaded at start|ignored unknown fields in it|cli validate \/t\/cds\.yaml/);
});

test('status\'s words for the same count are the line\'s', () => {
  assert.equal(ignoredText(1, ['cds.yaml', 'lds.yaml'], 'change'), ', ignored unknown fields in one of the files of its change (cds.yaml, lds.yaml) (Envoy counted 1)');
  assert.equal(ignoredText(2, ['cds.yaml', 'lds.yaml'], 'start'), ', ignored unknown fields in one of the files Envoy loaded at start (cds.yaml, lds.yaml) (Envoy counted 2)');
  // A state file of an older watcher has no `when`: its lists were of files loaded at start.
  assert.equal(ignoredText(2, ['cds.yaml', 'lds.yaml']), ', ignored unknown fields in one of the files Envoy loaded at start (cds.yaml, lds.yaml) (Envoy counted 2)');
  assert.equal(ignoredText(1), ', ignored unknown fields (Envoy counted 1)');
});
