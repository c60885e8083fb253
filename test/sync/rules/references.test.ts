import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { findReferences } from '../../../src/sync/envoy/references.js';

test('every file a configuration names, with the type Envoy reads it as', () => {
  const lds = load(`
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l
  filter_chains:
  - filters:
    - typed_config:
        stat_prefix: ingress
        http_filters:
        - name: fault_abort
          config_discovery: {config_source: {path_config_source: {path: /etc/envoy/ecds.yaml}}}
        rds: {route_config_name: "backend:8080", config_source: {path_config_source: {path: /etc/envoy/rds.yaml}}}
    transport_socket:
      typed_config:
        common_tls_context:
          tls_certificate_sds_secret_configs:
          - name: "kubernetes://envoy-tls"
            sds_config: {path: /etc/envoy/sds.yaml}
`);
  assert.deepEqual(findReferences(lds), [
    { type: 'RDS', file: 'rds.yaml', path: '/etc/envoy/rds.yaml', resource: 'backend:8080', statPrefix: 'ingress' },
    { type: 'ECDS', file: 'ecds.yaml', path: '/etc/envoy/ecds.yaml', resource: 'fault_abort' },
    { type: 'SDS', file: 'sds.yaml', path: '/etc/envoy/sds.yaml', resource: 'kubernetes://envoy-tls' },
  ]);
  const cds = load(`
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: "outbound|8080||backend"
  alt_stat_name: outbound_8080_backend
  eds_cluster_config: {eds_config: {path_config_source: {path: /etc/envoy/eds.yaml}}}
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: default/s2/80/da39a3ee5e
  eds_cluster_config: {service_name: default/s2/http, eds_config: {path_config_source: {path: /etc/envoy/eds-s2.yaml}}}
`);
  // The resource asked for is the service_name; the stats scope is named after the cluster (alt_stat_name, else name).
  assert.deepEqual(findReferences(cds), [
    { type: 'EDS', file: 'eds.yaml', path: '/etc/envoy/eds.yaml', resource: 'outbound|8080||backend', statName: 'outbound_8080_backend' },
    { type: 'EDS', file: 'eds-s2.yaml', path: '/etc/envoy/eds-s2.yaml', resource: 'default/s2/http', statName: 'default/s2/80/da39a3ee5e' },
  ]);
  const sds = load(`
resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server_cert
  tls_certificate:
    certificate_chain: {filename: /etc/envoy/cert.pem}
    private_key: {filename: /etc/envoy/key.pem}
`);
  assert.deepEqual(findReferences(sds), [
    { type: 'secret-file', file: 'cert.pem', path: '/etc/envoy/cert.pem', resource: 'server_cert', field: 'certificate_chain' },
    { type: 'secret-file', file: 'key.pem', path: '/etc/envoy/key.pem', resource: 'server_cert', field: 'private_key' },
  ]);
  const bootstrap = load(`
dynamic_resources:
  lds_config: {path_config_source: {path: /etc/envoy/lds.yaml}}
  cds_config: {path: /etc/envoy/cds.yaml}
`);
  assert.deepEqual(findReferences(bootstrap).map((r) => [r.type, r.file]), [['LDS', 'lds.yaml'], ['CDS', 'cds.yaml']]);
  // A filename outside a Secret (a static TLS context) is not watched by Envoy: read once.
  assert.deepEqual(findReferences(load('{common_tls_context: {tls_certificates: [{certificate_chain: {filename: /x.pem}}]}}')), [{ type: 'read-once', file: 'x.pem', path: '/x.pem', field: 'certificate_chain' }]);
});

test('scoped routes name an SRDS file and the RDS file their scopes open subscriptions on; a runtime layer its RTDS file', () => {
  const lds = load(`
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l
  filter_chains:
  - filters:
    - typed_config:
        stat_prefix: ingress_http
        scoped_routes:
          name: tenant_scopes
          scope_key_builder: {fragments: [{header_value_extractor: {name: x-tenant, index: 0}}]}
          rds_config_source: {path_config_source: {path: /etc/envoy/rds.yaml}}
          scoped_rds: {scoped_rds_config_source: {path_config_source: {path: /etc/envoy/srds.yaml}}}
`);
  assert.deepEqual(findReferences(lds), [
    { type: 'RDS', file: 'rds.yaml', path: '/etc/envoy/rds.yaml', statPrefix: 'ingress_http' },
    { type: 'SRDS', file: 'srds.yaml', path: '/etc/envoy/srds.yaml', resource: 'tenant_scopes', statPrefix: 'ingress_http', routes: 'rds.yaml' },
  ]);
  const bootstrap = load(`
layered_runtime:
  layers:
  - {name: static, static_layer: {a: 1}}
  - name: rtds
    rtds_layer: {name: rtds_layer_0, rtds_config: {resource_api_version: V3, path_config_source: {path: /etc/envoy/rtds.yaml}}}
dynamic_resources:
  lds_config: {path_config_source: {path: /etc/envoy/lds.yaml}}
`);
  assert.deepEqual(findReferences(bootstrap).map((r) => [r.type, r.file, r.resource]), [['RTDS', 'rtds.yaml', 'rtds_layer_0'], ['LDS', 'lds.yaml', undefined]]);
});

test('a DataSource filename outside a Secret is read once, by the resource holding it (the outermost object with a name)', () => {
  const lds = load(`
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        http_filters:
        - name: envoy.filters.http.lua
          typed_config: {default_source_code: {filename: /etc/envoy/script.lua}}
        route_config:
          name: local
          virtual_hosts:
          - routes:
            - direct_response: {status: 200, body: {filename: /etc/envoy/body.txt}}
`);
  assert.deepEqual(findReferences(lds), [
    { type: 'read-once', file: 'script.lua', path: '/etc/envoy/script.lua', resource: 'listener_0', holder: 'listener', field: 'default_source_code' },
    { type: 'read-once', file: 'body.txt', path: '/etc/envoy/body.txt', resource: 'listener_0', holder: 'listener', field: 'body' },
  ]);
  const rds = load(`
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: local_route
  virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {filename: /etc/envoy/body.txt}}}]}]
`);
  assert.deepEqual(findReferences(rds).map((r) => [r.type, r.file, r.resource, r.holder]), [['read-once', 'body.txt', 'local_route', 'route configuration']]);
  const bootstrap = load(`
static_resources:
  listeners:
  - name: static_0
    filter_chains: [{filters: [{name: lua, typed_config: {default_source_code: {filename: /etc/envoy/s.lua}}}]}]
`);
  assert.deepEqual(findReferences(bootstrap).map((r) => [r.type, r.file, r.resource, r.holder]), [['read-once', 's.lua', 'static_0', 'listener']]);
  // A DataSource its consumer watches (watched_directory) is not read once.
  assert.deepEqual(findReferences(load('{resources: [{name: l, x: {filename: /a.lua, watched_directory: {path: /etc/envoy}}}]}')), []);
});
