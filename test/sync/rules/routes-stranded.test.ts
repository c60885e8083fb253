// Route files left naming a cluster an accepted cds.yaml removed (src/sync/verdict/routes-stranded.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyAdmin } from '../../../src/sync/envoy/admin.js';
import { strandedMessage, strandedRoutes, strandedRoutesOf, strandedText } from '../../../src/sync/verdict/routes-stranded.js';

const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const cds = (...names: string[]): Buffer => Buffer.from(JSON.stringify({ resources: names.map((name) => ({ '@type': CLUSTER, name })) }));
const listener = (cluster: string, validate?: boolean): Buffer => Buffer.from(JSON.stringify({
  resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', filter_chains: [{ filters: [{ typed_config: { route_config: { ...(validate === undefined ? {} : { validate_clusters: validate }), virtual_hosts: [{ routes: [{ route: { cluster } }] }] } } }] }] }],
}));
const rds = (cluster: string, validate?: boolean): Buffer => Buffer.from(JSON.stringify({
  resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'r', ...(validate === undefined ? {} : { validate_clusters: validate }), virtual_hosts: [{ routes: [{ route: { cluster } }] }] }],
}));

test('strandedRoutes: the route files naming a removed cluster Envoy lacks, sorted; none when Envoy still has it', () => {
  const routed = new Map([['rds.yaml', new Set(['b'])], ['lds.yaml', new Set(['a', 'b'])], ['other.yaml', new Set(['c'])]]);
  const cases: [string, string[], string[], { file: string; clusters: string[] }[]][] = [
    ['one removed, routed by two files', ['b'], [], [{ file: 'lds.yaml', clusters: ['b'] }, { file: 'rds.yaml', clusters: ['b'] }]],
    ['two removed', ['b', 'a'], [], [{ file: 'lds.yaml', clusters: ['a', 'b'] }, { file: 'rds.yaml', clusters: ['b'] }]],
    ['removed but Envoy still has it (another CDS file)', ['b'], ['b'], []],
    ['removed, nothing routes to it', ['z'], [], []],
    ['nothing removed', [], [], []],
  ];
  for (const [name, removed, has, want] of cases) assert.deepEqual(strandedRoutes(new Set(removed), routed, new Set(has)), want, name);
});

test('strandedRoutesOf: validated tables (inline by default, RDS when it says so) strand a route; others, and any upstream a file names, are unchecked references; Envoy is asked only when a removal strands one; no answer, no warning', async () => {
  const files: Record<string, Buffer> = { 'lds.yaml': listener('a'), 'lds-off.yaml': listener('b', false), 'rds.yaml': rds('b'), 'rds-on.yaml': rds('c', true) };
  let asked = 0;
  const admin = (clusters: string[] | Error): EnvoyAdmin => ({
    dynamicResources: () => {
      asked++;
      return clusters instanceof Error ? Promise.reject(clusters) : Promise.resolve(clusters.map((name) => ({ name, version: '1' })));
    },
  }) as unknown as EnvoyAdmin;
  const run = (previous: Buffer | undefined, now: Buffer, envoy: string[] | Error, routeFiles = Object.keys(files)) =>
    strandedRoutesOf(now, { previous, routeFiles, read: (f) => Promise.resolve(files[f]), admin: admin(envoy), timeoutMs: 100 });
  assert.deepEqual(await run(cds('a', 'b', 'c'), cds('b'), []), [{ file: 'lds.yaml', clusters: ['a'] }, { file: 'rds-on.yaml', clusters: ['c'] }]);
  assert.equal(asked, 1);
  // b: only tables that do not validate route to it: Envoy loads them without b, and answers 503 there.
  assert.deepEqual(await run(cds('a', 'b', 'c'), cds('a', 'c'), []), [{ file: 'lds-off.yaml', clusters: ['b'], unchecked: true }, { file: 'rds.yaml', clusters: ['b'], unchecked: true }]);
  assert.equal(asked, 2);
  assert.deepEqual(await run(cds('a', 'd'), cds('a'), []), [], 'nothing names d');
  assert.equal(asked, 2, 'not asked: nothing names d');
  assert.deepEqual(await run(cds('a'), cds(), ['a']), [], 'Envoy still has a');
  assert.deepEqual(await run(cds('a'), cds(), new Error('no answer')), [], 'no answer: no warning');
  assert.deepEqual(await run(undefined, cds(), []), [], 'no accepted version before');
  assert.deepEqual(await run(cds('a'), cds(), [], ['gone.yaml']), [], 'a route file gone from disk names nothing');
  // An earlier removal the last verdict said stays said while the cluster is still gone: a later removal does not hide it.
  const earlier = [{ file: 'lds.yaml', clusters: ['a'] }];
  const later = (now: Buffer, envoy: string[]) => strandedRoutesOf(now, { previous: cds('b', 'c'), earlier, routeFiles: Object.keys(files), read: (f) => Promise.resolve(files[f]), admin: admin(envoy), timeoutMs: 100 });
  assert.deepEqual(await later(cds('b'), []), [{ file: 'lds.yaml', clusters: ['a'] }, { file: 'rds-on.yaml', clusters: ['c'] }]);
  assert.deepEqual(await later(cds('a', 'b'), ['a', 'b']), [{ file: 'rds-on.yaml', clusters: ['c'] }], 'a is back');
});

test('strandedMessage and strandedText: what the line and a status row say', () => {
  assert.equal(strandedMessage('cds.yaml', '7', []), '');
  assert.equal(strandedText(undefined), '');
  const two = [{ file: 'lds.yaml', clusters: ['a'] }, { file: 'rds.yaml', clusters: ['b', 'c'] }];
  assert.equal(
    strandedMessage('cds.yaml', '7', two),
    "; but lds.yaml still routes to cluster 'a', and rds.yaml still routes to clusters 'b', 'c', which cds.yaml version 7 removed: Envoy answers 503 there, and an Envoy restarted from these files would refuse lds.yaml and rds.yaml (\"route: unknown cluster\"); remove the route too, or keep the cluster",
  );
  assert.equal(strandedText(two), ", routes left to removed clusters: lds.yaml ('a'), rds.yaml ('b', 'c')");
  const unchecked = [{ file: 'rds.yaml', clusters: ['b'], unchecked: true as const }];
  assert.equal(
    strandedMessage('cds.yaml', '7', unchecked),
    "; but rds.yaml still names cluster 'b', which cds.yaml version 7 removed: Envoy loads it without the cluster, an Envoy restarted from these files too, and what needs it fails (a route to it answers 503, a TCP proxy closes the connection, a filter's call to it fails); remove those references too, or keep the cluster",
  );
  assert.match(strandedMessage('cds.yaml', '7', [{ file: 'lds.yaml', clusters: ['a'] }, ...unchecked]), /^; but lds\.yaml still routes to cluster 'a', which .*keep the cluster; and rds\.yaml still names cluster 'b', which .*keep the cluster$/);
  assert.deepEqual(strandedRoutes(new Set(['a', 'b']), new Map([['lds.yaml', new Set(['a'])]]), new Set(), new Map([['lds.yaml', new Set(['a', 'b'])]])), [{ file: 'lds.yaml', clusters: ['a'] }, { file: 'lds.yaml', clusters: ['b'], unchecked: true }], 'a cluster a validated table names counts once, as validated');
});
