// What a file's bytes say about clusters, worked out once per content (src/sync/verdict/parsed-once.ts):
// each content derived once while kept, the least recently asked dropped first, and the same
// answers as parsing each time (route-clusters.ts). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { clusterNames, validatedClusters } from '../../../src/sync/envoy/route-clusters.js';
import { parseConfig } from '../../../src/sync/envoy/subscriptions.js';
import { PerContent, cdsClusterNames, routedClusters, uncheckedClusters } from '../../../src/sync/verdict/parsed-once.js';
import { namedClusters } from '../../../src/sync/envoy/named-clusters.js';

test('PerContent: derived once per content while kept; the least recently asked goes first', () => {
  const derived: string[] = [];
  const memo = new PerContent((bytes) => {
    derived.push(bytes.toString());
    return bytes.length;
  }, 2);
  const ask = (text: string): number => memo.of(Buffer.from(text));
  assert.equal(ask('a'), 1);
  assert.equal(ask('bb'), 2);
  assert.equal(ask('a'), 1, 'kept');
  assert.equal(ask('ccc'), 3); // drops bb, asked least recently
  assert.equal(ask('a'), 1);
  assert.equal(ask('bb'), 2);
  assert.deepEqual(derived, ['a', 'bb', 'ccc', 'bb'], 'a once; bb again after it was dropped');
  assert.equal(new PerContent((): number | undefined => undefined).of(Buffer.from('x')), undefined, 'an undefined answer');
});

test('cdsClusterNames / routedClusters / uncheckedClusters: the answers of parsing each time', () => {
  const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
  const inputs = [
    `resources:\n- {"@type": ${CLUSTER}, name: a}\n- {"@type": ${CLUSTER}, name: b}\n`,
    JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', filter_chains: [{ filters: [{ typed_config: { route_config: { virtual_hosts: [{ routes: [{ route: { cluster: 'a' } }] }] } } }] }] }] }),
    JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'r2', virtual_hosts: [{ routes: [{ route: { cluster: 'd' } }] }] }] }),
    JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'r', validate_clusters: true, virtual_hosts: [{ routes: [{ route: { cluster: 'c' } }] }] }] }),
    'resources: [unclosed',
    '',
  ];
  for (const text of inputs) {
    for (let i = 0; i < 2; i++) {
      assert.deepEqual([...cdsClusterNames(Buffer.from(text))], [...clusterNames(parseConfig(text))], `cds ${text.slice(0, 30)} (${String(i)})`);
      assert.deepEqual([...routedClusters(Buffer.from(text))], [...validatedClusters(parseConfig(text))], `routes ${text.slice(0, 30)} (${String(i)})`);
      const validated = validatedClusters(parseConfig(text));
      assert.deepEqual([...uncheckedClusters(Buffer.from(text))], [...namedClusters(parseConfig(text)).keys()].filter((name) => !validated.has(name)), `unchecked ${text.slice(0, 30)} (${String(i)})`);
    }
  }
});
