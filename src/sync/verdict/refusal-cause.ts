// Which other files could change Envoy's refusal of a file, pure: read from how Envoy refused it
// (the counter that moved, and Envoy's reason where its admin API gives one: reason.ts). A refusal
// that is Envoy's final word on the content alone is never tried again while the content stays
// (not when another file of the same change was on its way, in-flight.ts; not when another key
// changes or Envoy accepts another file, holds.ts). Facts, from Envoy 1.40's source:
// - `update_failure`: Envoy could not read the file as a DiscoveryResponse (`MessageUtil::loadFromFile`
//   threw before any resource was decoded, `FilesystemSubscriptionImpl::refresh` in
//   source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc): the bytes alone.
// - An LDS `update_rejected` with no listener error state of this publish: refused while decoding
//   the resources (`DecodedResourcesWrapper::create`: proto validation such as a port above 65535,
//   an unknown field), before the LDS API looks at them (envoy/rejection-reason.ts): the bytes alone.
// - The LDS API's reasons that depend on another file name it: a route to a cluster Envoy does
//   not have ("route: unknown cluster 'c'", "unknown weighted cluster", "unknown shadow cluster",
//   `validateClusters` in source/common/router/config_impl.cc, checked against every cluster the
//   CDS updates applied so far added, warm or warming: `ClusterInfoMaps::hasCluster`), a file
//   named by path that is not there ("paths must refer to an existing path in the system: '…'
//   does not exist"). Read as Envoy writes them: `RouteEntryImplBase::validateClusters` writes
//   "route: unknown cluster '<name>'", `WeightedClusterSpecifierPlugin::validateClusters`
//   (source/common/router/weighted_cluster_specifier.cc) "route: unknown weighted cluster '<name>'",
//   `RouteCreator::createAndValidateRoute` "route: unknown shadow cluster '<name>'". Other reasons
//   (a duplicate listener name, an address in use, an unknown extension) do not change with
//   another key of the ConfigMap, even where they contain the word "cluster" (a listener or filter
//   so named; "Unknown gRPC client cluster '<name>'", which only a static cluster of the bootstrap
//   satisfies: `ClusterManagerImpl::checkActiveStaticCluster`, cluster_manager_impl.cc).
// - CDS, RDS, EDS and the other types keep no reason outside Envoy's log: such a refusal may
//   depend on the files the content names, and, for all but CDS, on the clusters.
// A file a Secret reads and content that names a file Envoy reads once (a Lua script) depend on
// those other files by nature. A subscription the edit opened that refused its file (judge.ts
// `created`) depends on that file, as a refusal of its type does (finish.ts causeOf).
import type { RejectionReason } from '../envoy/rejection-reason.js';
import type { XdsType } from '../envoy/subscriptions.js';

/** How Envoy refused a file, as far as it tells which other files could change that. */
export interface RefusalCause {
  /** The xDS type of the subscription that refused (undefined: not known). */
  type: XdsType | undefined;
  /** Which counter moved: update_failure or update_rejected. */
  kind: 'failure' | 'rejected';
  /** Envoy's reason (reason.ts); undefined when it was not read. */
  why: RejectionReason | undefined;
  /** The files the refused content names (its RDS, EDS, SDS files, a Lua script). */
  names: readonly string[];
  /** Depends on other files by nature: a file a Secret reads, a rider, content naming a file read once. */
  linked: boolean;
}

/** An other file, as Envoy reads it. */
export interface OtherFile {
  file: string;
  /** Envoy reads it as CDS: a cluster it adds may be what a route names. */
  clusters: boolean;
  /**
   * It was on disk when Envoy applied the refused file (a file of the same change on its way: one
   * the refused file names was renamed before it, reference-order.ts). A file refused for a file it
   * names by path (a cluster's EDS file, a listener's RDS, SRDS or ECDS file) is refused for it only
   * when it is missing (`checkFilesystemSubscriptionBackingPath`, when the subscription is made);
   * what the named file holds is its own subscription's to judge, and a subscription the edit
   * opened read it as it is on disk. Files read once and a Secret's files are `linked` instead.
   */
  present?: boolean;
  /**
   * It names the refused file by path: the resource a subscription of the refused file asks for
   * comes from it (an RDS route_config_name, an EDS service_name, an SDS secret or an ECDS filter
   * config name). An RDS file that renames its route configuration is refused by the subscription
   * of the listener the naming lds.yaml of the same change replaces ("Unexpected RDS configuration
   * (expecting local_route): local_route_2", `RdsRouteConfigSubscription::onConfigUpdate`,
   * source/common/rds/rds_route_config_subscription.cc) and taken by the one it opens (measured on 1.40).
   */
  namesIt?: boolean;
  /** Envoy reads it as SDS, or a Secret reads it: the TLS material a listener loads when it is built. */
  secrets?: boolean;
}

/**
 * Envoy's words for a route to a cluster it does not have, as the router's `validateClusters`
 * writes them (above): the only LDS reasons a cluster a CDS file adds can change.
 */
const NAMES_CLUSTER = /\broute: unknown (?:weighted |shadow )?cluster '/;

/**
 * Envoy's words for TLS material a listener could not load when it was built ("listener https:
 * Failed to load private key from <inline>, Cause: ...", the TLS context's loaders in
 * source/common/tls/; measured on 1.40 when lds.yaml was applied before the sds.yaml renamed with
 * it): the secret Envoy held then, which an SDS file or a Secret's file of the change replaces.
 */
const NAMES_SECRET = /\bFailed to load (?:private key|certificate chain|trusted CA certificates?|certificate)\b/;

/**
 * Whether `text` (Envoy's reason, or the watcher's words for one) names the file `name` as a whole
 * name, a path's last part included: not inside a longer name ('rds.yaml' is not named by
 * 'srds.yaml' or 'rds.yaml.bak'). A ConfigMap key is made of letters, digits, '-', '_' and '.'
 * (Kubernetes `IsConfigMapKey`); a '.' after the name ends it only when no such character follows.
 * `asPath`: only as a path's last part (after a '/').
 */
export function mentions(text: string, name: string, asPath = false): boolean {
  if (name === '') return false;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${asPath ? '(?<=/)' : '(?<![\\w.-])'}${escaped}(?![\\w-]|\\.[\\w-])`).test(text);
}

/** Whether no other file can change this refusal: Envoy's final word on the content alone. */
export function standsAlone(cause: RefusalCause): boolean {
  if (cause.linked) return false;
  if (cause.kind === 'failure') return true;
  const reason = cause.why?.reason;
  if (reason === undefined) return cause.type === 'LDS' && cause.why?.schema === 'sees';
  return !NAMES_CLUSTER.test(reason) && !NAMES_SECRET.test(reason) && !cause.names.some((name) => mentions(reason, name));
}

/** Whether Envoy's refusal could change with `other` (applied later, or changed). */
export function mayDependOn(cause: RefusalCause, other: OtherFile): boolean {
  if (standsAlone(cause)) return false;
  if (cause.linked || other.namesIt === true) return true;
  if (cause.names.includes(other.file) && other.present !== true) return true;
  const reason = cause.why?.reason;
  if (reason !== undefined) return (other.clusters && NAMES_CLUSTER.test(reason)) || (other.secrets === true && NAMES_SECRET.test(reason)) || mentions(reason, other.file);
  return other.clusters && cause.type !== 'CDS';
}

/**
 * The other keys whose change could change the refusal of `file`: of `keys` (the ConfigMap it was
 * refused with) and the files the content names, those `mayDependOn` keeps (`other`: what is
 * known of a key, OtherFile: read as CDS, naming the refused file, read as SDS or by a Secret);
 * none when the refusal stands alone.
 */
export function dependsOnKeys(cause: RefusalCause, file: string, keys: Iterable<string>, other: (key: string) => Omit<OtherFile, 'file' | 'present'>): string[] {
  const all = new Set([...keys, ...cause.names]);
  all.delete(file);
  return [...all].filter((key) => mayDependOn(cause, { ...other(key), file: key }));
}

/** Envoy refused a publish before the one judged, while other files were on their way, and it was renamed again. */
export interface RefusedBefore {
  /** How many times (Envoy counted each). */
  count: number;
  /** The files that were on their way (none: refused at its first rename, before its baseline was in, superseded.ts). */
  while: readonly string[];
  /** The counter that counted it, with its stats prefix (`listener_manager.lds.update_rejected`). */
  counter: string;
}

/**
 * The counter that counted a refusal, with its stats prefix: `<subscription>.update_rejected` or
 * `.update_failure`, or for a file a Secret reads (`secret`) `.key_rotation_failed`: Envoy refuses
 * a certificate or key it re-reads there, not in the SDS update counters (SdsApi::onWatchUpdate,
 * source/common/secret/sds_api.cc; trial: "sds.srv.update_rejected counts that refusal too" while
 * it stayed 0 and key_rotation_failed moved). Pure.
 */
export function refusalCounter(subscription: string, kind: 'rejected' | 'failure', secret: boolean): string {
  return `${subscription}.${secret ? 'key_rotation_failed' : `update_${kind}`}`;
}

/** The words a verdict adds for the refusals Envoy counted before it, in the same publish. */
export function refusedBeforeNote(before: RefusedBefore): string {
  const times = before.count === 1 ? 'once' : `${String(before.count)} times`;
  // Read at its first rename, before its baseline was in (baseline-reads.ts settle renames it again).
  if (before.while.length === 0) return `; Envoy had refused this version ${times} before, at its first rename, and it was published again for Envoy to judge (${before.counter} counts ${before.count === 1 ? 'that refusal' : 'those refusals'} too)`;
  const others = before.while.join(', ');
  return `; Envoy had refused this version ${times} before, while ${others} of the same change ${before.while.length === 1 ? 'was' : 'were'} still on ${before.while.length === 1 ? 'its' : 'their'} way, and it was published again for Envoy to judge (${before.counter} counts ${before.count === 1 ? 'that refusal' : 'those refusals'} too)`;
}
