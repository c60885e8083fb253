// Which published file feeds which xDS subscription of Envoy, and where Envoy's admin API listens.
// Both come from Envoy's own configuration: the bootstrap (admin, lds_config, cds_config, static
// resources) and the LDS/CDS files, which may point at RDS/EDS/SDS files in turn.
import { basename } from 'node:path';
import { DEFAULT_SCHEMA, Type, load } from 'js-yaml';

export type XdsType = 'LDS' | 'CDS' | 'RDS' | 'EDS' | 'SDS';

/**
 * One file-based subscription. `statPrefix` is where Envoy keeps its counters
 * (`<prefix>.update_success|update_rejected|update_failure|update_attempt`) and the accepted
 * version (`<prefix>.version_text`), as Envoy 1.40 names them (checked against the binary):
 * LDS `listener_manager.lds`, CDS `cluster_manager.cds`, RDS `http.<stat_prefix>.rds.<route_config_name>`,
 * EDS `cluster.<cluster name>`, SDS `sds.<secret name>`.
 */
export interface Subscription {
  type: XdsType;
  /** Base name of the watched path: the ConfigMap key (keys are flat file names). */
  file: string;
  /** The path as Envoy's configuration writes it (Envoy's mount of the target directory). */
  path: string;
  statPrefix: string;
}

export type AdminAddress = { host: string; port: number } | { socketPath: string };

export interface BootstrapInfo {
  /** Envoy's admin listener, when the bootstrap names one the watcher can reach. */
  admin: AdminAddress | undefined;
  /** Why `admin` is undefined (no `admin`, port 0, ...). */
  adminProblem?: string;
  subscriptions: Subscription[];
}

// Envoy's YAML loader takes any local tag (`!ignore` in its docs) and keeps the value; so do we,
// here only to find paths, never to judge a file (the gate does that).
const anyTag = (kind: 'scalar' | 'sequence' | 'mapping'): Type => new Type('!', { kind, multi: true, construct: (data: unknown) => data });
const TOLERANT = DEFAULT_SCHEMA.extend([anyTag('scalar'), anyTag('sequence'), anyTag('mapping')]);

/** Parses a YAML/JSON file as Envoy would read it; undefined when it does not parse. */
export function parseConfig(content: Buffer | string): unknown {
  const text = (typeof content === 'string' ? content : content.toString('utf8')).replace(/^\uFEFF/, '');
  try {
    return load(text, { schema: TOLERANT, json: true });
  } catch {
    return undefined;
  }
}

/** Reads `admin.address` and every file-based subscription a Bootstrap (envoy.config.bootstrap.v3) holds. */
export function bootstrapInfo(bootstrap: unknown): BootstrapInfo {
  const subscriptions = findSubscriptions(bootstrap);
  const address = get(bootstrap, 'admin', 'address');
  if (address === undefined) return { admin: undefined, adminProblem: 'the bootstrap has no admin address', subscriptions };
  const pipe = get(address, 'pipe', 'path');
  if (typeof pipe === 'string') return { admin: { socketPath: pipe }, subscriptions };
  const host = get(address, 'socket_address', 'address');
  const port = Number(get(address, 'socket_address', 'port_value') ?? 0);
  if (typeof host !== 'string' || !Number.isInteger(port) || port <= 0) {
    return { admin: undefined, adminProblem: 'the bootstrap admin address has no fixed port (port 0 or a named port)', subscriptions };
  }
  // A wildcard listener is reachable on loopback from the watcher (same Pod network namespace).
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return { admin: { host: reachable, port }, subscriptions };
}

/**
 * Every file-based subscription declared anywhere in a Bootstrap, a Listener/Cluster resource or a
 * whole LDS/CDS file: `lds_config`, `cds_config`, an HttpConnectionManager's `rds.config_source`,
 * a Cluster's `eds_cluster_config.eds_config`, an SdsSecretConfig's `sds_config`. A ConfigSource
 * counts when it has `path_config_source.path` (or the deprecated `path`).
 */
export function findSubscriptions(root: unknown): Subscription[] {
  const found: Subscription[] = [];
  const add = (type: XdsType, source: unknown, statPrefix: string): void => {
    const path = sourcePath(source);
    if (path !== undefined) found.push({ type, file: basename(path), path, statPrefix });
  };
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64 || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    const object = node as Record<string, unknown>;
    if ('lds_config' in object) add('LDS', object.lds_config, 'listener_manager.lds');
    if ('cds_config' in object) add('CDS', object.cds_config, 'cluster_manager.cds');
    const rds = object.rds;
    if (typeof object.stat_prefix === 'string' && typeof get(rds, 'route_config_name') === 'string') {
      add('RDS', get(rds, 'config_source'), `http.${object.stat_prefix}.rds.${String(get(rds, 'route_config_name'))}`);
    }
    if (typeof object.name === 'string' && get(object, 'eds_cluster_config', 'eds_config') !== undefined) {
      add('EDS', get(object, 'eds_cluster_config', 'eds_config'), `cluster.${object.name}`);
    }
    if (typeof object.name === 'string' && 'sds_config' in object) add('SDS', object.sds_config, `sds.${object.name}`);
    for (const value of Object.values(object)) visit(value, depth + 1);
  };
  visit(root, 0);
  return found;
}

/**
 * `--admin` flag: `HOST:PORT`, `[IPv6]:PORT`, `http://HOST:PORT`, or a unix socket path
 * (`/path` or `unix:/path`). Throws on anything else.
 */
export function parseAdminAddress(text: string): AdminAddress {
  if (text.startsWith('unix:')) return { socketPath: text.slice('unix:'.length) };
  if (text.startsWith('/')) return { socketPath: text };
  const match = /^(?:http:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(text);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`expected HOST:PORT or a unix socket path, got '${text}'`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

export function describeAdmin(admin: AdminAddress): string {
  return 'socketPath' in admin ? `unix:${admin.socketPath}` : `${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${String(admin.port)}`;
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
