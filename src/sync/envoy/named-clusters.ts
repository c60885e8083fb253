// Which clusters a listener or route file names where Envoy does not check them when it loads the
// file: pure, over parsed xDS files (subscriptions.ts parseConfig). Beside the route tables that
// validate their clusters (route-clusters.ts validatedClusters: a restarted Envoy refuses the file
// when one is missing), a file names clusters that Envoy looks up only when a request or connection
// needs them:
// - a route of a table that does not validate its clusters (RDS by default,
//   RouteConfiguration.validate_clusters): with the cluster gone Envoy answers the route with
//   `cluster_not_found_response_code` (503 by default, api/envoy/config/route/v3/route_components.proto);
// - a filter's or proxy's upstream: `tcp_proxy`'s `cluster` and `weighted_clusters` (no upstream:
//   the connection is closed, `Filter::initializeUpstreamConnection`, source/common/tcp_proxy/tcp_proxy.cc),
//   an `http_service.server_uri.cluster` or `grpc_service.envoy_grpc.cluster_name` (ext_authz,
//   ext_proc, rate limit, a JWKS or token endpoint: the call fails, and the filter answers as its
//   failure mode says).
// Envoy loads such a file without the cluster, running and restarted alike; what needs it fails. The
// fields are read by name as the API spells them (`cluster`, `cluster_name`, `collector_cluster`,
// `weighted_clusters.clusters[].name`), wherever they sit, with the path to each for the operator.

type Node = Record<string, unknown>;
const isObject = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Field names whose string value names a cluster, in the Envoy API (route_components.proto, tcp_proxy.proto, http_uri.proto, grpc_service.proto, zipkin.proto). */
const CLUSTER_FIELDS = new Set(['cluster', 'cluster_name', 'collector_cluster']);

/**
 * Every cluster `root` (a parsed LDS or RDS file: `{resources: [...]}`) names, with where: cluster
 * name → the paths naming it (`resources[0].filter_chains[0].filters[0].typed_config.cluster`), in
 * file order. Includes the routes of validated tables too (the caller takes those apart). Never
 * throws on odd shapes.
 */
export function namedClusters(root: unknown): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (name: string, path: string): void => {
    if (name === '') return;
    const paths = found.get(name) ?? [];
    paths.push(path);
    found.set(name, paths);
  };
  const visit = (node: unknown, path: string, depth: number): void => {
    if (depth > 64) return;
    if (Array.isArray(node)) {
      node.forEach((item, i) => { visit(item, `${path}[${String(i)}]`, depth + 1); });
      return;
    }
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (CLUSTER_FIELDS.has(key) && typeof value === 'string') add(value, at);
      else if (key === 'weighted_clusters' && isObject(value) && Array.isArray(value.clusters)) {
        value.clusters.forEach((cluster, i) => {
          if (isObject(cluster) && typeof cluster.name === 'string') add(cluster.name, `${at}.clusters[${String(i)}].name`);
          visit(cluster, `${at}.clusters[${String(i)}]`, depth + 2);
        });
      } else visit(value, at, depth + 1);
    }
  };
  visit(root, '', 0);
  return found;
}
