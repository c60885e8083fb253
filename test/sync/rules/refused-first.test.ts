// A refused FIRST version (nothing accepted came before it, so nothing was put back: the refused
// file stays published) is told by one rule, and every form says the same: the status row, the
// stderr of `status`, and the verdict's line and Event (firstRefusedMessage).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { firstRefusedMessage } from '../../../src/sync/verdict/messages.js';
import { refusedStaysPublished } from '../../../src/sync/verdict/status.js';
import { formatStatus, refusedNote } from '../../../src/sync/verdict/status-format.js';

test('refusedStaysPublished: the refused ConfigMap content is what is published', () => {
  const cases: { name: string; held: boolean; published?: string; configMap?: string; want: boolean }[] = [
    { name: 'refused first version, published by copy', held: true, published: 'v1', configMap: 'v1', want: true },
    { name: 'refused edit, rolled back to the last accepted', held: true, published: 'v1', configMap: 'v2', want: false },
    { name: 'not refused', held: false, published: 'v1', configMap: 'v1', want: false },
    { name: 'refused, nothing published', held: true, configMap: 'v1', want: false },
  ];
  for (const c of cases) assert.equal(refusedStaysPublished(c), c.want, c.name);
});

test('the CONFIGMAP column: held back after a rollback, stays published after a refused first version', () => {
  assert.equal(refusedNote({ held: false }), '');
  assert.equal(refusedNote({ held: true }), ' (refused, held back)');
  assert.equal(refusedNote({ held: true, refusedPublished: true }), ' (refused, stays published: nothing accepted came before it)');
  const message = firstRefusedMessage('lds.yaml', 'v1', undefined, 'Envoy runs none of the 1 listener of lds.yaml');
  const out = formatStatus({
    targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now',
    files: [{ file: 'lds.yaml', held: true, refusedPublished: true, configMap: 'v1', published: 'v1', envoy: { version: '', live: true }, verdict: { outcome: 'rejected', version: 'v1', at: 'T', rolledBack: false, message } }],
  });
  assert.match(out, /^lds\.yaml +v1 \(refused, stays published: nothing accepted came before it\) +v1 +\(none\) +rejected v1 at T$/m, out);
  assert.doesNotMatch(out, /held back/);
  // The verdict's line (and its Event) say it too.
  assert.match(message, /^Envoy REFUSED lds\.yaml version v1, and no version of lds\.yaml was accepted before it, so there is nothing to put back: it stays published; /);
});
