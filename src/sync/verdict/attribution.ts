// Which of Envoy's subscriptions read which published file, from what Envoy reports: every
// published content carries a version of its own (version-stamp.ts), so a subscription whose
// `version_text` is a version published for file F reads F. A subscription that has accepted
// nothing of ours yet (its first version refused, or just opened by an edit) is matched by its xDS
// type (the head of the stats scope Envoy gives it, stat-prefixes.ts) to the one file Envoy's
// configuration reads as that type. Stat names are not rebuilt from resource names, so
// alt_stat_name, ':' in names and shared RDS subscriptions need no special case; only when several
// files are read as that type (or for EDS, hasEdsNames) is the match narrowed to the one file
// whose subscription Envoy named the scope after (stat-prefixes.ts scopeNamedAfter: an EDS
// cluster's alt_stat_name or name, not the service_name its file is asked for; the resource asked
// for otherwise, and for the rds_config_source file of scoped routes every route configuration
// their SRDS file's scopes named: scoped-routes.ts), and a scope named after no file's, or after
// several, stays out (of several, an RDS scope goes to the one file whose connection manager's
// stat prefix and route configuration make its whole name, if one does).
import type { ReferenceType } from '../envoy/references.js';
import { rdsScopeOf } from '../envoy/scoped-routes.js';
import { scopeNamedAfter, subscriptionType } from '../envoy/stat-prefixes.js';
import type { SubscriptionCounters, SubscriptionType } from '../envoy/stat-prefixes.js';

/** A name a configuration gives a subscription that reads a file, with the subscription's type. */
export interface ScopeName {
  type: SubscriptionType;
  /** references.ts: an EDS cluster's `statName`, else the `resource` asked for. */
  name: string;
  /** RDS: the stat_prefix of the connection manager asking (references.ts `statPrefix`), which narrows a tie by name. */
  statPrefix?: string;
}

export interface FileFacts {
  name: string;
  /** How Envoy's configuration (bootstrap, published files) reads this file: LDS, RDS, ... */
  readAs: ReadonlySet<ReferenceType>;
  /** Every version published for this file (each identifies one content). */
  versions: ReadonlySet<string>;
  /** What the subscriptions reading it are named after (subscription-map.ts scopeNamesOf): a tie-break between files of one type. */
  scopeNames?: readonly ScopeName[];
}

/**
 * An EDS scope is its cluster's whole stats name, known for every cluster that names a file
 * (references.ts `statName`), so it is matched by name even when one file is read as EDS: the
 * scope of a cluster that reads no published file (EDS over gRPC, whose connection failures count
 * `update_failure`) is not taken for it. Other types are matched by name only on a tie: a file
 * whose type is guessed (Envoy has not answered yet) names nothing, and RTDS's one `runtime` scope
 * is named after no file's resource.
 */
const hasEdsNames = (file: FileFacts): boolean => file.scopeNames?.some((named) => named.type === 'EDS') === true;

/** Whether an RDS scope is the whole name of one `file` is asked for, by a connection manager's stat prefix (scoped-routes.ts rdsScopeOf). */
const rdsScopeOfFile = (file: FileFacts, prefix: string): boolean => (file.scopeNames ?? []).some((named) => named.type === 'RDS' && named.statPrefix !== undefined && rdsScopeOf(named.statPrefix, named.name) === prefix);

/**
 * Subscription scope → file name, for the scopes Envoy lists in `subscriptions`. `previous` (the
 * last attribution) keeps a scope's file when Envoy's answer no longer says (a later version of
 * another file cannot take it: versions are unique). Scopes that match no file, or more than one
 * by type alone, are left out.
 */
export function attribute(
  subscriptions: ReadonlyMap<string, SubscriptionCounters>,
  files: readonly FileFacts[],
  previous: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [prefix, counters] of subscriptions) {
    const type = subscriptionType(prefix);
    if (type === undefined) continue;
    const byVersion = counters.versionText === '' ? undefined : files.find((file) => file.versions.has(counters.versionText));
    if (byVersion !== undefined) {
      out.set(prefix, byVersion.name);
      continue;
    }
    const known = previous.get(prefix);
    if (known !== undefined && files.some((file) => file.name === known)) {
      out.set(prefix, known);
      continue;
    }
    const byType = files.filter((file) => file.readAs.has(type));
    const namedAfter = (file: FileFacts): boolean => (file.scopeNames ?? []).some((named) => named.type === type && scopeNamedAfter(prefix, type, named.name));
    const byName = byType.length > 1 || (type === 'EDS' && byType.some(hasEdsNames)) ? byType.filter(namedAfter) : byType;
    const found = byName.length > 1 && type === 'RDS' ? byName.filter((file) => rdsScopeOfFile(file, prefix)) : byName;
    if (found.length === 1 && found[0] !== undefined) out.set(prefix, found[0].name);
  }
  return out;
}
