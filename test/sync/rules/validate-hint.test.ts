// The `validate` a message suggests (src/sync/verdict/validate-hint.ts): for an accepted file with
// ignored fields, the version Envoy loaded, kept under its key (accepted/..sha256-<key>/<file>; the
// ConfigMap's files when the fields are among several files); for a refusal, the refused version the watcher keeps
// under the digest of that content (refused/..sha256-<key>/<file>), since the ConfigMap may hold a fix
// or a newer version by the time it is read, and refused/<file> a newer refusal.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { validateSentence } from '../../../src/sync/verdict/messages.js';
import { checksAcceptedCopy, checksRefusedCopy, configMapValidateHint, refusedValidateHint, sourceValidateHint } from '../../../src/sync/verdict/validate-hint.js';
import { acceptedMessage } from '../../../src/sync/verdict/messages.js';

test('a refusal points validate at the refused version kept under the state directory, and says so', () => {
  const cli = 'kubectl exec -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector';
  const refused = refusedValidateHint(cli, '/etc/envoy');
  assert.equal(refused('lds.yaml'), `${cli} validate /etc/envoy/..envoy-xds-verdict/refused/lds.yaml`);
  assert.equal(refused(), `${cli} validate /etc/envoy/..envoy-xds-verdict/refused`);
  // The content refused, under the key its version shows (refused-versions.ts): what a refusal's line names.
  const exact = refused('lds.yaml', '3f2a9c1b7e4d');
  assert.equal(exact, `${cli} validate /etc/envoy/..envoy-xds-verdict/refused/..sha256-3f2a9c1b7e4d/lds.yaml`);
  assert.equal(checksRefusedCopy(exact), true);
  assert.equal(validateSentence('sees', exact), `${exact} names the field and its line in the refused version kept there`);
  assert.equal(validateSentence('sees', refused('lds.yaml')), `${cli} validate /etc/envoy/..envoy-xds-verdict/refused/lds.yaml names the field and its line in the refused version kept there`);
  assert.equal(validateSentence('if-constraint', refused('lds.yaml')), `if it says "Proto constraint validation failed", ${cli} validate /etc/envoy/..envoy-xds-verdict/refused/lds.yaml names the field and its line in the refused version kept there`);
  // The ConfigMap's own file and the ConfigMap now: their lines are the key's, no such words.
  for (const hint of [sourceValidateHint(cli, '/src')('lds.yaml'), configMapValidateHint(`${cli} -i`, 'shop', 'cm')('lds.yaml')]) {
    assert.equal(checksRefusedCopy(hint), false, hint);
    assert.equal(validateSentence('sees', hint), `${hint} names the field and its line`);
  }
});

test('an accepted version with ignored fields points validate at the copy of what Envoy loaded, and says so; the ConfigMap\'s own file says nothing more', () => {
  const cli = 'kubectl exec -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector';
  const loaded = refusedValidateHint(cli, '/etc/envoy')('lds.yaml', '3f2a9c1b7e4d', 'accepted');
  assert.equal(loaded, `${cli} validate /etc/envoy/..envoy-xds-verdict/accepted/..sha256-3f2a9c1b7e4d/lds.yaml`);
  assert.deepEqual([checksAcceptedCopy(loaded), checksRefusedCopy(loaded)], [true, false]);
  assert.match(acceptedMessage('lds.yaml', 'v1', 5, 1, loaded), new RegExp(`: ${loaded.replace(/[.*+?^$()|[\]\\]/g, '\\$&')} names them all in the version Envoy loaded, kept there, Envoy's log names the first it met`));
  const source = sourceValidateHint(cli, '/src')('lds.yaml');
  assert.equal(checksAcceptedCopy(source), false);
  assert.match(acceptedMessage('lds.yaml', 'v1', 5, 1, source), / validate \/src\/lds\.yaml names them all, Envoy's log/);
});
