// Which renames of a pass wait for Envoy to have read an earlier file (src/sync/publish/rename-waits.ts),
// and the plan the syncer follows (publishPlan, src/sync/publish/reference-order.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Reference } from '../../../src/sync/envoy/references.js';
import { publishPlan } from '../../../src/sync/publish/reference-order.js';
import { addsResources, renameWaits } from '../../../src/sync/publish/rename-waits.js';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const ENDPOINTS = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const LISTENER = 'envoy.config.listener.v3.Listener';
const ROUTES = 'envoy.config.route.v3.RouteConfiguration';
const SECRET = 'envoy.extensions.transport_sockets.tls.v3.Secret';
const ECDS = 'envoy.config.core.v3.TypedExtensionConfig';

test('a listener or route file waits for the cluster files renamed before it; nothing else waits', () => {
  const cases: { name: string; files: [string, string[]][]; want: string[][] }[] = [
    { name: 'one file', files: [['lds.yaml', [LISTENER]]], want: [[]] },
    { name: 'no file', files: [], want: [] },
    { name: 'clusters, then listeners routing to them', files: [['cds.yaml', [CLUSTER]], ['lds.yaml', [LISTENER]]], want: [[], ['cds.yaml']] },
    { name: 'clusters, then routes', files: [['cds.yaml', [CLUSTER]], ['rds.yaml', [ROUTES]]], want: [[], ['cds.yaml']] },
    {
      name: 'endpoints and clusters, then routes and listeners: one wait, for the clusters only',
      files: [['eds.yaml', [ENDPOINTS]], ['cds.yaml', [CLUSTER]], ['rds.yaml', [ROUTES]], ['lds.yaml', [LISTENER]]],
      want: [[], [], ['cds.yaml'], []],
    },
    { name: 'two cluster files, then listeners: both waited for at once', files: [['a-cds.yaml', [CLUSTER]], ['b-cds.yaml', [CLUSTER]], ['lds.yaml', [LISTENER]]], want: [[], [], ['a-cds.yaml', 'b-cds.yaml']] },
    { name: 'files of one type (two cluster files)', files: [['a-cds.yaml', [CLUSTER]], ['b-cds.yaml', [CLUSTER]]], want: [[], []] },
    { name: 'files of one type (two listener files)', files: [['a-lds.yaml', [LISTENER]], ['b-lds.yaml', [LISTENER]]], want: [[], []] },
    { name: 'endpoints before the clusters that name them: only existence matters', files: [['eds.yaml', [ENDPOINTS]], ['cds.yaml', [CLUSTER]]], want: [[], []] },
    { name: 'a new route file before the listener that names it: only existence matters', files: [['rds.yaml', [ROUTES]], ['lds.yaml', [LISTENER]]], want: [[], []] },
    { name: 'secrets and extension configs before listeners', files: [['sds.yaml', [SECRET]], ['ecds.yaml', [ECDS]], ['lds.yaml', [LISTENER]]], want: [[], [], []] },
    // Envoy accepts a filter config naming a cluster it lacks, and the filter fails requests until the cluster arrives.
    { name: 'clusters, then an extension config (ECDS) naming them, then listeners: one wait', files: [['cds.yaml', [CLUSTER]], ['ecds.yaml', [ECDS]], ['lds.yaml', [LISTENER]]], want: [[], ['cds.yaml'], []] },
    { name: 'data files and the bootstrap (no types)', files: [['cert.pem', []], ['cds.yaml', [CLUSTER]], ['envoy.yaml', []]], want: [[], [], []] },
    { name: 'listeners renamed before clusters (no bootstrap to rank them): no wait backwards', files: [['lds.yaml', [LISTENER]], ['cds.yaml', [CLUSTER]]], want: [[], []] },
  ];
  for (const c of cases) assert.deepEqual(renameWaits(c.files.map(([name, types]) => ({ name, types }))), c.want, c.name);
});

test('publishPlan: the cluster file ranked by the bootstrap (no clusters of its own) is waited for before the listeners', () => {
  const bootstrap: Reference[] = [
    { type: 'CDS', file: 'cds.yaml', path: '/etc/envoy/cds.yaml' },
    { type: 'LDS', file: 'lds.yaml', path: '/etc/envoy/lds.yaml' },
  ];
  const listeners = { type: 'xds' as const, resourceTypes: [`type.googleapis.com/${LISTENER}`] };
  const clusters = { type: 'xds' as const, resourceTypes: [`type.googleapis.com/${CLUSTER}`] };
  const noClusters = { type: 'xds' as const, resourceTypes: [] };
  const plan = (changes: { name: string; kind: typeof listeners }[], refs: Map<string, Reference[]>) => publishPlan(changes, refs).map((step) => [step.change.name, step.waitFor]);
  assert.deepEqual(plan([{ name: 'lds.yaml', kind: listeners }, { name: 'cds.yaml', kind: clusters }], new Map()), [['cds.yaml', []], ['lds.yaml', ['cds.yaml']]]);
  assert.deepEqual(plan([{ name: 'lds.yaml', kind: listeners }, { name: 'cds.yaml', kind: noClusters }], new Map([['envoy.yaml', bootstrap]])), [['cds.yaml', []], ['lds.yaml', ['cds.yaml']]]);
  // Nothing says cds.yaml holds clusters: ranked after the listeners, and nothing waits.
  assert.deepEqual(plan([{ name: 'lds.yaml', kind: listeners }, { name: 'cds.yaml', kind: noClusters }], new Map()), [['lds.yaml', []], ['cds.yaml', []]]);
  // An extension config file (ECDS) and the cluster file of the same change: the clusters first, then the wait.
  const filterConfig = { type: 'xds' as const, resourceTypes: [`type.googleapis.com/${ECDS}`] };
  assert.deepEqual(plan([{ name: 'ecds.yaml', kind: filterConfig }, { name: 'cds.yaml', kind: clusters }], new Map()), [['cds.yaml', []], ['ecds.yaml', ['cds.yaml']]]);
  // The bootstrap itself never waits (Envoy does not reload it).
  assert.deepEqual(plan([{ name: 'cds.yaml', kind: clusters }, { name: 'envoy.yaml', kind: { type: 'bootstrap' } as never }], new Map()), [['cds.yaml', []], ['envoy.yaml', []]]);
});

test('a cluster file that adds no cluster name is not waited for; unknown counts as adding', () => {
  const files = (adds: boolean | undefined) => [{ name: 'cds.yaml', types: [CLUSTER], ...(adds === undefined ? {} : { adds }) }, { name: 'lds.yaml', types: [LISTENER] }];
  assert.deepEqual(renameWaits(files(false)), [[], []], 'same clusters (or fewer): nothing new to route to');
  assert.deepEqual(renameWaits(files(true)), [[], ['cds.yaml']]);
  assert.deepEqual(renameWaits(files(undefined)), [[], ['cds.yaml']], 'not known: wait');
  // Two cluster files, one adding: only that one is waited for.
  assert.deepEqual(
    renameWaits([{ name: 'a-cds.yaml', types: [CLUSTER], adds: false }, { name: 'b-cds.yaml', types: [CLUSTER], adds: true }, { name: 'rds.yaml', types: [ROUTES] }]),
    [[], [], ['b-cds.yaml']],
  );
});

test('addsResources: names as written against the content last renamed there', () => {
  const kind = (names?: string[]) => ({ type: 'xds' as const, resourceTypes: [`type.googleapis.com/${CLUSTER}`], ...(names === undefined ? {} : { resourceNames: names }) });
  const cases: { name: string; published: string[] | undefined; kind: Parameters<typeof addsResources>[1]; want: boolean | undefined }[] = [
    { name: 'nothing renamed there yet (or a rollback since)', published: undefined, kind: kind(['a']), want: undefined },
    { name: 'the same names', published: ['a', 'b'], kind: kind(['b', 'a']), want: false },
    { name: 'fewer names', published: ['a', 'b'], kind: kind(['a']), want: false },
    { name: 'a renamed cluster is a new name', published: ['a', 'b'], kind: kind(['a', 'c']), want: true },
    { name: 'one more', published: ['a'], kind: kind(['a', 'b']), want: true },
    { name: 'no resources now', published: ['a'], kind: kind(), want: false },
    { name: 'clusters where there were none', published: [], kind: kind(['a']), want: true },
    { name: 'not an xDS file', published: [], kind: { type: 'data' }, want: undefined },
  ];
  for (const c of cases) assert.equal(addsResources(c.published === undefined ? undefined : new Set(c.published), c.kind), c.want, c.name);
});
