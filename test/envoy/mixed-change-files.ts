// The files of a change that adds a cluster and routes to it from a listener's inline route table
// (Envoy checks that route against the clusters it has: validate_clusters defaults to true for an
// inline route_config), and the admin load both run it under. Shared by
// test/envoy/publish-order.test.ts and bench/mixed-change.ts.
import type { EnvoyProcess } from './envoy.js';

/** One STATIC cluster `name` to 127.0.0.1:`port`, as an item of `resources`. */
export const clusterYaml = (name: string, port: number): string =>
  [
    '- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster',
    `  name: ${name}`,
    '  connect_timeout: 1s',
    '  type: STATIC',
    `  load_assignment: {cluster_name: ${name}, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${String(port)}}}}}]}]}`,
  ].join('\n');

/** Clusters upstream_0 .. upstream_n, all to the upstream on `port`. */
export const cdsYaml = (n: number, port: number): string =>
  ['resources:', ...Array.from({ length: n + 1 }, (_, index) => clusterYaml(`upstream_${String(index)}`, port)), ''].join('\n');

/** One listener on `port` whose inline route sends everything to `clusterName`; with `change`, each request carries `x-change: <change>`. */
export const ldsYaml = (port: number, clusterName: string, change?: number): string =>
  [
    'resources:',
    '- "@type": type.googleapis.com/envoy.config.listener.v3.Listener',
    '  name: listener_0',
    `  address: {socket_address: {address: 127.0.0.1, port_value: ${String(port)}}}`,
    '  filter_chains:',
    '  - filters:',
    '    - name: envoy.filters.network.http_connection_manager',
    '      typed_config:',
    '        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    '        stat_prefix: ingress',
    '        http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]',
    `        route_config: {virtual_hosts: [{name: all, domains: ["*"], ${change === undefined ? '' : `request_headers_to_add: [{header: {key: x-change, value: "${String(change)}"}}], `}routes: [{match: {prefix: "/"}, route: {cluster: ${clusterName}}}]}]}`,
    '',
  ].join('\n');

/**
 * Keeps `n` full `/stats` requests in flight on Envoy's admin API (its main thread, where the
 * file subscriptions' reloads run too) until the returned stop is called.
 */
export function adminLoad(envoy: EnvoyProcess, n: number): () => Promise<void> {
  let stopped = false;
  const loops = Array.from({ length: n }, async () => {
    while (!stopped) await envoy.stats().catch(() => undefined);
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
  };
}
