// Which clusters a file's route tables must find (src/sync/envoy/route-clusters.ts) and when an
// accepted LDS/RDS file goes back with a refused cds.yaml of its change (src/sync/verdict/clusters-gone.ts).
// The real-Envoy behaviour: test/envoy/clusters-gone.test.ts.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { clusterNames, validatedClusters } from '../../../src/sync/envoy/route-clusters.js';
import { clustersOnlyIn, routesToGone, waitsForClusters, withdrawnMessage } from '../../../src/sync/verdict/clusters-gone.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const listener = (routeConfig: unknown): unknown => ({
  resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: 's', route_config: routeConfig } }] }] }],
});
const table = (route: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }], ...extra });
const rds = (t: Record<string, unknown>): unknown => ({ resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...t }] });

test('validatedClusters: the clusters a route table validates, as validate_clusters says (inline: by default; RDS: only when set)', () => {
  const cases: [string, unknown, string[]][] = [
    ['inline route to a cluster', listener(table({ cluster: 'a' })), ['a']],
    ['inline weighted clusters and a mirror', listener(table({ weighted_clusters: { clusters: [{ name: 'w1', weight: 1 }, { name: 'w2', weight: 1 }] }, request_mirror_policies: [{ cluster: 'm' }] })), ['m', 'w1', 'w2']],
    ['inline, validate_clusters false', listener(table({ cluster: 'a' }, { validate_clusters: false })), []],
    ['a cluster read from a header at request time', listener(table({ cluster_header: 'x-cluster' })), []],
    ['a direct response', listener({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] }), []],
    ['RDS route configuration (not validated by default)', rds(table({ cluster: 'a' })), []],
    ['RDS route configuration, validate_clusters true', rds(table({ cluster: 'a' }, { validate_clusters: true })), ['a']],
    ['a listener naming RDS', { resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, rds: { route_config_name: 'r' } } }] }] }] }, []],
    ['not an object', 'text', []],
  ];
  for (const [name, root, want] of cases) assert.deepEqual([...validatedClusters(root)].sort(), want, name);
});

test('clusterNames: the names of a CDS file\'s Cluster resources', () => {
  const cds = { resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'a' }, { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'b' }, { '@type': 'other', name: 'c' }] };
  assert.deepEqual([...clusterNames(cds)], ['a', 'b']);
  assert.deepEqual([...clusterNames(undefined)], []);
});

const cdsFile = (...names: string[]): Buffer => Buffer.from(`resources:\n${names.map((name) => `- {"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: ${name}}`).join('\n')}\n`);
const ldsFile = (cluster: string): Buffer => Buffer.from(JSON.stringify(listener(table({ cluster }))));

test('clustersOnlyIn / routesToGone: an accepted listener routing to a cluster only the refused cds.yaml adds goes back with it', () => {
  assert.deepEqual([...clustersOnlyIn(cdsFile('a', 'new'), cdsFile('a'))], ['new']);
  assert.deepEqual([...clustersOnlyIn(cdsFile('a'), cdsFile('a', 'b'))], []);
  assert.deepEqual([...clustersOnlyIn(Buffer.from('resources: [unclosed'), cdsFile('a'))], [], 'does not parse: none');
  const gone = { file: 'cds.yaml', version: 'v2', clusters: new Set(['new']) };
  assert.deepEqual(routesToGone(ldsFile('new'), [gone]), { by: gone, clusters: ['new'] });
  assert.equal(routesToGone(ldsFile('a'), [gone]), undefined, 'routes to a cluster the version put back has');
  assert.equal(routesToGone(ldsFile('new'), []), undefined);
  assert.equal(routesToGone(Buffer.from('{'), [gone]), undefined, 'does not parse: nothing said');
  // An RDS table that does not validate its clusters, or a filter's upstream: Envoy answers without the cluster (503), so it goes back too.
  const rdsFile = Buffer.from(JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'r', virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'new' } }] }] }] }));
  assert.deepEqual(routesToGone(rdsFile, [gone]), { by: gone, clusters: ['new'], unchecked: true });
  const authz = Buffer.from(JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', filter_chains: [{ filters: [{ typed_config: { http_filters: [{ typed_config: { http_service: { server_uri: { cluster: 'new' } } } }] } }] }] }] }));
  assert.deepEqual(routesToGone(authz, [gone]), { by: gone, clusters: ['new'], unchecked: true });
});

test('waitsForClusters: an LDS or RDS file waits while a CDS file of its change waits for its verdict', () => {
  const readAs = (file: string): Set<string> => new Set(file.startsWith('lds') ? ['LDS'] : file.startsWith('rds') ? ['RDS'] : file.startsWith('cds') ? ['CDS'] : file.startsWith('eds') ? ['EDS'] : []);
  const pending = (file: string): boolean => file !== 'cds-done.yaml';
  assert.equal(waitsForClusters('lds.yaml', new Set(['cds.yaml']), readAs, pending), true);
  assert.equal(waitsForClusters('rds.yaml', new Set(['cds.yaml', 'eds.yaml']), readAs, pending), true);
  assert.equal(waitsForClusters('lds.yaml', new Set(['cds-done.yaml']), readAs, pending), false, 'its verdict is in');
  assert.equal(waitsForClusters('lds.yaml', new Set(['eds.yaml']), readAs, pending), false, 'no CDS file in the change');
  assert.equal(waitsForClusters('eds.yaml', new Set(['cds.yaml']), readAs, pending), false, 'EDS has no route table');
});

test('withdrawnMessage: says Envoy took it, which cluster only the refused version adds, and what a restart would do', () => {
  const gone = { by: { file: 'cds.yaml', version: 'c2', clusters: new Set(['new']) }, clusters: ['new'] };
  assert.equal(
    withdrawnMessage('lds.yaml', 'l2', 'l1', gone, true),
    'Envoy took lds.yaml version l2, but it routes to cluster \'new\', which only cds.yaml version c2 adds, and Envoy refused that version: l1 goes back on disk with cds.yaml, and Envoy loads it (an Envoy restarted without that cluster would refuse l2 ("route: unknown cluster")); held until the ConfigMap changes',
  );
  assert.match(withdrawnMessage('lds.yaml', 'l2', 'l1', gone, true, ['cds.yaml', 'eds.yaml']), /; held until the ConfigMap changes cds\.yaml or eds\.yaml, or Envoy accepts cds\.yaml$/, 'the keys its hold has (withdrawn.ts)');
  assert.match(withdrawnMessage('lds.yaml', 'l2', 'l1', gone, true, ['cds.yaml']), /; held until the ConfigMap changes cds\.yaml, or Envoy accepts cds\.yaml$/);
  assert.match(withdrawnMessage('lds.yaml', 'l2', undefined, { ...gone, clusters: ['a', 'b'] }, false), /routes to clusters 'a', 'b', which only .*; nothing accepted came before it to put back, so it stays published: an Envoy restarted without those clusters would refuse l2/);
  assert.equal(
    withdrawnMessage('rds.yaml', 'r2', 'r1', { ...gone, unchecked: true }, true),
    'Envoy took rds.yaml version r2, but it names cluster \'new\', which only cds.yaml version c2 adds, and Envoy refused that version: r1 goes back on disk with cds.yaml, and Envoy loads it (r2 would answer 503 where it routes to that cluster, and a filter calling it would fail); held until the ConfigMap changes',
  );
});
