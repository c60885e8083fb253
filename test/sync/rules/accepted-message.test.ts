// The accepted verdict's sentence when Envoy ignored unknown fields: it gives Envoy's count as
// Envoy's (a file's parse names only its first unknown field, so Envoy may count fewer than there
// are) and, for fields counted while Envoy loaded several files at start, names them all and the
// directory to validate.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { acceptedMessage } from '../../../src/sync/verdict/messages.js';

test('accepted with no unknown fields: the plain sentence', () => {
  assert.equal(acceptedMessage('lds.yaml', 'v1', 5), 'Envoy accepted lds.yaml version v1 in 5 ms');
});

test('accepted with unknown fields in this file: Envoy\'s count as Envoy\'s, and validate of the file names them all', () => {
  const msg = acceptedMessage('lds.yaml', 'v1', 5, 1, 'cli validate /t/lds.yaml');
  assert.match(msg, /^Envoy accepted lds\.yaml version v1 in 5 ms, but ignored unknown fields in it \(Envoy counted 1 in server\.dynamic_unknown_fields; /);
  assert.match(msg, /: cli validate \/t\/lds\.yaml names them all, /);
  assert.doesNotMatch(msg, /ignored 1 unknown field/);
});

test('unknown fields counted while Envoy loaded several files at start: one of them, named, and validate of the directory', () => {
  const msg = acceptedMessage('cds.yaml', 'v1', 5, 2, 'cli validate /t/cds.yaml', { files: ['lds.yaml', 'cds.yaml'], validate: 'cli validate /t' });
  assert.match(msg, /^Envoy accepted cds\.yaml version v1 in 5 ms; Envoy ignored unknown fields in one of the files Envoy loaded at start \(lds\.yaml, cds\.yaml; Envoy counted 2 /);
  assert.match(msg, /: cli validate \/t names them all, /);
});
