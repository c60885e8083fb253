// The RDS subscription a scope opens on its scoped routes' rds_config_source file, refusing that
// file because the file lacks the route configuration the scope names: the refusal is the SRDS
// file's, not the RDS file's. Envoy's facts: an RDS subscription takes exactly one route
// configuration, named as it asks (`RdsRouteConfigSubscription::onConfigUpdate`,
// source/common/rds/rds_route_config_subscription.cc: `validateUpdateSize`, then "Unexpected RDS
// configuration (expecting <name>): <name held>"), and each scope opens one such subscription on
// rds_config_source for its `route_configuration_name` (`ScopedRdsConfigSubscription::
// addOrUpdateScopes`, source/common/router/scoped_rds.cc; envoy/scoped-routes.ts). So when one
// subscription of the file runs its version, the file holds exactly that subscription's route
// configuration, and a subscription asking for another name, which never took a version, refused
// it for the name alone. Measured on Envoy 1.40 (corpus sequence srds-first-start-scope-route-missing):
// at a first start whose srds.yaml has a scope naming scoped_rc_b, rds-scoped.yaml runs on
// http.scoped.rds.scoped_rc and http.scoped.rds.scoped_rc_b refused it (update_rejected, version_text
// ''). After an edit, the subscription an SRDS edit opens is judged by judge.ts `created`; at a first
// start there is no baseline to tell it opened, hence this rule. Pure.
import { rdsScopeOf } from '../envoy/scoped-routes.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';

/** What the rule needs of the subscription map (subscription-map.ts). */
export interface ScopeRouteFacts {
  /** The RDS scopes reading `file` and the route configuration each asks for (ScopeName with a stat prefix). */
  scopeNamesOf(file: string): readonly { type: string; name: string; statPrefix?: string }[];
  /** The route configurations the published files and the bootstrap ask `file` for, by the types given. */
  resourcesAskedOf(file: string, types: readonly ['RDS']): ReadonlySet<string>;
  /** The route configurations the scopes of SRDS file `srds` named (every published content). */
  scopeRoutesOf(srds: string): ReadonlySet<string>;
  /** The SRDS files whose scopes open their RDS subscriptions on `file`. */
  srdsNamersOf(file: string): readonly string[];
}

/** RDS stats scope → the route configuration it asks for, of the scopes reading `file`. */
export function routesAsked(facts: ScopeRouteFacts, file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const named of facts.scopeNamesOf(file)) if (named.type === 'RDS' && named.statPrefix !== undefined) out.set(rdsScopeOf(named.statPrefix, named.name), named.name);
  return out;
}

/**
 * The scopes of `own` (the stats scopes reading RDS file `file`) that refused it for a route
 * configuration it lacks, which only the scopes of the SRDS files in `srds` name: such a scope
 * counted a refusal, never a success, and asks for another route configuration than a scope of
 * `own` that runs a version of the file (`runs(version_text)`). `routes`: routesAsked. A route
 * configuration a listener asks for by `rds` (not a scope) keeps its refusal the file's.
 */
export function lackingRouteScopes(input: {
  own: readonly string[];
  counters: EnvoyCounters;
  routes: ReadonlyMap<string, string>;
  runs: (versionText: string) => boolean;
  scopeRoutes: ReadonlySet<string>;
  askedByListener: ReadonlySet<string>;
}): Map<string, string> {
  const { own, counters, routes } = input;
  const running = new Set<string>();
  for (const prefix of own) {
    const current = counters.subscriptions.get(prefix);
    if (current === undefined || current.versionText === '' || !input.runs(current.versionText)) continue;
    const route = routes.get(prefix);
    if (route === undefined) return new Map(); // a running scope whose route configuration is unknown: the file's name is not known
    running.add(route);
  }
  if (running.size !== 1) return new Map(); // one route configuration per RDS file: none or several running says nothing
  const out = new Map<string, string>();
  for (const prefix of own) {
    const current = counters.subscriptions.get(prefix);
    const route = routes.get(prefix);
    if (current === undefined || route === undefined || running.has(route)) continue;
    if (current.success > 0 || current.rejected + current.failure === 0) continue;
    if (input.scopeRoutes.has(route) && !input.askedByListener.has(route)) out.set(prefix, route);
  }
  return out;
}

/**
 * For a pending RDS file: its scopes that refused it for a route configuration it lacks, named by
 * its SRDS files' scopes (they do not count against its version: judge.ts `leftover`).
 */
export function lackingRouteOfFile(facts: ScopeRouteFacts, file: string, own: readonly string[], counters: EnvoyCounters, version: string | undefined): Set<string> {
  if (version === undefined) return new Set();
  const scopeRoutes = new Set(facts.srdsNamersOf(file).flatMap((srds) => [...facts.scopeRoutesOf(srds)]));
  if (scopeRoutes.size === 0) return new Set();
  return new Set(lackingRouteScopes({ own, counters, routes: routesAsked(facts, file), runs: (text) => text === version, scopeRoutes, askedByListener: facts.resourcesAskedOf(file, ['RDS']) }).keys());
}

/**
 * For a pending SRDS file `srds`: the scopes of `named` (scope → file) that refused their RDS file
 * for a route configuration it lacks and `srds`'s scopes name, with that name: its refusal at a
 * first start, and the name its refusal says after an edit (judge.ts `lacking`). A scope of the file runs a version of it when its
 * `version_text` is not empty (attribution.ts gave the scope to the file by that version).
 */
export function lackingRouteOfScopes(facts: ScopeRouteFacts, srds: string, named: ReadonlyMap<string, string>, counters: EnvoyCounters): Map<string, string> {
  const scopeRoutes = facts.scopeRoutesOf(srds);
  const out = new Map<string, string>();
  if (scopeRoutes.size === 0) return out;
  for (const file of new Set(named.values())) {
    if (!facts.srdsNamersOf(file).includes(srds)) continue;
    const own = [...named].filter(([, owner]) => owner === file).map(([prefix]) => prefix);
    const found = lackingRouteScopes({ own, counters, routes: routesAsked(facts, file), runs: () => true, scopeRoutes, askedByListener: facts.resourcesAskedOf(file, ['RDS']) });
    for (const [prefix, route] of found) out.set(prefix, route);
  }
  return out;
}
