// A listener or route table accepted with a cds.yaml of the same change that Envoy then refused,
// pure. Envoy builds a route table against the clusters it has when it loads it (route-clusters.ts),
// so an lds.yaml routing to a cluster a cds.yaml of its change adds is accepted once Envoy applied
// that cds.yaml, even when Envoy refuses the cds.yaml (a CDS update refused in part keeps the
// clusters it could add; one accepted is refused as a whole when a subscription it opened refuses
// its file, judge.ts `created`). Putting the refused cds.yaml back takes those clusters away: the
// running Envoy keeps the listener and answers for the missing cluster, an Envoy restarted from the
// directory refuses lds.yaml ("route: unknown cluster") and serves nothing there. So the acceptance
// of a file whose route tables Envoy validates waits for the verdicts of the CDS files of its
// change, and goes back with a refused one whose put-back takes away a cluster it routes to.
import { contentVersion } from '../envoy/version-stamp.js';
import { cdsClusterNames, routedClusters, uncheckedClusters } from './parsed-once.js';

/** A CDS file of the change Envoy refused and the watcher put back. */
export interface ClustersGone {
  file: string;
  /** Its refused version (as the lines show it). */
  version: string;
  /** Cluster names the refused version has and the version put back does not. */
  clusters: ReadonlySet<string>;
  /** The keys whose change could change that refusal (its hold's), undefined: any. */
  dependsOn?: readonly string[];
  /**
   * The ConfigMap Envoy refused that version with (key → sha256; its hold's, superseded.ts
   * configMapAt), undefined: not known. A file that goes back with it is held against the same
   * ConfigMap: its own pass's may hold another cds.yaml than the one Envoy refused.
   */
  refusedWith?: ReadonlyMap<string, string>;
}

/**
 * What `refused` (a CDS publish Envoy refused, put back to `putBack`: the bytes put back) takes away
 * from the files of its change, undefined: no cluster. `dependsOn` and `refusedWith`: its hold's.
 */
export function clustersGoneBy(refused: { file: string; version: string | undefined; sha256: string; content: Buffer }, putBack: Buffer, dependsOn: readonly string[] | undefined, refusedWith: ReadonlyMap<string, string> | undefined): ClustersGone | undefined {
  const clusters = clustersOnlyIn(refused.content, putBack);
  if (clusters.size === 0) return undefined;
  return { file: refused.file, version: refused.version ?? contentVersion(refused.sha256), clusters, ...(dependsOn === undefined ? {} : { dependsOn }), ...(refusedWith === undefined ? {} : { refusedWith }) };
}

/** The names of the clusters `refused` (a CDS file's bytes) has and `putBack` has not; none when either does not parse. */
export function clustersOnlyIn(refused: Buffer, putBack: Buffer): Set<string> {
  try {
    const back = cdsClusterNames(putBack);
    return new Set([...cdsClusterNames(refused)].filter((name) => !back.has(name)));
  } catch {
    return new Set();
  }
}

/**
 * Whether the acceptance of `file` waits: Envoy reads it as LDS or RDS (`readAs`), and a file of
 * its change (`inFlight`) that Envoy reads as CDS still waits for its verdict (`stillPending`).
 */
export function waitsForClusters(file: string, inFlight: ReadonlySet<string>, readAs: (file: string) => ReadonlySet<string>, stillPending: (file: string) => boolean): boolean {
  const types = readAs(file);
  if (!types.has('LDS') && !types.has('RDS')) return false;
  return [...inFlight].some((other) => readAs(other).has('CDS') && stillPending(other));
}

/**
 * The refused CDS file whose put-back takes away clusters `content` (an LDS or RDS file's bytes)
 * names, and those clusters (sorted); undefined: none. Its validated route tables first (a restarted
 * Envoy would refuse the file); else the clusters it names where Envoy does not check them at load
 * (`unchecked`: an RDS table's route, a filter's upstream, envoy/named-clusters.ts), which the
 * running Envoy and a restarted one answer without (trial: an rds.yaml routing to a cluster only a
 * refused cds.yaml added stayed accepted, and Envoy answered 503 there).
 */
export function routesToGone(content: Buffer, gone: readonly ClustersGone[]): { by: ClustersGone; clusters: string[]; unchecked?: true } | undefined {
  if (gone.length === 0) return undefined;
  let routed: ReadonlySet<string>;
  let named: ReadonlySet<string>;
  try {
    routed = routedClusters(content);
    named = uncheckedClusters(content);
  } catch {
    return undefined;
  }
  for (const by of gone) {
    const clusters = [...by.clusters].filter((name) => routed.has(name)).sort();
    if (clusters.length > 0) return { by, clusters };
  }
  for (const by of gone) {
    const clusters = [...by.clusters].filter((name) => named.has(name)).sort();
    if (clusters.length > 0) return { by, clusters, unchecked: true };
  }
  return undefined;
}

/**
 * What the line says of a file that goes back with a refused CDS file (its `version` Envoy took;
 * `last`: the version put back, undefined: none; `keys`: the keys whose change ends its hold,
 * withdrawn.ts, undefined: any).
 */
export function withdrawnMessage(file: string, version: string, last: string | undefined, gone: { by: ClustersGone; clusters: readonly string[]; unchecked?: true }, rolledBack: boolean, keys?: readonly string[]): string {
  const names = gone.clusters.map((name) => `'${name}'`).join(', ');
  const them = gone.clusters.length === 1 ? `cluster ${names}, which only` : `clusters ${names}, which only`;
  const why = `Envoy took ${file} version ${version}, but it ${gone.unchecked === true ? 'names' : 'routes to'} ${them} ${gone.by.file} version ${gone.by.version} adds, and Envoy refused that version`;
  const until = keys === undefined || keys.length === 0 ? 'the ConfigMap changes' : `the ConfigMap changes ${keys.join(' or ')}, or Envoy accepts ${gone.by.file}`;
  const restart = gone.unchecked === true
    ? `${version} would answer 503 where it routes to ${gone.clusters.length === 1 ? 'that cluster' : 'those clusters'}, and a filter calling ${gone.clusters.length === 1 ? 'it' : 'them'} would fail`
    : `an Envoy restarted without ${gone.clusters.length === 1 ? 'that cluster' : 'those clusters'} would refuse ${version} ("route: unknown cluster")`;
  return rolledBack
    ? `${why}: ${last ?? 'the last accepted version'} goes back on disk with ${gone.by.file}, and Envoy loads it (${restart}); held until ${until}`
    : `${why}; nothing accepted came before it to put back, so it stays published: ${restart}`;
}
