// The names of the resources an xDS file holds, as a subscription asks for them, pure: a
// ClusterLoadAssignment by its `cluster_name`, every other resource (Listener, Cluster,
// RouteConfiguration, Secret, TypedExtensionConfig, ScopedRouteConfiguration, Runtime) by its
// `name`. An RDS subscription refuses a file whose route configuration is not the name it asks for
// ("Unexpected RDS configuration (expecting <name>)", `RdsRouteConfigSubscription::onConfigUpdate`,
// source/common/rds/rds_route_config_subscription.cc); the name it asks for is the naming file's
// (references.ts `resource`).
import { parseConfig } from './subscriptions.js';

const CLUSTER_LOAD_ASSIGNMENT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

/**
 * The resource names of an xDS file (a DiscoveryResponse in YAML or JSON), in order, repeats kept,
 * `''` for a resource without one; undefined when it does not read as one. Throws when the bytes
 * do not parse (subscriptions.ts parseConfig).
 */
export function resourceNames(content: Buffer | string): string[] | undefined {
  const doc = parseConfig(content);
  if (doc === null || typeof doc !== 'object') return undefined;
  const { resources } = doc as { resources?: unknown };
  if (!Array.isArray(resources)) return undefined;
  return resources.map(resourceNameOf);
}

/** One resource's name as a subscription asks for it (above); `''` when it has none or is not a mapping. */
export function resourceNameOf(resource: unknown): string {
  if (resource === null || typeof resource !== 'object') return '';
  const r = resource as Record<string, unknown>;
  const name = r['@type'] === CLUSTER_LOAD_ASSIGNMENT ? r.cluster_name : r.name;
  return typeof name === 'string' ? name : '';
}
