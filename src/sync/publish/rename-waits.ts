// Which renames of one pass wait for Envoy to have read a file renamed before them, pure.
// Renaming files in reference order (reference-order.ts) does not make Envoy apply them in that
// order: every file subscription has its own inotify descriptor on the directory
// (FilesystemSubscriptionImpl creates a Filesystem::Watcher each,
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc; WatcherImpl,
// source/common/filesystem/inotify/watcher_impl.cc, watches the directory for IN_MODIFY |
// IN_MOVED_TO), so a rename wakes every subscription, and when two renames land before Envoy's main
// thread runs, the descriptor it happens to read first decides. A file whose resources Envoy checks
// against what an earlier file of the pass brings is then refused, or serves errors until the
// earlier file is applied. Those files wait, when the earlier file brings a resource its published
// version did not have (a route can only name a cluster Envoy lacks if the change adds one); every
// other rename follows the previous one at once.
//
// What Envoy checks when it applies a file, from Envoy's API and source:
// - a Listener's inline route table is checked against the clusters Envoy has (RouteConfiguration
//   `validate_clusters` defaults to true for `route_config`, api/envoy/config/route/v3/route.proto;
//   `validateClusters`, source/common/router/config_impl.cc); a RouteConfiguration (RDS) is when it
//   sets `validate_clusters`, and otherwise a route to a cluster Envoy does not have yet answers 503
//   (RouteAction `cluster_not_found_response_code`) until it has it. Both wait for a Cluster file.
// - an extension config (ECDS, `TypedExtensionConfig`) is built when Envoy applies it
//   (`FilterConfigSubscription::onConfigUpdate`, source/common/filter/config_discovery_impl.cc);
//   the filters that name a cluster look it up per request in 1.40 (oauth2 only warns "unknown
//   cluster" at config time, source/extensions/filters/http/oauth2/filter.cc), so Envoy accepts
//   a config naming a cluster it lacks, and the filter fails every request until the cluster
//   arrives (measured: ext_authz answers 403, ext_proc 500). It waits for a Cluster file.
// - a file named by `path_config_source` (RDS, EDS, SDS, ECDS) must only exist when the naming file
//   is applied (Envoy opens the new subscription and reads it then): the rename order covers it.

/** Resource types whose files Envoy checks against the ones named here when it applies them. */
const DEPENDS_ON: Readonly<Record<string, readonly string[]>> = {
  'envoy.config.listener.v3.Listener': ['envoy.config.cluster.v3.Cluster'],
  'envoy.config.route.v3.RouteConfiguration': ['envoy.config.cluster.v3.Cluster'],
  'envoy.config.core.v3.TypedExtensionConfig': ['envoy.config.cluster.v3.Cluster'],
};

import type { FileKind } from '../envoy/gate.js';

export interface RenameStep {
  name: string;
  /** Resource types the file holds (envoy/gate.ts `resourceTypes`). */
  types: readonly string[];
  /**
   * Whether the file brings resource names its published version did not have; false only when
   * known not to (renaming, removing or changing resources leaves nothing new to refer to).
   * Undefined (unknown: first publish, after a rollback) counts as adding.
   */
  adds?: boolean;
}

/**
 * For each file of `ordered` (a pass's renames, in their order), the files renamed before it that
 * Envoy must have read before it is renamed: those holding a type it depends on (DEPENDS_ON) that
 * may add resources (`adds`), not already waited for at an earlier rename. Empty for most files: a pass of one file, or of files
 * none of which depends on another, renames back to back. Pure.
 */
export function renameWaits(ordered: readonly RenameStep[]): string[][] {
  const waited = new Set<string>();
  return ordered.map((file, index) => {
    const needs = new Set(file.types.flatMap((type) => DEPENDS_ON[type] ?? []));
    if (needs.size === 0) return [];
    const wait = ordered
      .slice(0, index)
      .filter((earlier) => !waited.has(earlier.name) && earlier.adds !== false && earlier.types.some((type) => needs.has(type)))
      .map((earlier) => earlier.name);
    for (const name of wait) waited.add(name);
    return wait;
  });
}

/**
 * Whether `kind` (a file about to be renamed) brings resource names absent from `published`, the
 * names of the content last renamed there; undefined when that is not known (nothing renamed there
 * yet by this watcher, or a rollback since). Names as written (Envoy names a cluster by its `name`).
 */
export function addsResources(published: ReadonlySet<string> | undefined, kind: FileKind): boolean | undefined {
  if (published === undefined || kind.type !== 'xds') return undefined;
  return (kind.resourceNames ?? []).some((name) => !published.has(name));
}
