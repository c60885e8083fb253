// The RDS subscriptions scoped routes open, as Envoy names them. Each scope an SRDS file holds
// names a route configuration (`route_configuration_name`), and Envoy opens one RDS subscription
// per scope on the scoped_routes' `rds_config_source`, whatever other RDS files the configuration
// reads: `ScopedRdsConfigSubscription::addOrUpdateScopes` (source/common/router/scoped_rds.cc)
// builds an `Rds` of `rds_config_source_` and the scope's `route_configuration_name` and hands it
// to `createRdsRouteConfigProvider` with the connection manager's stat prefix (an `on_demand`
// scope does so on its first request, `maybeInitRdsConfigProvider`; inline scopes open none:
// Envoy refuses a `route_configuration_name` in `scoped_route_configurations_list`). The subscription's stats
// scope is `createScope(stat_prefix + "rds." + route_config_name + ".")`
// (RdsRouteConfigSubscription, source/common/rds/rds_route_config_subscription.cc), sanitised as
// one string (`ScopeImpl::createScope`, source/common/stats/thread_local_store.cc); the
// connection manager's stat prefix is `http.<stat_prefix>.`. Measured on Envoy 1.40 (corpus
// sequence srds-new-scope-second-rds-file): a scope naming `scoped_rc_b` on a listener with
// stat_prefix `scoped` opens `http.scoped.rds.scoped_rc_b` on rds_config_source's file.
import { statNameOf } from './stat-prefixes.js';

const SCOPED_ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration';

/**
 * The route configuration names the scopes of a parsed xDS file name (its top-level `resources`
 * of type ScopedRouteConfiguration, `route_configuration_name`), in file order, without repeats;
 * empty for any other file or shape.
 */
export function scopeRouteNames(parsed: unknown): string[] {
  const resources = typeof parsed === 'object' && parsed !== null ? (parsed as { resources?: unknown }).resources : undefined;
  if (!Array.isArray(resources)) return [];
  const out = new Set<string>();
  for (const resource of resources as unknown[]) {
    if (typeof resource !== 'object' || resource === null) continue;
    const scope = resource as Record<string, unknown>;
    if (scope['@type'] !== SCOPED_ROUTE_TYPE) continue;
    const name = scope.route_configuration_name;
    if (typeof name === 'string' && name !== '') out.add(name);
  }
  return [...out];
}

/**
 * The stats scope of the RDS subscription an HTTP connection manager with `statPrefix` opens for
 * route configuration `routeConfigName` (`http.<stat_prefix>.rds.<name>`, sanitised whole). When
 * two connection managers share one subscription (same config source and name), Envoy names it
 * after the first that asked.
 */
export function rdsScopeOf(statPrefix: string, routeConfigName: string): string {
  return statNameOf(`http.${statPrefix}.rds.${routeConfigName}.`);
}
