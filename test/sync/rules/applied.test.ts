// What Envoy runs of a file it refused (src/sync/verdict/applied.ts): the listeners or clusters its
// admin API reports, sorted against the refused file, and the sentence the verdict says. Pure.
// The real Envoy's side: test/envoy/verdict-corpus.test.ts, case 09-duplicate-listener-name.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { appliedSentence, sortApplied } from '../../../src/sync/verdict/applied.js';
import { resourceNames } from '../../../src/sync/envoy/resource-names.js';
import type { Applied } from '../../../src/sync/verdict/applied.js';
import { firstRefusedMessage, openedRefusal } from '../../../src/sync/verdict/messages.js';

const LDS = `version_info: a1
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: shop_listener
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: shop_listener
`;

test('applied: the resource names of an xDS file, in order, repeats kept; undefined when it is not one', () => {
  assert.deepEqual(resourceNames(LDS), ['shop_listener', 'shop_listener']);
  assert.deepEqual(resourceNames('{"resources":[{"name":"a"},{"x":1}]}'), ['a', '']);
  assert.equal(resourceNames('resources: {a: 1}'), undefined);
  assert.equal(resourceNames(': ['), undefined);
});

test('applied: what Envoy runs of a refused file, and what the verdict says', () => {
  const rows: { names: string[] | undefined; version: string | undefined; running: { name: string; version: string }[]; sorted: Applied; says: string }[] = [
    {
      // the duplicate listener: Envoy added the first one, refused the second
      names: ['shop_listener', 'shop_listener'], version: 'a1', running: [{ name: 'shop_listener', version: 'a1' }],
      sorted: { kind: 'read', noun: 'listener', total: 2, fromThis: ['shop_listener'], fromEarlier: [] },
      says: 'Envoy runs 1 of the 2 listeners of lds.yaml (shop_listener) and refused the other',
    },
    {
      // refused before the LDS API (proto validation): nothing applied
      names: ['a', 'b'], version: 'a1', running: [],
      sorted: { kind: 'read', noun: 'listener', total: 2, fromThis: [], fromEarlier: [] },
      says: 'Envoy runs none of the 2 listeners of lds.yaml',
    },
    {
      // an earlier refused version left `a` in place; listeners not in the file are not this file's
      names: ['a', 'b', 'c'], version: 'a2', running: [{ name: 'a', version: 'a1' }, { name: 'b', version: 'a2' }, { name: 'other', version: 'a2' }],
      sorted: { kind: 'read', noun: 'listener', total: 3, fromThis: ['b'], fromEarlier: ['a'] },
      says: 'Envoy runs 1 of the 3 listeners of lds.yaml (b) and refused the others; it still runs an earlier version of a',
    },
    {
      // everything applied (an opened subscription refused instead)
      names: ['l0'], version: 'a1', running: [{ name: 'l0', version: 'a1' }],
      sorted: { kind: 'read', noun: 'listener', total: 1, fromThis: ['l0'], fromEarlier: [] },
      says: 'Envoy runs the listener of lds.yaml (l0)',
    },
    {
      // no version_info: every running resource named in the file counts
      names: ['a', 'b'], version: undefined, running: [{ name: 'a', version: '' }],
      sorted: { kind: 'read', noun: 'listener', total: 2, fromThis: ['a'], fromEarlier: [] },
      says: 'Envoy runs 1 of the 2 listeners of lds.yaml (a) and refused the other',
    },
    {
      // the file did not read as a DiscoveryResponse: Envoy's resources of this version
      names: undefined, version: 'a1', running: [{ name: 'a', version: 'a1' }, { name: 'z', version: 'a0' }],
      sorted: { kind: 'read', noun: 'listener', total: undefined, fromThis: ['a'], fromEarlier: [] },
      says: 'Envoy runs 1 of the listeners of lds.yaml (a) and refused the others',
    },
    {
      // a file of one listener, refused whole (fresh-user trial: "Envoy runs none of the 1 listener")
      names: ['listener_0'], version: 'a1', running: [],
      sorted: { kind: 'read', noun: 'listener', total: 1, fromThis: [], fromEarlier: [] },
      says: 'Envoy does not run the listener of lds.yaml',
    },
    {
      names: ['a', 'b'], version: 'a1', running: [{ name: 'a', version: 'a1' }, { name: 'b', version: 'a1' }],
      sorted: { kind: 'read', noun: 'listener', total: 2, fromThis: ['a', 'b'], fromEarlier: [] },
      says: 'Envoy runs both listeners of lds.yaml (a, b)',
    },
    {
      names: ['a', 'b', 'c'], version: 'a1', running: [{ name: 'a', version: 'a1' }, { name: 'b', version: 'a1' }, { name: 'c', version: 'a1' }],
      sorted: { kind: 'read', noun: 'listener', total: 3, fromThis: ['a', 'b', 'c'], fromEarlier: [] },
      says: 'Envoy runs all 3 listeners of lds.yaml (a, b, c)',
    },
    {
      names: ['a', 'b', 'c'], version: 'a1', running: [{ name: 'a', version: 'a1' }],
      sorted: { kind: 'read', noun: 'listener', total: 3, fromThis: ['a'], fromEarlier: [] },
      says: 'Envoy runs 1 of the 3 listeners of lds.yaml (a) and refused the others',
    },
    {
      names: undefined, version: 'a1', running: [{ name: 'z', version: 'a0' }],
      sorted: { kind: 'read', noun: 'listener', total: undefined, fromThis: [], fromEarlier: [] },
      says: 'Envoy runs none of the listeners of lds.yaml',
    },
  ];
  for (const [index, row] of rows.entries()) {
    const sorted = sortApplied('listener', row.names, row.version, row.running);
    assert.deepEqual(sorted, row.sorted, `row ${String(index + 1)}`);
    assert.equal(appliedSentence('lds.yaml', sorted), row.says, `row ${String(index + 1)}`);
  }
});

test('applied: by type, unread, and in the first-refused message', () => {
  assert.equal(appliedSentence('rds.yaml', { kind: 'none-by-type' }), 'Envoy runs WITHOUT the resources of rds.yaml');
  assert.equal(appliedSentence('ecds.yaml', { kind: 'not-known' }), "what Envoy runs of ecds.yaml is not known here (Envoy's config dump shows it)");
  const unread = appliedSentence('cds.yaml', { kind: 'unread', noun: 'cluster', adminPath: '/config_dump?resource=dynamic_active_clusters' });
  assert.equal(unread, 'Envoy applies each cluster of cds.yaml on its own, so it may run some of them; its admin API did not say which (/config_dump?resource=dynamic_active_clusters)');
  assert.doesNotMatch(unread, /WITHOUT/);
  // A first start's srds.yaml whose scope opened a subscription that refused rds-scoped.yaml (judge.ts `created`): Envoy runs srds.yaml itself.
  assert.equal(appliedSentence('srds.yaml', { kind: 'opened', statPrefix: 'http.scoped.rds.scoped_rc_b', named: 'rds-scoped.yaml' }), 'Envoy runs srds.yaml, without what the subscription it opened (http.scoped.rds.scoped_rc_b) refused of rds-scoped.yaml');
  assert.equal(
    openedRefusal('srds.yaml', 'http.scoped.rds.scoped_rc_b', 'rds-scoped.yaml', 'scoped_rc_b'),
    'Envoy took srds.yaml but the subscription it opened (http.scoped.rds.scoped_rc_b) refused rds-scoped.yaml, which lacks the route configuration scoped_rc_b srds.yaml names (Envoy\'s log: "Unexpected RDS configuration (expecting scoped_rc_b)"): Envoy would run without it',
  );
  assert.equal(openedRefusal('lds.yaml', 'http.ingress_http.rds.r', 'rds.yaml'), 'Envoy took lds.yaml but the subscription it opened (http.ingress_http.rds.r) refused rds.yaml: Envoy would run without it');
  assert.equal(
    firstRefusedMessage('lds.yaml', 'a1', { reason: 'listener shop_listener: duplicate listener shop_listener found', envoyLog: 'Filesystem config update rejected' }, 'Envoy runs 1 of the 2 listeners of lds.yaml (shop_listener) and refused the others'),
    'Envoy REFUSED lds.yaml version a1, and no version of lds.yaml was accepted before it, so there is nothing to put back: it stays published; Envoy runs 1 of the 2 listeners of lds.yaml (shop_listener) and refused the others, and a restarted Envoy will refuse it again; fix the ConfigMap. Envoy says: listener shop_listener: duplicate listener shop_listener found',
  );
});
