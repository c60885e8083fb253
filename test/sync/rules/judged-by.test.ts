// What judges a published file, as a table (src/sync/verdict/judged-by.ts): the one rule the tracker
// (at start and after each pass) and newly-read.ts both apply. Files published in order → what
// judges the file asked about afterwards. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { judgedBy, judgedNames } from '../../../src/sync/verdict/judged-by.js';
import { SubscriptionMap } from '../../../src/sync/verdict/subscription-map.js';

const BOOTSTRAP = `node: { id: n, cluster: c }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
`;
const HCM = `"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const listener = (extra: string) => `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        ${HCM}
        stat_prefix: ingress
${extra}`;
const TLS = listener(`        route_config: {}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
        common_tls_context:
          tls_certificate_sds_secret_configs:
          - name: server_cert
            sds_config: { path_config_source: { path: /etc/envoy/sds.yaml } }
`);
const LUA = listener(`        http_filters:
        - name: envoy.filters.http.lua
          typed_config: { default_source_code: { filename: /etc/envoy/script.lua } }
`);
const SDS = `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server_cert
  tls_certificate:
    certificate_chain: { filename: /etc/envoy/cert.pem }
    private_key: { filename: /etc/envoy/key.pem }
`;

const cases: { why: string; files: [name: string, content: string][]; name: string; expect: ReturnType<typeof judgedBy> }[] = [
  { why: 'an xDS file the bootstrap names: its subscription', files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', TLS]], name: 'lds.yaml', expect: { by: 'subscription' } },
  { why: 'a certificate whose Secret is in a file Envoy reads: that Secret', files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', TLS], ['sds.yaml', SDS], ['cert.pem', 'c']], name: 'cert.pem', expect: { by: 'secret', secret: { sdsFiles: ['sds.yaml'] } } },
  {
    why: 'a certificate whose Secret is in a file nothing reads yet: nothing (Envoy loads neither; the tracker judged it before, to an unknown verdict)',
    files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', listener('        route_config: {}\n')], ['sds.yaml', SDS], ['cert.pem', 'c']],
    name: 'cert.pem',
    expect: undefined,
  },
  { why: 'a Lua script a listener of a file Envoy reads names: that file', files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', LUA], ['script.lua', 'x']], name: 'script.lua', expect: { by: 'reader', readers: ['lds.yaml'] } },
  { why: 'a Lua script named by a listener in a file nothing reads: nothing', files: [['envoy.yaml', BOOTSTRAP], ['other.yaml', LUA], ['script.lua', 'x']], name: 'script.lua', expect: undefined },
  { why: 'a file nothing names: nothing', files: [['envoy.yaml', BOOTSTRAP], ['lds.yaml', LUA], ['notes.txt', 'x']], name: 'notes.txt', expect: undefined },
];

for (const c of cases) {
  test(`judgedBy: ${c.why}`, () => {
    const map = new SubscriptionMap('envoy.yaml');
    for (const [name, content] of c.files) map.learn(name, Buffer.from(content));
    assert.deepEqual(judgedBy(map, c.name), c.expect);
    assert.equal(judgedNames(map, [c.name]).has(c.name), c.expect !== undefined);
  });
}
