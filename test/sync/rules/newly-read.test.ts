// Which files Envoy may read after each publish (src/sync/verdict/judged-by.ts judgedNames), as a
// table: files in publish order → the files read after each. A file published before the file
// naming it becomes read with that file's publish (the tracker then judges it). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { judgedNames } from '../../../src/sync/verdict/judged-by.js';
import { SubscriptionMap } from '../../../src/sync/verdict/subscription-map.js';

const BOOTSTRAP = `node: { id: n, cluster: c }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
`;
const HCM = `"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const listener = (extra: string) => `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        ${HCM}
        stat_prefix: ingress
${extra}`;
const PLAIN = listener('        route_config: {}\n');
const SCOPED = listener(`        scoped_routes:
          name: tenant_scopes
          rds_config_source: { path_config_source: { path: /etc/envoy/rds.yaml } }
          scoped_rds: { scoped_rds_config_source: { path_config_source: { path: /etc/envoy/srds.yaml } } }
`);
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
const SRDS = `resources:\n- "@type": type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration\n  name: a\n  route_configuration_name: r\n`;
const RDS = `resources:\n- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n  name: r\n`;
const SDS = `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server_cert
  tls_certificate:
    certificate_chain: { filename: /etc/envoy/cert.pem }
    private_key: { filename: /etc/envoy/key.pem }
`;

const cases: { name: string; passes: [name: string, content: string][][]; read: string[][] }[] = [
  {
    name: 'scopes and routes published before the listener naming them are read once it is published',
    passes: [[['envoy.yaml', BOOTSTRAP], ['lds.yaml', PLAIN]], [['srds.yaml', SRDS], ['rds.yaml', RDS]], [['lds.yaml', SCOPED]]],
    read: [['lds.yaml'], ['lds.yaml'], ['lds.yaml', 'rds.yaml', 'srds.yaml']],
  },
  {
    name: 'a certificate and key are read once the Secret reading them is in a file Envoy reads',
    passes: [[['envoy.yaml', BOOTSTRAP], ['lds.yaml', PLAIN]], [['cert.pem', 'c'], ['key.pem', 'k']], [['sds.yaml', SDS]], [['lds.yaml', TLS]]],
    read: [['lds.yaml'], ['lds.yaml'], ['lds.yaml'], ['cert.pem', 'key.pem', 'lds.yaml', 'sds.yaml']],
  },
];

for (const c of cases) {
  test(`judgedNames: ${c.name}`, () => {
    const map = new SubscriptionMap();
    const published = new Set<string>();
    c.passes.forEach((pass, index) => {
      for (const [name, content] of pass) {
        map.learn(name, Buffer.from(content));
        published.add(name);
      }
      assert.deepEqual([...judgedNames(map, published)].sort(), c.read[index], `after pass ${String(index + 1)}`);
    });
  });
}
