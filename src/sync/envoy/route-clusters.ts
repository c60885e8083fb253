// Which clusters a file's route tables must find for Envoy to load it, and which clusters a CDS file
// adds: pure, over parsed xDS files (subscriptions.ts parseConfig).
//
// Envoy checks a route table's clusters against the clusters it has (warm or warming) when it
// builds the table, if the table validates them, and refuses the update that brought it when one is
// missing (`RouteEntryImplBase::validateClusters` in source/common/router/config_impl.cc: the
// route's `cluster`, "route: unknown cluster '<name>'"; each `weighted_clusters.clusters[].name`,
// `WeightedClusterSpecifierPlugin::validateClusters`, "unknown weighted cluster"; each
// `request_mirror_policies[].cluster`, "unknown shadow cluster"; a name read from a header at
// request time, `cluster_header`, is not checked). A table validates its clusters when its
// `validate_clusters` says so, by default when it is inline in a listener (`route_config`) and not
// when RDS loads it (RouteConfiguration.validate_clusters, api/envoy/config/route/v3/route.proto).
// So a listener whose inline table routes to a cluster only a refused cds.yaml added loads in the
// running Envoy, which had the cluster then, and is refused by an Envoy restarted without it.

const ROUTE_CONFIGURATION = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

type Node = Record<string, unknown>;
const isObject = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The clusters one route table validates (none when its validate_clusters is off). */
function tableClusters(table: Node, inline: boolean, into: Set<string>): void {
  const validates = typeof table.validate_clusters === 'boolean' ? table.validate_clusters : inline;
  if (!validates) return;
  for (const host of asArray(table.virtual_hosts)) {
    if (!isObject(host)) continue;
    for (const route of asArray(host.routes)) {
      const action = isObject(route) && isObject(route.route) ? route.route : undefined;
      if (action === undefined) continue;
      if (typeof action.cluster === 'string' && action.cluster !== '') into.add(action.cluster);
      const weighted = isObject(action.weighted_clusters) ? action.weighted_clusters : undefined;
      for (const cluster of asArray(weighted?.clusters)) if (isObject(cluster) && typeof cluster.name === 'string' && cluster.name !== '') into.add(cluster.name);
      for (const mirror of asArray(action.request_mirror_policies)) if (isObject(mirror) && typeof mirror.cluster === 'string' && mirror.cluster !== '') into.add(mirror.cluster);
    }
  }
}

/**
 * The cluster names the route tables of `root` (a parsed LDS or RDS file: `{resources: [...]}`)
 * must find when Envoy loads them: those of the tables inline in a listener (`route_config`) and of
 * RDS route configurations, each as its validate_clusters says. Never throws on odd shapes.
 */
export function validatedClusters(root: unknown): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    if (!isObject(node)) return;
    if (isObject(node.route_config)) tableClusters(node.route_config, true, found);
    if (node['@type'] === ROUTE_CONFIGURATION && depth <= 2) tableClusters(node, false, found);
    for (const [key, value] of Object.entries(node)) if (key !== 'route_config') visit(value, depth + 1);
  };
  visit(root, 0);
  return found;
}

/** The names of the Cluster resources of a parsed CDS file (`{resources: [...]}`). */
export function clusterNames(root: unknown): Set<string> {
  const names = new Set<string>();
  for (const resource of asArray(isObject(root) ? root.resources : undefined)) {
    if (isObject(resource) && resource['@type'] === CLUSTER && typeof resource.name === 'string') names.add(resource.name);
  }
  return names;
}
