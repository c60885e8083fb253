// Which renames of one pass wait for Envoy to have read a file renamed before them, pure.
// Renaming files in reference order (reference-order.ts) does not make Envoy apply them in that
// order: every file subscription has its own inotify descriptor on the directory
// (FilesystemSubscriptionImpl creates a Filesystem::Watcher each,
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc; WatcherImpl,
// source/common/filesystem/inotify/watcher_impl.cc, watches the directory for IN_MODIFY |
// IN_MOVED_TO), so a rename wakes every subscription, and when two renames land before Envoy's main
// thread runs, the descriptor it happens to read first decides. A file whose resources Envoy checks
// against what an earlier file of the pass brings is then refused, or serves errors until the
// earlier file is applied. Those files wait; every other rename follows the previous one at once.
//
// What Envoy checks when it applies a file, from Envoy's API and source:
// - a Listener's inline route table is checked against the clusters Envoy has (RouteConfiguration
//   `validate_clusters` defaults to true for `route_config`, api/envoy/config/route/v3/route.proto;
//   `validateClusters`, source/common/router/config_impl.cc); a RouteConfiguration (RDS) is when it
//   sets `validate_clusters`, and otherwise a route to a cluster Envoy does not have yet answers 503
//   (RouteAction `cluster_not_found_response_code`) until it has it. Both wait for a Cluster file.
// - a file named by `path_config_source` (RDS, EDS, SDS, ECDS) must only exist when the naming file
//   is applied (Envoy opens the new subscription and reads it then): the rename order covers it.

/** Resource types whose files Envoy checks against the ones named here when it applies them. */
const DEPENDS_ON: Readonly<Record<string, readonly string[]>> = {
  'envoy.config.listener.v3.Listener': ['envoy.config.cluster.v3.Cluster'],
  'envoy.config.route.v3.RouteConfiguration': ['envoy.config.cluster.v3.Cluster'],
};

export interface RenameStep {
  name: string;
  /** Resource types the file holds (envoy/gate.ts `resourceTypes`). */
  types: readonly string[];
}

/**
 * For each file of `ordered` (a pass's renames, in their order), the files renamed before it that
 * Envoy must have read before it is renamed: those holding a type it depends on (DEPENDS_ON) and
 * not already waited for at an earlier rename. Empty for most files: a pass of one file, or of files
 * none of which depends on another, renames back to back. Pure.
 */
export function renameWaits(ordered: readonly RenameStep[]): string[][] {
  const waited = new Set<string>();
  return ordered.map((file, index) => {
    const needs = new Set(file.types.flatMap((type) => DEPENDS_ON[type] ?? []));
    if (needs.size === 0) return [];
    const wait = ordered
      .slice(0, index)
      .filter((earlier) => !waited.has(earlier.name) && earlier.types.some((type) => needs.has(type)))
      .map((earlier) => earlier.name);
    for (const name of wait) waited.add(name);
    return wait;
  });
}
