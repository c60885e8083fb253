// Which file a subscription that reports no version of ours reads, when several files are read as
// its type: the tie-break by the name Envoy gave its stats scope (stat-prefixes.ts scopeNamedAfter,
// verdict/attribution.ts), as tables. An EDS subscription lives in its cluster's scope, named after
// the cluster's alt_stat_name, else its name, never after the service_name its file is asked for
// (measured on 1.40: the corpus sequence contour-new-ingress-eds-refused); so an EDS scope is matched
// by name even when one file is read as EDS (grpc-eds-beside-file-eds). An RDS subscription a scope
// opens is named after the route configuration the scope names, on its scoped routes'
// rds_config_source file (srds-new-scope-second-rds-file). Pure.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { rdsScopeOf, scopeRouteNames } from '../../../src/sync/envoy/scoped-routes.js';
import { scopeNamedAfter } from '../../../src/sync/envoy/stat-prefixes.js';
import type { SubscriptionCounters, SubscriptionType } from '../../../src/sync/envoy/stat-prefixes.js';
import { attribute } from '../../../src/sync/verdict/attribution.js';
import type { FileFacts } from '../../../src/sync/verdict/attribution.js';
import { SubscriptionMap } from '../../../src/sync/verdict/subscription-map.js';

const named: [prefix: string, type: SubscriptionType, name: string, expect: boolean, why: string][] = [
  ['cluster.default_s2_80', 'EDS', 'default_s2_80', true, "a cluster's alt_stat_name"],
  ['cluster.default/s2/80/da39a3ee5e', 'EDS', 'default/s2/80/da39a3ee5e', true, "a cluster's name, without alt_stat_name"],
  ['cluster.default_s2_80', 'EDS', 'default/s2/http', false, 'the service_name is never the scope'],
  ['cluster.outbound_8080__backend', 'EDS', 'outbound:8080::backend', true, "':' sanitised in the cluster's name"],
  ['cluster.kubernetes_backend', 'EDS', 'kubernetes://backend', true, "'://' sanitised"],
  ['cluster.x.default_s2_80', 'EDS', 'default_s2_80', false, 'a cluster scope is the whole name, not a suffix of it'],
  ['http.ingress_http.rds.backend.default.svc.cluster.local_8080', 'RDS', 'backend.default.svc.cluster.local:8080', true, 'an RDS scope ends with the route_config_name'],
  ['sds.kubernetes_envoy-tls', 'SDS', 'kubernetes://envoy-tls', true, 'an SDS scope ends with the secret name'],
  ['sds.kubernetes_envoy-tls', 'SDS', 'tls', false, 'only after a dot'],
];

test('scopeNamedAfter: the name Envoy gives a subscription stats scope, per type', () => {
  for (const [prefix, type, name, expect, why] of named) assert.equal(scopeNamedAfter(prefix, type, name), expect, `${prefix} ${type} ${name}: ${why}`);
});

const refused = (versionText = ''): SubscriptionCounters => ({ versionText, attempt: 1, success: 0, rejected: 1, failure: 0 });
const eds = (name: string, clusters: string[], versions: string[] = []): FileFacts => ({ name, readAs: new Set(['EDS']), versions: new Set(versions), scopeNames: clusters.map((cluster) => ({ type: 'EDS', name: cluster })) });

const ties: { why: string; scopes: string[]; files: FileFacts[]; expect: Record<string, string> }[] = [
  {
    why: 'two EDS files, clusters with alt_stat_name: each new scope to the file its cluster reads',
    scopes: ['cluster.default_s1_80', 'cluster.default_s2_80'],
    files: [eds('eds-s1.json', ['default_s1_80']), eds('eds-s2.json', ['default_s2_80'])],
    expect: { 'cluster.default_s1_80': 'eds-s1.json', 'cluster.default_s2_80': 'eds-s2.json' },
  },
  {
    why: "two EDS files, clusters named without alt_stat_name, asking for other service_names: the cluster's name",
    scopes: ['cluster.default/s2/80/da39a3ee5e'],
    files: [eds('eds-s1.json', ['default/s1/80/da39a3ee5e']), eds('eds-s2.json', ['default/s2/80/da39a3ee5e'])],
    expect: { 'cluster.default/s2/80/da39a3ee5e': 'eds-s2.json' },
  },
  {
    why: 'one EDS file read by two clusters: both scopes are its own',
    scopes: ['cluster.a_stats', 'cluster.b'],
    files: [eds('eds.json', ['a_stats', 'b'])],
    expect: { 'cluster.a_stats': 'eds.json', 'cluster.b': 'eds.json' },
  },
  {
    why: 'one EDS file: the scope of a cluster that reads no published file (EDS over gRPC, counting update_failure) is not taken for it',
    scopes: ['cluster.default_s1_80', 'cluster.grpc_eds'],
    files: [eds('eds-s1.json', ['default_s1_80'])],
    expect: { 'cluster.default_s1_80': 'eds-s1.json' },
  },
  {
    why: 'one EDS file whose clusters are not known (its type guessed from its @type before Envoy answered): by type alone',
    scopes: ['cluster.x'],
    files: [eds('eds.json', [])],
    expect: { 'cluster.x': 'eds.json' },
  },
  {
    why: 'one RDS file: a scope named after none of its resources (an RDS subscription an SRDS file opens) is still its own, by type',
    scopes: ['http.ingress.rds.tenant_routes'],
    files: [{ name: 'rds.yaml', readAs: new Set(['RDS']), versions: new Set(), scopeNames: [{ type: 'RDS', name: 'local' }] }],
    expect: { 'http.ingress.rds.tenant_routes': 'rds.yaml' },
  },
  {
    why: 'a scope named after no file, or after both, stays out',
    scopes: ['cluster.other', 'cluster.shared'],
    files: [eds('a.json', ['a', 'shared']), eds('b.json', ['b', 'shared'])],
    expect: {},
  },
  {
    why: 'an RDS name equal to the cluster stat name breaks no EDS tie',
    scopes: ['cluster.s2'],
    files: [eds('a.json', []), { ...eds('b.json', []), readAs: new Set(['EDS', 'RDS']), scopeNames: [{ type: 'RDS', name: 's2' }] }],
    expect: {},
  },
];

test('attribution: a tie between files of one type, or any EDS scope, is matched by the name Envoy gave the scope', () => {
  for (const { why, scopes, files, expect } of ties) {
    const subscriptions = new Map(scopes.map((prefix) => [prefix, refused()]));
    assert.deepEqual(Object.fromEntries(attribute(subscriptions, files)), expect, why);
  }
});

test('attribution: the Contour corpus, a new Ingress whose EDS file Envoy refuses, from the files as published', () => {
  const dir = new URL('../../fixtures/envoy-corpus/sequences/contour-json-watched-directory/', import.meta.url);
  const read = (name: string): Buffer => Buffer.from(readFileSync(new URL(name, dir), 'utf8').replaceAll('@DST@', '/etc/envoy').replaceAll('@ADMIN@', '9901'));
  const map = new SubscriptionMap('envoy.yaml');
  map.learn('envoy.yaml', read('envoy.yaml'), 'bootstrap');
  map.learn('cds.json', read('cds-v1.json'), 'xds', 'c1');
  map.learn('eds-s1.json', read('eds-s1.json'), 'xds', 'e1');
  map.learn('eds-s2.json', read('eds-s2.json'), 'xds', 'e2');
  // cluster.default_s1_80 runs e1; cluster.default_s2_80 (alt_stat_name; service_name default/s2/http) refused its first version.
  const subscriptions = new Map([['cluster_manager.cds', refused('c1')], ['cluster.default_s1_80', refused('e1')], ['cluster.default_s2_80', refused()]]);
  assert.deepEqual(Object.fromEntries(attribute(subscriptions, map.facts())), { 'cluster_manager.cds': 'cds.json', 'cluster.default_s1_80': 'eds-s1.json', 'cluster.default_s2_80': 'eds-s2.json' });
});

test('scopeRouteNames: the route configurations the scopes of an SRDS file name; rdsScopeOf: the RDS scope a connection manager opens', () => {
  const scope = (name: string, route?: string): Record<string, unknown> => ({ '@type': 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration', name, ...(route === undefined ? {} : { route_configuration_name: route }) });
  const cases: [parsed: unknown, expect: string[], why: string][] = [
    [{ resources: [scope('a', 'rc'), scope('b', 'rc_b')] }, ['rc', 'rc_b'], 'one per scope, in file order'],
    [{ resources: [scope('a', 'rc'), scope('b', 'rc')] }, ['rc'], 'two scopes on one route configuration: one subscription'],
    [{ resources: [scope('a'), scope('b', '')] }, [], 'no route_configuration_name (Envoy refuses the scope): none'],
    [{ resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'rc', route_configuration_name: 'x' }] }, [], 'another @type'],
    [{ resources: 'x' }, [], 'no list'],
    [undefined, [], 'no content'],
  ];
  for (const [parsed, expect, why] of cases) assert.deepEqual(scopeRouteNames(parsed), expect, why);
  assert.equal(rdsScopeOf('scoped', 'scoped_rc_b'), 'http.scoped.rds.scoped_rc_b');
  assert.equal(rdsScopeOf('ingress_http', 'backend:8080'), 'http.ingress_http.rds.backend_8080', "':' sanitised, as in the whole scope name");
});

test('attribution: two RDS files, one the rds_config_source of scoped routes; the subscription a new scope opens is that file\'s, from the files as published', () => {
  const dir = new URL('../../fixtures/envoy-corpus/sequences/srds-new-scope-second-rds-file/', import.meta.url);
  const read = (name: string): Buffer => Buffer.from(readFileSync(new URL(name, dir), 'utf8').replaceAll('@DST@', '/etc/envoy').replaceAll('@ADMIN@', '9901').replaceAll(/@P\d@/g, '10000'));
  const map = new SubscriptionMap('envoy.yaml');
  map.learn('envoy.yaml', Buffer.from(readFileSync(new URL('../../../verdict-cases/14-scoped-routes-srds/envoy.yaml', dir), 'utf8').replaceAll('@DST@', '/etc/envoy').replaceAll('@ADMIN@', '9901')), 'bootstrap');
  map.learn('lds.yaml', read('lds.yaml'), 'xds', 'l1');
  map.learn('rds.yaml', read('rds.yaml'), 'xds', 'r1');
  map.learn('rds-scoped.yaml', read('rds-scoped.yaml'), 'xds', 's1');
  map.learn('srds.yaml', read('srds-v0.yaml'), 'xds', 'd0');
  // Measured on 1.40 (trial 3): the edit's scope tenant_b opens http.scoped.rds.scoped_rc_b on rds-scoped.yaml, which refuses it.
  const subscriptions = new Map([
    ['listener_manager.lds', refused('l1')],
    ['http.ingress.rds.local_route', refused('r1')],
    ['http.scoped.rds.scoped_rc', refused('s1')],
    ['http.scoped.scoped_rds.scoped_routes_1', refused('d1')],
    ['http.scoped.rds.scoped_rc_b', refused()],
  ]);
  // Before the content naming scoped_rc_b is published, nothing names that scope: it stays out.
  assert.equal(attribute(subscriptions, map.facts()).get('http.scoped.rds.scoped_rc_b'), undefined);
  map.learn('srds.yaml', read('srds-v1-new-route.yaml'), 'xds', 'd1');
  assert.deepEqual(Object.fromEntries(attribute(subscriptions, map.facts())), {
    'listener_manager.lds': 'lds.yaml',
    'http.ingress.rds.local_route': 'rds.yaml',
    'http.scoped.rds.scoped_rc': 'rds-scoped.yaml',
    'http.scoped.scoped_rds.scoped_routes_1': 'srds.yaml',
    'http.scoped.rds.scoped_rc_b': 'rds-scoped.yaml',
  });
  // A route configuration named on both files (by the other listener's rds too): the connection manager's stat prefix decides.
  const both = (files: FileFacts[]): FileFacts[] => files.map((file) => (file.name === 'rds.yaml' ? { ...file, scopeNames: [...(file.scopeNames ?? []), { type: 'RDS', name: 'scoped_rc_b', statPrefix: 'ingress' }] } : file));
  const tie = new Map([['http.scoped.rds.scoped_rc_b', refused()], ['http.ingress.rds.scoped_rc_b', refused()], ['http.other.rds.scoped_rc_b', refused()]]);
  assert.deepEqual(Object.fromEntries(attribute(tie, both(map.facts()))), { 'http.scoped.rds.scoped_rc_b': 'rds-scoped.yaml', 'http.ingress.rds.scoped_rc_b': 'rds.yaml' }, 'a stat prefix no connection manager of either has stays out');
});
