// A cds.yaml Envoy takes that removes a cluster a published route table still names: accepted, with
// a warning. Envoy applies a CDS update that removes a cluster whatever routes to it: the running
// listener keeps its route table and answers that route with 503 (no cluster found,
// RouteConfiguration's cluster_not_found_response_code, SERVICE_UNAVAILABLE by default). A route
// table is checked against the clusters only when it is built (route-clusters.ts): an Envoy
// restarted from the same files refuses the listener whose inline table names the cluster ("route:
// unknown cluster", `RouteEntryImplBase::validateClusters`, source/common/router/config_impl.cc),
// or the RDS file when its table says validate_clusters, and serves nothing there. Envoy was right
// to take the edit; the operator is told, before a restart finds it. Pure, but for
// `strandedRoutesOf` (IO: the published files and Envoy's clusters, read once).
import type { EnvoyAdmin } from '../envoy/admin.js';
import { clustersOnlyIn } from './clusters-gone.js';
import { cdsClusterNames, routedClusters, uncheckedClusters } from './parsed-once.js';

/**
 * A published LDS or RDS file whose validated route tables name clusters Envoy no longer has
 * (sorted); with `unchecked`, clusters it names where Envoy does not check them at load
 * (envoy/named-clusters.ts: a route of a table that does not validate, an RDS file's by default; a
 * TCP proxy's or a filter's upstream): Envoy loads the file without them, a restarted Envoy too.
 */
export interface StrandedRoutes {
  file: string;
  clusters: string[];
  unchecked?: true;
}

/**
 * The route files (`routed`: name → the clusters its validated route tables name, route-clusters.ts)
 * that name a cluster of `removed` that `envoyHas` (the cluster names Envoy lists now) lacks, by file name.
 */
export function strandedRoutes(removed: ReadonlySet<string>, routed: ReadonlyMap<string, ReadonlySet<string>>, envoyHas: ReadonlySet<string>, named: ReadonlyMap<string, ReadonlySet<string>> = new Map()): StrandedRoutes[] {
  const gone = [...removed].filter((name) => !envoyHas.has(name));
  if (gone.length === 0) return [];
  const of = (files: ReadonlyMap<string, ReadonlySet<string>>, unchecked: boolean): StrandedRoutes[] => [...files]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, names]) => ({ file, clusters: gone.filter((name) => names.has(name) && (!unchecked || routed.get(file)?.has(name) !== true)).sort(), ...(unchecked ? { unchecked: true as const } : {}) }))
    .filter((s) => s.clusters.length > 0);
  return [...of(routed, false), ...of(named, true)];
}

/** What the accepted line of `file` version `version` adds for `stranded` (none: ''), after `lead`. */
export function strandedMessage(file: string, version: string, stranded: readonly StrandedRoutes[], lead = '; but '): string {
  if (stranded.length === 0) return '';
  const names = (clusters: readonly string[]): string => `${clusters.length === 1 ? 'cluster' : 'clusters'} ${clusters.map((c) => `'${c}'`).join(', ')}`;
  const checked = stranded.filter((s) => s.unchecked !== true);
  const unchecked = stranded.filter((s) => s.unchecked === true);
  const parts: string[] = [];
  if (checked.length > 0) {
    const each = checked.map(({ file: routes, clusters }) => `${routes} still routes to ${names(clusters)}`);
    const files = checked.map((s) => s.file).join(' and ');
    parts.push(`${each.join(', and ')}, which ${file} version ${version} removed: Envoy answers 503 there, and an Envoy restarted from these files would refuse ${files} ("route: unknown cluster"); remove the route too, or keep the cluster`);
  }
  if (unchecked.length > 0) {
    const each = unchecked.map(({ file: namer, clusters }) => `${namer} still names ${names(clusters)}`);
    const one = unchecked.length === 1 ? 'it' : 'them';
    parts.push(`${each.join(', and ')}, which ${file} version ${version} removed: Envoy loads ${one} without the cluster, an Envoy restarted from these files too, and what needs it fails (a route to it answers 503, a TCP proxy closes the connection, a filter's call to it fails); remove those references too, or keep the cluster`);
  }
  return `${lead}${parts.join('; and ')}`;
}

/** What a `status` row adds for `stranded` (none: ''): the route files and the clusters they still name. */
export function strandedText(stranded: readonly StrandedRoutes[] | undefined): string {
  if (stranded === undefined || stranded.length === 0) return '';
  return `, routes left to removed clusters: ${stranded.map((s) => `${s.file} (${s.clusters.map((c) => `'${c}'`).join(', ')})`).join(', ')}`;
}

/** How `strandedRoutesOf` reads what it needs (IO, all passed in). */
export interface StrandedInputs {
  /** The last accepted bytes of the CDS file, before this version (undefined: none). */
  previous: Buffer | undefined;
  /**
   * What the CDS file's last verdict said was left naming a cluster it removed: still counted as
   * removed while this version lacks them, so a later removal does not hide an earlier one (trial:
   * the second removal's line and `status` listed only the new cluster while a listener still
   * named the first, and Envoy answered 403 there).
   */
  earlier?: readonly StrandedRoutes[] | undefined;
  /** The published files Envoy reads as LDS or RDS. */
  routeFiles: readonly string[];
  /** A published file's bytes (undefined: gone). */
  read: (file: string) => Promise<Buffer | undefined>;
  admin: EnvoyAdmin | undefined;
  timeoutMs: number;
}

/**
 * For an accepted CDS file's `content`: the published route files left naming a cluster it removed
 * and Envoy no longer has. Cheapest first: the route files' validated clusters (none: done), then
 * the two CDS versions, then Envoy's clusters (config dump) only when this version removed one a
 * route file names; none when Envoy does not answer (the watcher does not guess).
 */
export async function strandedRoutesOf(content: Buffer, inputs: StrandedInputs): Promise<StrandedRoutes[]> {
  if (inputs.previous === undefined || inputs.admin === undefined) return [];
  const routed = new Map<string, ReadonlySet<string>>();
  const named = new Map<string, ReadonlySet<string>>();
  for (const file of inputs.routeFiles) {
    const bytes = await inputs.read(file).catch(() => undefined);
    if (bytes === undefined) continue;
    try {
      const names = routedClusters(bytes); // parsed once per content (parsed-once.ts)
      if (names.size > 0) routed.set(file, names);
      const others = uncheckedClusters(bytes);
      if (others.size > 0) named.set(file, others);
    } catch {
      // Not parsed: it names nothing the watcher can tell.
    }
  }
  if (routed.size === 0 && named.size === 0) return [];
  const removed = new Set(clustersOnlyIn(inputs.previous, content));
  const kept = namesIn(content);
  for (const cluster of (inputs.earlier ?? []).flatMap((s) => s.clusters)) if (kept !== undefined && !kept.has(cluster)) removed.add(cluster);
  // Without Envoy's word, every removed cluster counts as gone: only a file that names one makes it worth asking.
  if (strandedRoutes(removed, routed, new Set(), named).length === 0) return [];
  try {
    const clusters = await inputs.admin.dynamicResources('CDS', inputs.timeoutMs);
    return strandedRoutes(removed, routed, new Set(clusters.map((c) => c.name)), named);
  } catch {
    return [];
  }
}

/** The cluster names of a CDS content (parsed-once.ts); undefined when it does not parse. */
function namesIn(content: Buffer): ReadonlySet<string> | undefined {
  try {
    return cdsClusterNames(content);
  } catch {
    return undefined;
  }
}
