// The resource names an xDS file holds, as a subscription asks for them (src/sync/envoy/resource-names.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { resourceNames } from '../../../src/sync/envoy/resource-names.js';

test('resourceNames: a ClusterLoadAssignment by cluster_name, every other resource by name; in order, an unnamed one as empty; undefined when not a DiscoveryResponse', () => {
  const cases: [string, unknown, string[] | undefined][] = [
    ['RDS', { resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'local_route' }] }, ['local_route']],
    ['EDS', { resources: [{ '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: 'backend' }] }, ['backend']],
    ['SDS with a kubernetes:// name', { resources: [{ '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', name: 'kubernetes://envoy-tls' }] }, ['kubernetes://envoy-tls']],
    ['two resources and an unnamed one', { resources: [{ name: 'a' }, { name: 'b' }, { other: 1 }] }, ['a', 'b', '']],
    ['no resources', { version_info: '1' }, undefined],
    ['not an object', 'text', undefined],
  ];
  for (const [name, root, want] of cases) assert.deepEqual(resourceNames(JSON.stringify(root)), want, name);
});
