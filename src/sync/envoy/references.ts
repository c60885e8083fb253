// The files Envoy's configuration names, and why: every ConfigSource with a `path_config_source`
// (or the deprecated `path`) in a Bootstrap or an xDS file (LDS, CDS, RDS, EDS, SDS, ECDS, the
// scoped routes' SRDS and RDS sources, a runtime layer's RTDS source), and every DataSource `filename` of a
// Secret that an xDS file holds (Envoy watches those files itself for SDS secrets and re-reads them
// on a rename: `SdsApi` in source/common/secret/sds_api.cc), and every other DataSource `filename`
// (a Lua filter's script, a direct_response body, a static TLS context's files): Envoy reads those
// once, when it builds the resource holding them (`Config::DataSource::read`,
// source/common/config/datasource.cc), and never watches them. Publish order and the verdict both
// start from here; which stats Envoy keeps for each is read from Envoy (verdict/attribution.ts).
import { basename } from 'node:path';

/**
 * The xDS type a named file is read as, `secret-file` for a file a Secret reads, `read-once` for
 * any other DataSource file (read when the resource holding it is built, never watched).
 */
export type ReferenceType = 'LDS' | 'CDS' | 'RDS' | 'EDS' | 'SDS' | 'ECDS' | 'SRDS' | 'RTDS' | 'secret-file' | 'read-once';

export interface Reference {
  type: ReferenceType;
  /** Base name of the named path: the ConfigMap key (keys are flat file names). */
  file: string;
  /** The path as the configuration writes it (Envoy's mount of the target directory). */
  path: string;
  /**
   * The resource the subscription asks for, where the config names one: RDS route_config_name,
   * EDS cluster (service_name or the cluster's name), SDS secret name, ECDS filter config name,
   * SRDS scoped routes name, RTDS layer name;
   * for `secret-file`, the Secret's name; for `read-once`, the name of the resource holding the
   * DataSource (the outermost object with a `name`: a listener, route configuration, cluster).
   */
  resource?: string;
  /**
   * `EDS`: the cluster's stats name, which names the subscription's stats scope
   * (`cluster.<statName>`, stat-prefixes.ts scopeNamedAfter): its `alt_stat_name` when set, else its
   * name; never the service_name `resource` holds (`generateStatsScope`,
   * source/common/upstream/upstream_impl.cc; EdsClusterImpl subscribes in `info_->statsScope()`,
   * source/extensions/clusters/eds/eds.cc).
   */
  statName?: string;
  /** `read-once`: what that resource is (`listener`, `route configuration`, `cluster`, ...; `resource` when not known). */
  holder?: string;
  /** `secret-file`: the field of the Secret that reads it (`certificate_chain`, `private_key`, `trusted_ca`, ...). */
  field?: string;
  /**
   * `SRDS`: base name of the scoped routes' `rds_config_source` file, on which Envoy opens one RDS
   * subscription per route configuration a scope names: an edit of the SRDS file opens them.
   */
  routes?: string;
  /**
   * `RDS` and `SRDS` an HTTP connection manager names: its `stat_prefix`, which heads the RDS
   * subscriptions' stats scopes (`http.<stat_prefix>.rds.<route_config_name>`, scoped-routes.ts rdsScopeOf).
   */
  statPrefix?: string;
}

const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** Every file named in `root` (a parsed Bootstrap, Listener, Cluster, Secret or whole xDS file). */
export function findReferences(root: unknown): Reference[] {
  const found: Reference[] = [];
  const add = (type: ReferenceType, source: unknown, resource?: string, more: Pick<Reference, 'routes' | 'statName' | 'statPrefix'> = {}): void => {
    const path = sourcePath(source);
    if (path !== undefined) found.push({ type, file: basename(path), path, ...(resource === undefined ? {} : { resource }), ...more });
  };
  const visit = (node: unknown, depth: number, secret: string | undefined, field?: string, holder?: Holder): void => {
    if (depth > 64 || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1, secret, field, holder);
      return;
    }
    const object = node as Record<string, unknown>;
    const holds = holder ?? (typeof object.name === 'string' ? { name: object.name, kind: holderKind(object['@type'], field) } : undefined);
    if ('lds_config' in object) add('LDS', object.lds_config);
    if ('cds_config' in object) add('CDS', object.cds_config);
    const statPrefix = typeof object.stat_prefix === 'string' ? { statPrefix: object.stat_prefix } : {};
    const rds = object.rds;
    if (typeof get(rds, 'route_config_name') === 'string') add('RDS', get(rds, 'config_source'), get(rds, 'route_config_name') as string, statPrefix);
    // Scoped routes (SRDS): the scopes come from `scoped_rds`' source, and every route configuration
    // a scope names is an RDS subscription on `rds_config_source` (ScopedRdsConfigSubscription,
    // source/common/router/scoped_rds.cc), so an edit of the scopes can open RDS subscriptions.
    const scoped = object.scoped_routes;
    if (scoped !== undefined) {
      const routes = sourcePath(get(scoped, 'rds_config_source'));
      add('RDS', get(scoped, 'rds_config_source'), undefined, statPrefix);
      const name = get(scoped, 'name');
      add('SRDS', get(scoped, 'scoped_rds', 'scoped_rds_config_source'), typeof name === 'string' ? name : undefined, { ...statPrefix, ...(routes === undefined ? {} : { routes: basename(routes) }) });
    }
    // A runtime layer from RTDS (Bootstrap.layered_runtime.layers[].rtds_layer; RtdsSubscription,
    // source/common/runtime/runtime_impl.cc).
    const rtds = object.rtds_layer;
    if (rtds !== undefined) add('RTDS', get(rtds, 'rtds_config'), typeof get(rtds, 'name') === 'string' ? (get(rtds, 'name') as string) : undefined);
    const eds = get(object, 'eds_cluster_config');
    if (eds !== undefined && typeof object.name === 'string') {
      const service = get(eds, 'service_name');
      const alt = object.alt_stat_name;
      add('EDS', get(eds, 'eds_config'), typeof service === 'string' && service !== '' ? service : object.name, { statName: typeof alt === 'string' && alt !== '' ? alt : object.name });
    }
    if (typeof object.name === 'string' && 'sds_config' in object) add('SDS', object.sds_config, object.name);
    const discovery = object.config_discovery;
    if (discovery !== undefined && typeof object.name === 'string') add('ECDS', get(discovery, 'config_source'), object.name);
    // A Secret resource: its DataSources' files are watched by Envoy's SdsApi.
    const inSecret = object['@type'] === SECRET_TYPE && typeof object.name === 'string' ? object.name : secret;
    if (inSecret !== undefined && typeof object.filename === 'string' && object.filename !== '') {
      found.push({ type: 'secret-file', file: basename(object.filename), path: object.filename, resource: inSecret, ...(field === undefined ? {} : { field }) });
    } else if (typeof object.filename === 'string' && object.filename !== '' && object.watched_directory === undefined) {
      // A DataSource with `watched_directory` may be re-read by its consumer on a rename: not read-once.
      found.push({ type: 'read-once', file: basename(object.filename), path: object.filename, ...(holds === undefined ? {} : { resource: holds.name, holder: holds.kind }), ...(field === undefined ? {} : { field }) });
    }
    for (const [key, value] of Object.entries(object)) visit(value, depth + 1, inSecret, key, holds);
  };
  visit(root, 0, undefined);
  return found;
}

interface Holder {
  name: string;
  kind: string;
}

const HOLDER_KINDS = new Map([
  ['Listener', 'listener'],
  ['RouteConfiguration', 'route configuration'],
  ['Cluster', 'cluster'],
  ['ScopedRouteConfiguration', 'scoped route configuration'],
  ['TypedExtensionConfig', 'extension config'],
  ['listeners', 'listener'],
  ['clusters', 'cluster'],
]);

/** What the resource holding a DataSource is, from its `@type` (an xDS file) or the list it is in (a bootstrap's static_resources). */
function holderKind(typeUrl: unknown, field: string | undefined): string {
  const short = typeof typeUrl === 'string' ? typeUrl.slice(typeUrl.lastIndexOf('.') + 1) : undefined;
  return HOLDER_KINDS.get(short ?? '') ?? HOLDER_KINDS.get(field ?? '') ?? 'resource';
}

function sourcePath(source: unknown): string | undefined {
  const path = get(source, 'path_config_source', 'path') ?? get(source, 'path');
  return typeof path === 'string' && path !== '' ? path : undefined;
}

function get(node: unknown, ...keys: string[]): unknown {
  let current = node;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
