// What a published file's bytes say about clusters, worked out once per content. Every CDS verdict
// asks what the accepted version removed (routes-stranded.ts) and every refused CDS file put back
// what it takes away (clusters-gone.ts): both parsed the two CDS versions again, and the route
// files with them, though the version before was the last verdict's and the route files rarely
// change (a 700 KB cds.yaml: ~25 ms a parse). Keyed by the bytes' sha256 (~1 ms for 700 KB), the
// last few contents of each kind kept; the sets handed out are shared and never changed.
import { namedClusters } from '../envoy/named-clusters.js';
import { clusterNames, validatedClusters } from '../envoy/route-clusters.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { sha256 } from '../envoy/version-stamp.js';

/** Contents remembered per kind: a CDS verdict's two versions, a put-back's two, and a couple of route files. */
const KEPT = 6;

/** `derive` of a content, computed once for the last `size` contents (least recently asked goes first). */
export class PerContent<T> {
  private readonly kept = new Map<string, { value: T }>();

  constructor(
    private readonly derive: (bytes: Buffer) => T,
    private readonly size = KEPT,
  ) {}

  of(bytes: Buffer): T {
    const key = sha256(bytes);
    const hit = this.kept.get(key);
    if (hit !== undefined) {
      this.kept.delete(key);
      this.kept.set(key, hit);
      return hit.value;
    }
    const value = this.derive(bytes);
    this.kept.set(key, { value });
    for (const old of this.kept.keys()) {
      if (this.kept.size <= this.size) break;
      this.kept.delete(old);
    }
    return value;
  }
}

const cds = new PerContent<ReadonlySet<string>>((bytes) => clusterNames(parseConfig(bytes)));
const routes = new PerContent<ReadonlySet<string>>((bytes) => validatedClusters(parseConfig(bytes)));
const unchecked = new PerContent<ReadonlySet<string>>((bytes) => {
  const parsed = parseConfig(bytes);
  const validated = validatedClusters(parsed);
  return new Set([...namedClusters(parsed).keys()].filter((name) => !validated.has(name)));
});

/** The names of a CDS file's Cluster resources (route-clusters.ts clusterNames; none when it does not parse). */
export function cdsClusterNames(bytes: Buffer): ReadonlySet<string> {
  return cds.of(bytes);
}

/** The clusters an LDS or RDS file's validated route tables name (route-clusters.ts validatedClusters; none when it does not parse). */
export function routedClusters(bytes: Buffer): ReadonlySet<string> {
  return routes.of(bytes);
}

/** The other clusters an LDS or RDS file names, where Envoy does not check them at load (envoy/named-clusters.ts; throws when it does not parse). */
export function uncheckedClusters(bytes: Buffer): ReadonlySet<string> {
  return unchecked.of(bytes);
}
