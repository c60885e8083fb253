// Which published file Envoy reads, and as what (src/sync/verdict/subscription-map.ts), as tables:
// files in publish order → the xDS types each file is read as, the files it names, and the admin
// address. Which of Envoy's stats scopes read a file is Envoy's answer (rules/attribution.test.ts). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SubscriptionMap } from '../../../src/sync/verdict/subscription-map.js';

const BOOTSTRAP = `admin:
  address: { socket_address: { address: 0.0.0.0, port_value: 9901 } }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
  cds_config: { path_config_source: { path: /etc/envoy/cds.yaml } }
node: { id: n, cluster: c }
`;
const LDS_WITH_RDS = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: ingress
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress
        rds:
          route_config_name: local
          config_source: { path_config_source: { path: /etc/envoy/rds.yaml } }
`;
const LDS = `resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n`;
const CDS = `resources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c\n`;

type Files = [name: string, content: string][];

const cases: { name: string; bootstrapName?: string; files: Files; expect: Record<string, string[]> }[] = [
  {
    name: 'the bootstrap declares LDS and CDS by path',
    files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', LDS], ['cds.yaml', CDS]],
    expect: { 'lds.yaml': ['LDS'], 'cds.yaml': ['CDS'], 'envoy.yaml': [] },
  },
  {
    name: 'an LDS file declares the RDS file its HttpConnectionManager reads',
    files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', LDS_WITH_RDS]],
    expect: { 'lds.yaml': ['LDS'], 'rds.yaml': ['RDS'] },
  },
  {
    name: 'an LDS file no longer pointing at RDS forgets it',
    files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', LDS_WITH_RDS], ['lds.yaml', LDS]],
    expect: { 'rds.yaml': [] },
  },
  {
    name: 'without a bootstrap, LDS and CDS are guessed from the resources\' @type',
    files: [['listeners.yaml', LDS], ['clusters.yaml', CDS], ['script.lua', 'print(1)']],
    expect: { 'listeners.yaml': ['LDS'], 'clusters.yaml': ['CDS'], 'script.lua': [] },
  },
  {
    name: 'without a bootstrap, a file read as LDS stays read as LDS when an edit misspells its @type (Envoy\'s LDS subscription reads the path whatever it holds, and refuses it)',
    files: [['lds.yaml', LDS], ['lds.yaml', LDS.replace('listener.v3.Listener', 'listener.v3.Listenr')]],
    expect: { 'lds.yaml': ['LDS'] },
  },
  {
    name: 'without a bootstrap, a file whose content changes to another type Envoy reads is read as that type',
    files: [['x.yaml', LDS], ['x.yaml', CDS]],
    expect: { 'x.yaml': ['CDS'] },
  },
  {
    name: 'without a bootstrap (Envoy\'s own, outside the ConfigMap), route, endpoint, Secret and extension config files are read too, by their resources\' @type',
    files: [
      ['routes.yaml', `resources:\n- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n  name: r\n`],
      ['endpoints.yaml', `resources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: c\n`],
      ['sds.yaml', `resources:\n- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n  name: "kubernetes://tls"\n`],
      ['ecds.yaml', `resources:\n- "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig\n  name: f\n  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}\n`],
      ['tls-listener.yaml', `resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n  filter_chains: [{transport_socket: {name: tls, typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext}}}]\n`],
    ],
    expect: { 'routes.yaml': ['RDS'], 'endpoints.yaml': ['EDS'], 'sds.yaml': ['SDS'], 'ecds.yaml': ['ECDS'], 'tls-listener.yaml': ['LDS'] },
  },
  {
    name: 'once a bootstrap is known, guesses no longer count',
    files: [['listeners.yaml', LDS], ['envoy.yaml', BOOTSTRAP]],
    expect: { 'listeners.yaml': [], 'lds.yaml': ['LDS'] },
  },
  {
    name: 'Envoy never reloads its bootstrap: the first one seen decides',
    files: [['envoy.yaml', BOOTSTRAP], ['envoy.yaml', BOOTSTRAP.replace(/lds\.yaml/g, 'other.yaml')]],
    expect: { 'lds.yaml': ['LDS'], 'other.yaml': [] },
  },
  {
    name: '--bootstrap names the bootstrap whatever it holds',
    bootstrapName: 'boot.json',
    files: [['boot.json', JSON.stringify({ dynamic_resources: { lds_config: { path: '/x/lds.json' } } })]],
    expect: { 'lds.json': ['LDS'] },
  },
];

for (const c of cases) {
  test(`subscription map: ${c.name}`, () => {
    const map = new SubscriptionMap(c.bootstrapName);
    for (const [name, content] of c.files) map.learn(name, Buffer.from(content));
    for (const [file, expected] of Object.entries(c.expect)) {
      assert.deepEqual([...map.readAs(file)], expected, file);
    }
  });
}

test('learn tells the kind of a file it is not told: bootstrap, xds or data', () => {
  const map = new SubscriptionMap();
  const table: [string, string, string][] = [
    ['envoy.yaml', BOOTSTRAP, 'bootstrap'],
    ['lds.yaml', LDS, 'xds'],
    ['lds.json', JSON.stringify({ resources: [] }), 'xds'],
    ['script.lua', 'print(1)', 'data'],
  ];
  for (const [name, content, kind] of table) assert.equal(map.learn(name, Buffer.from(content)), kind, name);
  assert.equal(map.learn('x.yaml', Buffer.from('a: 1\n'), 'bootstrap'), 'bootstrap', 'the syncer\'s kind wins');
});

test('the admin address comes from the first bootstrap, or the map says why there is none', () => {
  const none = new SubscriptionMap();
  assert.deepEqual(none.bootstrapAdmin(), { admin: undefined, problem: 'no bootstrap in the ConfigMap (--bootstrap NAME) to read admin.address from' });
  // Named with --bootstrap but never published (missing, or the gate refused it: it does not parse): not said to be absent (fresh-user trial).
  const named = new SubscriptionMap('envoy.yaml');
  assert.match(named.bootstrapAdmin().problem ?? '', /^no bootstrap envoy\.yaml \(--bootstrap\) published to read admin\.address from: the ConfigMap has no such key, or its envoy\.yaml does not parse/);
  const map = new SubscriptionMap();
  map.learn('envoy.yaml', Buffer.from(BOOTSTRAP));
  assert.deepEqual(map.bootstrapAdmin(), { admin: { host: '127.0.0.1', port: 9901 }, problem: undefined });
  assert.deepEqual(map.list(), [
    { file: 'cds.yaml', type: 'CDS' },
    { file: 'lds.yaml', type: 'LDS' },
  ]);
  const portless = new SubscriptionMap();
  portless.learn('envoy.yaml', Buffer.from(BOOTSTRAP.replace('9901', '0')));
  assert.equal(portless.bootstrapAdmin().admin, undefined);
  assert.match(portless.bootstrapAdmin().problem ?? '', /no fixed port/);
});

test('the files a file names, the versions it was published with, and the files a Secret reads', () => {
  const map = new SubscriptionMap();
  map.learn('envoy.yaml', Buffer.from(BOOTSTRAP));
  map.learn('lds.yaml', Buffer.from(LDS_WITH_RDS), 'xds', 'v1');
  map.learn('lds.yaml', Buffer.from(LDS_WITH_RDS), 'xds', 'v2');
  assert.deepEqual(map.names('lds.yaml'), ['rds.yaml']);
  assert.equal(map.pathOf('rds.yaml'), '/etc/envoy/rds.yaml');
  assert.deepEqual(map.facts().find((f) => f.name === 'lds.yaml')?.versions, new Set(['v1', 'v2']));
  map.learn('sds.yaml', Buffer.from(`resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server_cert
  tls_certificate: {certificate_chain: {filename: /etc/envoy/cert.pem}, private_key: {filename: /etc/envoy/key.pem}}
`), 'xds');
  assert.deepEqual(map.secretReaders('key.pem'), { sdsFiles: ['sds.yaml'], certificates: ['cert.pem'] });
  assert.deepEqual(map.secretReaders('lds.yaml'), { sdsFiles: [], certificates: [] });
  assert.equal(map.isRead('cert.pem'), false, 'a certificate is judged through its secret, not as xDS');
});

// Envoy's bootstrap as its admin API shows it (Envoy 1.40's answer to
// /config_dump?mask=last_updated,bootstrap.dynamic_resources,bootstrap.static_resources, the
// BootstrapConfigDump's `bootstrap`): what the watcher reads when the ConfigMap holds no bootstrap.
const ENVOYS_BOOTSTRAP = {
  static_resources: {
    listeners: [{
      name: 'static_l',
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'st',
        rds: { config_source: { path_config_source: { path: '/etc/envoy/xds/rds.yaml' } }, route_config_name: 'r1' },
      } }] }],
    }],
  },
  dynamic_resources: { lds_config: { path_config_source: { path: '/etc/envoy/xds/lds.yaml' } }, cds_config: { path: '/etc/envoy/xds/cds.yaml' } },
};
const MISSPELT_LDS = LDS.replace('listener.v3.Listener', 'listener.v3.Listenr');

test("Envoy's own bootstrap (its config dump) says which files its subscriptions read: a first version with a misspelt @type is read as LDS, with the path Envoy uses", () => {
  const map = new SubscriptionMap();
  map.learn('lds.yaml', Buffer.from(MISSPELT_LDS), 'xds', 'v0');
  map.learn('listeners.yaml', Buffer.from(LDS), 'xds', 'x0');
  assert.deepEqual([...map.readAs('lds.yaml')], [], 'the misspelt @type names no type: no guess');
  assert.deepEqual([...map.readAs('listeners.yaml')], ['LDS'], 'the guess, until Envoy answers');
  assert.deepEqual(map.learnEnvoyBootstrap(ENVOYS_BOOTSTRAP), ['cds.yaml', 'lds.yaml', 'rds.yaml'], 'the files read now that were not before');
  assert.deepEqual([...map.readAs('lds.yaml')], ['LDS']);
  assert.deepEqual([...map.readAs('cds.yaml')], ['CDS'], 'the deprecated `path` too');
  assert.deepEqual([...map.readAs('rds.yaml')], ['RDS'], "a static listener's RDS source");
  assert.deepEqual([...map.readAs('listeners.yaml')], [], "Envoy's bootstrap names it nowhere: the guess no longer counts");
  assert.equal(map.pathOf('lds.yaml'), '/etc/envoy/xds/lds.yaml');
  assert.equal(map.learnEnvoyBootstrap(ENVOYS_BOOTSTRAP), undefined, 'the same bootstrap object: nothing new');
  assert.deepEqual(map.learnEnvoyBootstrap({ ...ENVOYS_BOOTSTRAP }), [], 'another process, the same files');
});

test('while Envoy is asked for its bootstrap and has not answered, every xDS file may be read (mayBeRead); once it answers, only what it reads', () => {
  const table: { name: string; ask: boolean; learnt: boolean; bootstrapInConfigMap: boolean; want: Record<string, boolean> }[] = [
    { name: 'not asking (no admin address)', ask: false, learnt: false, bootstrapInConfigMap: false, want: { 'lds.yaml': false, 'listeners.yaml': true, 'script.lua': false } },
    { name: 'asking, no answer yet', ask: true, learnt: false, bootstrapInConfigMap: false, want: { 'lds.yaml': true, 'listeners.yaml': true, 'script.lua': false } },
    { name: 'asking, answered', ask: true, learnt: true, bootstrapInConfigMap: false, want: { 'lds.yaml': true, 'listeners.yaml': false, 'script.lua': false } },
    { name: 'the bootstrap is in the ConfigMap', ask: false, learnt: false, bootstrapInConfigMap: true, want: { 'lds.yaml': true, 'listeners.yaml': false, 'script.lua': false } },
  ];
  for (const row of table) {
    const map = new SubscriptionMap();
    if (row.bootstrapInConfigMap) map.learn('envoy.yaml', Buffer.from(BOOTSTRAP));
    assert.equal(map.hasBootstrap(), row.bootstrapInConfigMap, row.name);
    if (row.ask) map.askEnvoy();
    map.learn('lds.yaml', Buffer.from(MISSPELT_LDS));
    map.learn('listeners.yaml', Buffer.from(LDS));
    map.learn('script.lua', Buffer.from('print(1)'));
    if (row.learnt) map.learnEnvoyBootstrap(ENVOYS_BOOTSTRAP);
    assert.equal(map.envoysBootstrapKnown(), row.learnt, row.name);
    for (const [file, want] of Object.entries(row.want)) assert.equal(map.mayBeRead(file), want, `${row.name}: ${file}`);
  }
});

test('scoped routes: srds.yaml is read as SRDS and names the route file its scopes open RDS subscriptions on (verdict case 14); a runtime layer file as RTDS (15)', () => {
  const bootstrap = `${BOOTSTRAP}layered_runtime:
  layers:
  - name: rtds
    rtds_layer: { name: rtds, rtds_config: { path_config_source: { path: /etc/envoy/rtds.yaml } } }
`;
  const lds = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: ingress
  filter_chains:
  - filters:
    - typed_config:
        scoped_routes:
          name: tenants
          rds_config_source: { path_config_source: { path: /etc/envoy/rds.yaml } }
          scoped_rds: { scoped_rds_config_source: { path_config_source: { path: /etc/envoy/srds.yaml } } }
`;
  const map = new SubscriptionMap('envoy.yaml');
  for (const [name, content] of [['envoy.yaml', bootstrap], ['lds.yaml', lds]] as const) map.learn(name, Buffer.from(content));
  assert.deepEqual([...map.readAs('srds.yaml')], ['SRDS']);
  assert.deepEqual([...map.readAs('rds.yaml')], ['RDS']);
  assert.deepEqual([...map.readAs('rtds.yaml')], ['RTDS']);
  assert.deepEqual(map.names('srds.yaml'), ['rds.yaml']);
  assert.deepEqual(map.names('lds.yaml'), ['rds.yaml', 'srds.yaml']);
  // Who names a file: by path, and the SRDS file whose scopes read the route file (never-read.ts).
  assert.deepEqual(map.namersOf('rds.yaml'), ['lds.yaml', 'srds.yaml']);
  assert.deepEqual(map.namersOf('srds.yaml'), ['lds.yaml']);
  assert.deepEqual(map.namersOf('lds.yaml'), ['envoy.yaml']);
  assert.deepEqual(map.namersOf('cds.yaml'), ['envoy.yaml']);
  assert.deepEqual(map.namersOf('other.yaml'), []);
  // Without the bootstrap, a file's resources say it: ScopedRouteConfiguration → SRDS, Runtime → RTDS.
  const guessed = new SubscriptionMap();
  guessed.learn('srds.yaml', Buffer.from('resources:\n- "@type": type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration\n  name: a\n'));
  guessed.learn('rtds.yaml', Buffer.from('resources:\n- "@type": type.googleapis.com/envoy.service.runtime.v3.Runtime\n  name: rtds\n'));
  assert.deepEqual([...guessed.readAs('srds.yaml')], ['SRDS']);
  assert.deepEqual([...guessed.readAs('rtds.yaml')], ['RTDS']);
});
