// Whether Envoy runs a listener or cluster of a refused LDS or CDS file as that file has it, read
// from Envoy's config dump. Pure; applied.ts asks Envoy and words it.
//
// What the config dump reports, from Envoy's source (1.40) and measured on it (test/envoy/applied-in-place.test.ts):
// - A full listener update builds a new ListenerImpl with the update's `version_info`
//   (ListenerManagerImpl::addOrUpdateListenerInternal, "use full listener update path":
//   ListenerImpl::create(config, version_info, ...), source/common/listener_manager/listener_manager_impl.cc).
// - An in-place filter-chain update (only filter_chains changed, workers started) builds it with the
//   running listener's `version_info_` (ListenerImpl::newListenerWithFilterChain,
//   source/common/listener_manager/listener_impl.cc): the dump keeps the OLD version_info, while
//   Envoy serves the new filter chains.
// - Either way `last_updated` moves: ListenerImpl::initialize() sets it, called at the end of
//   addOrUpdateListenerInternal for both paths; `fillState` dumps `versionInfo()`, the listener's
//   config and `last_updated_` (listener_manager_impl.cc).
// - A listener whose proto hash did not change is skipped ("duplicate/locked listener '{}'. no
//   add/update"; LdsApiImpl::onConfigUpdate logs "skipped", lds_api.cc): version_info and
//   last_updated stay those of the update that built it, and it runs exactly the file's listener.
// - A listener Envoy refuses in the LDS API keeps running as it was, and
//   ListenerManagerImpl::addOrUpdateListener records an `error_state` with its name and
//   `last_update_attempt`.
// - Clusters have no in-place path: an added or changed cluster takes the update's version_info
//   (ClusterManagerImpl::addOrUpdateCluster → loadCluster → ClusterData(version_info),
//   source/common/upstream/cluster_manager_impl.cc); an unchanged one is skipped (`blockUpdate(new_hash)`,
//   counted by CdsApiHelper::onConfigUpdate as "skipped N unmodified cluster(s)") and keeps the old
//   version_info and last_updated; a refused one records no error state.
// All of this holds in an update Envoy counts `update_rejected` as in one it accepts: LDS and CDS
// apply each resource on its own (lds_api.cc, cds_api_helper.cc).
// So version_info alone says "this version" only for a full build: a listener's config in the dump
// equal to the file's, or built since the file was renamed, runs this version's content too.
import { CLOCK_SLACK_MS } from '../envoy/rejection-reason.js';
import type { DynamicResource } from '../envoy/admin.js';
import { resourceNameOf } from '../envoy/resource-names.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { protoForm, snake } from '../publish/proto-equal.js';

/** An enum value's name as proto JSON writes it (`AUTO`, `ROUND_ROBIN`). */
const ENUM_NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * `resource` (a listener or cluster as the file holds it) less the fields Envoy's config dump
 * leaves out where the file names an enum value: the dump omits a field at its zero value
 * (`codec_type: AUTO`, `lb_policy: ROUND_ROBIN`; a oneof's member is kept: `type: STATIC` is dumped,
 * measured on 1.40), and a field Envoy does not know. Walks `dumped` alongside (lists item by item).
 */
function withoutOmittedEnums(resource: unknown, dumped: unknown, depth: number): unknown {
  if (depth > 256) return resource;
  if (Array.isArray(resource)) return Array.isArray(dumped) ? resource.map((item, i) => withoutOmittedEnums(item, dumped[i], depth + 1)) : resource;
  if (resource === null || typeof resource !== 'object' || dumped === null || typeof dumped !== 'object' || Array.isArray(dumped)) return resource;
  const there = dumped as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource as Record<string, unknown>)) {
    const other = there[key.startsWith('@') ? key : snake(key)];
    if (other === undefined && typeof value === 'string' && ENUM_NAME.test(value)) continue;
    out[key] = other === undefined ? value : withoutOmittedEnums(value, other, depth + 1);
  }
  return out;
}

/**
 * Whether `dumped` (a Listener or Cluster from Envoy's config dump: proto JSON, field names as in the
 * proto, zero values left out) is `resource` (the same as the file holds it, parsed YAML or JSON):
 * the same proto as far as publish/proto-equal.ts protoForm tells, an enum name the dump leaves out
 * taken as its zero value (withoutOmittedEnums). Pure.
 */
export function sameAsDumped(dumped: unknown, resource: unknown): boolean {
  return protoForm(withoutOmittedEnums(resource, dumped, 0)) === protoForm(dumped);
}

/**
 * The resources of an xDS file by name (resource-names.ts resourceNameOf), the first of each name:
 * of two resources of one name Envoy applies the first and refuses the second ("duplicate listener
 * {} found", lds_api.cc; the same in cds_api_helper.cc). Undefined when the file does not read as a
 * DiscoveryResponse. Never throws.
 */
export function fileResources(content: Buffer | string): Map<string, unknown> | undefined {
  let doc: unknown;
  try {
    doc = parseConfig(content);
  } catch {
    return undefined;
  }
  const resources = doc !== null && typeof doc === 'object' ? (doc as { resources?: unknown }).resources : undefined;
  if (!Array.isArray(resources)) return undefined;
  const out = new Map<string, unknown>();
  for (const resource of resources) {
    const name = resourceNameOf(resource);
    if (name !== '' && !out.has(name)) out.set(name, resource);
  }
  return out;
}

/** What the verdict knows of the refused file to sort Envoy's resources against it. */
export interface RefusedFile {
  /** Its `version_info` (undefined: none). */
  version: string | undefined;
  /** Its resources by name (fileResources); undefined: not read. */
  resources?: ReadonlyMap<string, unknown>;
  /** When it was renamed into place (epoch ms, the watcher's clock, the same as Envoy's). */
  publishedAtMs?: number;
}

/**
 * Whether `running` (an entry of Envoy's config dump, admin.ts dynamicResources, of a resource the
 * refused `file` names) runs as `file` has it (`this`) or as an earlier version had it (`earlier`),
 * in this order (see the top of this file):
 * - a listener Envoy refused in this update (`refusedAtMs` not before the publish): `earlier`;
 * - built from this update (`version_info` is the file's), or no version_info to tell: `this`;
 * - built since the publish (`last_updated` not before it; an in-place update keeps the old version_info): `this`;
 * - its config equal to the file's (sameAsDumped; skipped as unchanged, or built in place): `this`;
 * - else `earlier`.
 * Pure.
 */
export function ranFrom(running: DynamicResource, file: RefusedFile): 'this' | 'earlier' {
  const since = file.publishedAtMs === undefined ? undefined : file.publishedAtMs - CLOCK_SLACK_MS;
  if (since !== undefined && running.refusedAtMs !== undefined && running.refusedAtMs >= since) return 'earlier';
  if (file.version === undefined || running.version === file.version) return 'this';
  if (since !== undefined && running.updatedAtMs !== undefined && running.updatedAtMs >= since) return 'this';
  const resource = file.resources?.get(running.name);
  if (resource !== undefined && running.config !== undefined && sameAsDumped(running.config, resource)) return 'this';
  return 'earlier';
}
