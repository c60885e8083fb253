import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { findReferences } from '../../src/sync/envoy/references.js';
import { bootstrapInfo, describeAdmin, parseAdminAddress, parseConfig } from '../../src/sync/envoy/subscriptions.js';

const BOOTSTRAP = `
admin:
  address: {socket_address: {address: 0.0.0.0, port_value: 9901}}
dynamic_resources:
  lds_config: {resource_api_version: V3, path_config_source: {path: /etc/envoy/lds.yaml, watched_directory: {path: /etc/envoy}}}
  cds_config: {path: /etc/envoy/cds.yaml}  # the deprecated form
static_resources:
  clusters:
  - name: backend
    type: EDS
    eds_cluster_config: {eds_config: {path_config_source: {path: /etc/envoy/eds.yaml}}}
  secrets: []
`;

test('the bootstrap names the admin address and the LDS/CDS files; static resources name nested ones', () => {
  const info = bootstrapInfo(parseConfig(BOOTSTRAP));
  assert.deepEqual(info.admin, { host: '127.0.0.1', port: 9901 }); // 0.0.0.0 is reachable on loopback
  assert.deepEqual(
    findReferences(parseConfig(BOOTSTRAP)).map((r) => [r.type, r.file, r.resource]),
    [
      ['LDS', 'lds.yaml', undefined],
      ['CDS', 'cds.yaml', undefined],
      ['EDS', 'eds.yaml', 'backend'],
    ],
  );
});

test('admin over a unix pipe, IPv6, and the cases with no usable address', () => {
  assert.deepEqual(bootstrapInfo(parseConfig('admin: {address: {pipe: {path: /run/envoy/admin.sock}}}')).admin, { socketPath: '/run/envoy/admin.sock' });
  assert.deepEqual(bootstrapInfo(parseConfig('admin: {address: {socket_address: {address: "::", port_value: 15000}}}')).admin, { host: '::1', port: 15000 });
  for (const text of ['node: {id: a}', 'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}']) {
    const info = bootstrapInfo(parseConfig(text));
    assert.equal(info.admin, undefined);
    assert.match(info.adminProblem ?? '', /admin/);
  }
});

test('an LDS file names its RDS files (per HttpConnectionManager) and SDS files; a CDS file its EDS files', () => {
  const lds = `
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress
        rds: {route_config_name: main, config_source: {path_config_source: {path: /etc/envoy/rds.yaml}}}
    transport_socket:
      name: tls
      typed_config:
        common_tls_context:
          tls_certificate_sds_secret_configs:
          - name: server-cert
            sds_config: {path_config_source: {path: /etc/envoy/sds.yaml}}
`;
  assert.deepEqual(
    findReferences(parseConfig(lds)).map((r) => [r.type, r.file, r.resource]),
    [
      ['RDS', 'rds.yaml', 'main'],
      ['SDS', 'sds.yaml', 'server-cert'],
    ],
  );
  // Envoy's YAML takes tags such as !ignore; finding paths must too.
  assert.equal(findReferences(parseConfig(`x: !ignore &a {k: 1}\nlds_config: {path_config_source: {path: /a/l.yaml}}`)).length, 1);
});

test('--admin takes HOST:PORT, [IPv6]:PORT, http://HOST:PORT and unix socket paths', () => {
  assert.deepEqual(parseAdminAddress('127.0.0.1:9901'), { host: '127.0.0.1', port: 9901 });
  assert.deepEqual(parseAdminAddress('http://localhost:15000/'), { host: 'localhost', port: 15000 });
  assert.deepEqual(parseAdminAddress('[::1]:9901'), { host: '::1', port: 9901 });
  assert.deepEqual(parseAdminAddress('/run/admin.sock'), { socketPath: '/run/admin.sock' });
  assert.deepEqual(parseAdminAddress('unix:/run/admin.sock'), { socketPath: '/run/admin.sock' });
  for (const bad of ['9901', 'host:0', 'host:x', '', 'unix:', 'my host:9901', '127.0.0.1:9901 ', '/run/admin sock']) assert.throws(() => parseAdminAddress(bad), /HOST:PORT/);
  assert.equal(describeAdmin({ host: '::1', port: 1 }), '[::1]:1');
});
