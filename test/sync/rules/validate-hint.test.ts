// The `validate` a message suggests (src/sync/verdict/validate-hint.ts): for an accepted file with
// ignored fields, the ConfigMap's file; for a refusal, the refused version the watcher keeps
// under the digest of that content (refused/..sha256-<key>/<file>), since the ConfigMap may hold a fix
// or a newer version by the time it is read, and refused/<file> a newer refusal.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { validateSentence } from '../../../src/sync/verdict/messages.js';
import { checksRefusedCopy, configMapValidateHint, refusedValidateHint, sourceValidateHint } from '../../../src/sync/verdict/validate-hint.js';

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
