// The clusters a listener or route file names where Envoy does not check them at load
// (src/sync/envoy/named-clusters.ts): read by the API's field names, with the path to each.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { namedClusters } from '../../../src/sync/envoy/named-clusters.js';

test('namedClusters: routes, weighted clusters, tcp_proxy, ext_authz HTTP and gRPC services and a tracing collector, each with its path; other strings are not clusters', () => {
  const lds = {
    resources: [{
      '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
      name: 'ingress',
      filter_chains: [
        { filters: [{ name: 'tcp', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'cluster', cluster: 'db' } }] },
        { filters: [{ name: 'hcm', typed_config: {
          tracing: { provider: { typed_config: { collector_cluster: 'zipkin' } } },
          http_filters: [
            { name: 'authz', typed_config: { http_service: { server_uri: { uri: 'http://authz', cluster: 'authz2', timeout: '1s' } } } },
            { name: 'rl', typed_config: { rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'ratelimit' } } } } },
          ],
          route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'web', weight: 1 }, { name: 'web2', weight: 1 }] }, cluster_header: 'x-cluster' } }] }] },
        } }] },
      ],
    }],
  };
  const found = namedClusters(lds);
  assert.deepEqual([...found.keys()], ['db', 'zipkin', 'authz2', 'ratelimit', 'web', 'web2']);
  assert.deepEqual(found.get('db'), ['resources[0].filter_chains[0].filters[0].typed_config.cluster']);
  assert.deepEqual(found.get('authz2'), ['resources[0].filter_chains[1].filters[0].typed_config.http_filters[0].typed_config.http_service.server_uri.cluster']);
  assert.deepEqual(found.get('ratelimit'), ['resources[0].filter_chains[1].filters[0].typed_config.http_filters[1].typed_config.rate_limit_service.grpc_service.envoy_grpc.cluster_name']);
  assert.deepEqual(found.get('web2'), ['resources[0].filter_chains[1].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name']);
  const rds = { resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'r', virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/a' }, route: { cluster: 'web' } }, { match: { prefix: '/b' }, route: { cluster: 'web' } }] }] }] };
  assert.deepEqual(namedClusters(rds).get('web'), ['resources[0].virtual_hosts[0].routes[0].route.cluster', 'resources[0].virtual_hosts[0].routes[1].route.cluster']);
  for (const odd of [null, 'x', 7, [], { resources: 'no' }, { cluster: 5, cluster_name: '' }]) assert.equal(namedClusters(odd).size, 0, JSON.stringify(odd));
});
