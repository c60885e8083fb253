// The validation gate: a file Envoy certainly cannot load must never replace a good one (an empty
// file is what a torn write looks like; a file that is not YAML, or a resource without "@type",
// Envoy refuses). The gate is never stricter than Envoy: it reads YAML by Envoy's rules
// (yaml.ts) and checks only what Envoy needs to decode a DiscoveryResponse at all, so a file
// Envoy loads always goes through. What Envoy refuses later (a bad field value) is for Envoy to
// say. We also classify each file so a multi-file change is published in an order Envoy can apply
// without dangling references (see publishRank).
//
// js-yaml parses on the hot path (about 9x faster than the `yaml` package on xDS files, which
// keeps a publish within a few milliseconds); `yaml`, which knows every node's position, is loaded
// only to point at the resource that lacks an "@type".
import { YAMLException } from 'js-yaml';
import type { ReferenceType } from './references.js';
import { resourceNameOf } from './resource-names.js';
import { isConfigFile, loadLikeEnvoy, yamlErrorReason } from './yaml.js';

export type FileKind =
  /** Not YAML/JSON, or YAML/JSON without a top-level `resources` list (Lua, certificates, ...). */
  | { type: 'data' }
  /** An xDS file for `path_config_source`: top-level `resources`, each with an `@type`. */
  | {
      type: 'xds';
      resourceTypes: string[];
      /** The resources' names as a subscription asks for them (resource-names.ts; those that have one), in file order; absent when none. */
      resourceNames?: string[];
    }
  /** Envoy's bootstrap: loaded once at start, never hot-reloaded. */
  | { type: 'bootstrap' };

export interface ValidationError {
  file: string;
  /** 1-based line of the problem when the parser knows it. */
  line?: number;
  column?: number;
  message: string;
}

export type Validation = { ok: true; kind: FileKind } | { ok: false; error: ValidationError };

// Top-level fields only a Bootstrap message has (an xDS file has `resources`/`version_info`).
const BOOTSTRAP_FIELDS = [
  'static_resources',
  'dynamic_resources',
  'admin',
  'node',
  'layered_runtime',
  'cluster_manager',
  'overload_manager',
  'stats_sinks',
  'stats_config',
  'tracing',
];

/**
 * Checks one file of the ConfigMap. `bootstrapName` (from `--bootstrap`) marks that file as the
 * bootstrap whatever it contains; otherwise a mapping with Bootstrap fields is recognised by content.
 */
export async function validateConfigFile(file: string, content: Buffer, bootstrapName?: string): Promise<Validation> {
  const isBootstrapByName = bootstrapName !== undefined && file === bootstrapName;
  if (!isConfigFile(file)) return { ok: true, kind: isBootstrapByName ? { type: 'bootstrap' } : { type: 'data' } };

  const text = content.toString('utf8');
  const fail = (message: string, line?: number, column?: number): Validation => ({
    ok: false,
    error: { file, message, ...(line === undefined ? {} : { line }), ...(column === undefined ? {} : { column }) },
  });
  if (text.trim() === '') {
    // A zero-length config is the signature of a torn write, and Envoy cannot load it anyway.
    return fail('file is empty (an xDS file with no resources is written `resources: []`)');
  }

  let root: unknown;
  if (/\.json$/i.test(file)) {
    try {
      root = JSON.parse(text);
    } catch (err) {
      // Envoy reads .json with protobuf's JSON parser, which takes more than JSON.parse (trailing
      // commas, for one). A file that still reads as a YAML mapping (JSON's superset) goes through:
      // Envoy is the judge of it.
      root = lenientJson(text, file);
      if (root === undefined) {
        const message = err instanceof Error ? err.message : String(err);
        const at = jsonErrorPosition(message, text);
        return fail(`invalid JSON: ${message}`, at?.line, at?.column);
      }
    }
  } else {
    try {
      root = loadLikeEnvoy(text, file);
    } catch (err) {
      if (!(err instanceof YAMLException)) throw err;
      const mark = (err as { mark?: { line: number; column: number } }).mark;
      return fail(`invalid YAML: ${yamlErrorReason(err, text)}`, mark && mark.line + 1, mark && mark.column + 1);
    }
  }

  if (!isObject(root) || !('resources' in root)) {
    if (isBootstrapByName) return { ok: true, kind: { type: 'bootstrap' } };
    const looksLikeBootstrap = isObject(root) && BOOTSTRAP_FIELDS.some((field) => field in root);
    return { ok: true, kind: looksLikeBootstrap ? { type: 'bootstrap' } : { type: 'data' } };
  }

  const resources = root.resources;
  // proto3 JSON reads null as an empty list: Envoy loads `resources:` with no value as no resources.
  if (resources === null) return { ok: true, kind: isBootstrapByName ? { type: 'bootstrap' } : { type: 'xds', resourceTypes: [] } };
  if (!Array.isArray(resources)) {
    const at = await locate(text, ['resources']);
    return fail('`resources` must be a list of resources, each with an "@type"', at?.line, at?.column);
  }
  const resourceTypes: string[] = [];
  const resourceNames: string[] = [];
  for (const [index, item] of (resources as unknown[]).entries()) {
    const typeUrl = isObject(item) ? item['@type'] : undefined;
    if (typeof typeUrl !== 'string' || typeUrl === '') {
      const at = await locate(text, ['resources', index]);
      const problem = isObject(item) ? 'has no "@type" (Envoy cannot decode it)' : 'is not a mapping';
      return fail(`resources[${index}] ${problem}`, at?.line, at?.column);
    }
    resourceTypes.push(typeUrl);
    const name = resourceNameOf(item);
    if (name !== '') resourceNames.push(name);
  }
  return { ok: true, kind: isBootstrapByName ? { type: 'bootstrap' } : { type: 'xds', resourceTypes, ...(resourceNames.length === 0 ? {} : { resourceNames }) } };
}

/** `text` read as YAML when that gives a mapping; undefined otherwise. */
function lenientJson(text: string, file: string): Record<string, unknown> | undefined {
  try {
    const value = loadLikeEnvoy(text, file);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Line and column of the node at `path`, found with the position-aware `yaml` parser. */
async function locate(text: string, path: (string | number)[]): Promise<{ line: number; column: number } | undefined> {
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const node: unknown = parseDocument(text, { lineCounter, uniqueKeys: false }).getIn(path, true);
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (range === undefined) return undefined;
  const { line, col } = lineCounter.linePos(range[0]);
  return { line, column: col };
}

// Envoy's guidance for applying xDS without traffic loss ("make before break", xDS protocol:
// eventual consistency considerations): clusters before the endpoints that fill them, both before
// the listeners that use them, listeners before their routes. Secrets are referenced by clusters
// and listeners, so they go first. Extension configs (ECDS) go after the clusters, before the
// listeners: a filter config names clusters (ext_authz, ext_proc, oauth2 token endpoints) that
// Envoy 1.40 looks up per request, not when it applies the config (measured: an ext_authz config
// naming a cluster Envoy lacks is accepted, then answers 403 to every request until the cluster
// arrives); a listener or cluster naming the ECDS file by path gets it first by reference order
// anyway (publish/reference-order.ts). Files with no xDS (scripts, certificates read by filename)
// go before everything; the bootstrap, which Envoy never reloads, goes last.
const XDS_ORDER: readonly string[] = [
  'envoy.extensions.transport_sockets.tls.v3.Secret',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.config.core.v3.TypedExtensionConfig',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.route.v3.ScopedRouteConfiguration',
  'envoy.config.route.v3.VirtualHost',
];

// The resource type each xDS subscription reads (what a file named by a ConfigSource holds).
const SUBSCRIPTION_TYPE: Readonly<Partial<Record<ReferenceType, string>>> = {
  SDS: 'envoy.extensions.transport_sockets.tls.v3.Secret',
  ECDS: 'envoy.config.core.v3.TypedExtensionConfig',
  CDS: 'envoy.config.cluster.v3.Cluster',
  EDS: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  LDS: 'envoy.config.listener.v3.Listener',
  RDS: 'envoy.config.route.v3.RouteConfiguration',
  SRDS: 'envoy.config.route.v3.ScopedRouteConfiguration',
  RTDS: 'envoy.service.runtime.v3.Runtime',
};

/** The xDS subscription that reads resources of `resourceType` (`envoy.config.cluster.v3.Cluster` → CDS), if one does. */
export function subscriptionOf(resourceType: string): ReferenceType | undefined {
  return (Object.keys(SUBSCRIPTION_TYPE) as ReferenceType[]).find((type) => SUBSCRIPTION_TYPE[type] === resourceType);
}

/**
 * Lower ranks are published first when one ConfigMap change touches several files. `readAs`: the
 * xDS subscriptions that read the file (references.ts types of the ConfigSources naming it, e.g.
 * the bootstrap's `cds_config`); they decide when the file's own resources do not name a known type
 * (`resources: []`, no resources at all), since a CDS file is a CDS file however few clusters it holds.
 */
export function publishRank(kind: FileKind, readAs: Iterable<ReferenceType> = []): number {
  if (kind.type === 'bootstrap') return XDS_ORDER.length + 3;
  let rank = Infinity;
  for (const type of resourceTypes(kind, readAs)) rank = Math.min(rank, xdsRank(type));
  if (rank !== Infinity) return rank;
  // Files with no xDS go first; xDS types with no ordering constraint (runtime, ...) after the known ones.
  return kind.type === 'data' ? 0 : XDS_ORDER.length + 2;
}

/**
 * The resource types (`envoy.config.cluster.v3.Cluster`, ...) a file holds: what its resources'
 * `@type` say, else what the subscriptions that read it read (`readAs`, as for publishRank).
 * Empty for the bootstrap, a data file, or an xDS file of no known type read by nothing.
 */
export function resourceTypes(kind: FileKind, readAs: Iterable<ReferenceType> = []): string[] {
  if (kind.type === 'bootstrap') return [];
  const own = kind.type === 'xds' ? kind.resourceTypes.map((typeUrl) => typeUrl.slice(typeUrl.lastIndexOf('/') + 1)) : [];
  if (own.some((type) => xdsRank(type) !== Infinity)) return [...new Set(own)];
  const read = [...readAs].flatMap((type) => SUBSCRIPTION_TYPE[type] ?? []);
  return [...new Set([...own, ...read])];
}

function xdsRank(type: string | undefined): number {
  const index = type === undefined ? -1 : XDS_ORDER.indexOf(type);
  return index >= 0 ? index + 1 : Infinity;
}

// V8 reports "... in JSON at position N" (and newer versions "(line L column C)").
function jsonErrorPosition(message: string, text: string): { line: number; column: number } | undefined {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : message.includes('end of JSON input') ? text.length : undefined;
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
