// The names of the resources an xDS file holds, as a subscription asks for them, pure: a
// ClusterLoadAssignment by its `cluster_name`, every other resource (RouteConfiguration, Secret,
// TypedExtensionConfig, ScopedRouteConfiguration, Runtime) by its `name`. An RDS subscription
// refuses a file whose route configuration is not the name it asks for ("Unexpected RDS
// configuration (expecting <name>)", `RdsRouteConfigSubscription::onConfigUpdate`,
// source/common/rds/rds_route_config_subscription.cc); the name it asks for is the naming file's
// (references.ts `resource`).

const CLUSTER_LOAD_ASSIGNMENT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

/** The resource names of a parsed xDS file (`{resources: [...]}`); empty for any other shape. */
export function resourceNames(root: unknown): Set<string> {
  const names = new Set<string>();
  const resources = typeof root === 'object' && root !== null && Array.isArray((root as { resources?: unknown }).resources) ? (root as { resources: unknown[] }).resources : [];
  for (const resource of resources) {
    if (typeof resource !== 'object' || resource === null) continue;
    const r = resource as Record<string, unknown>;
    const name = r['@type'] === CLUSTER_LOAD_ASSIGNMENT ? r.cluster_name : r.name;
    if (typeof name === 'string') names.add(name);
  }
  return names;
}
