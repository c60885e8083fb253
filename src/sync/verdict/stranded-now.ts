// What `status` says, now, of the routes an accepted cds.yaml left naming a cluster it removed
// (routes-stranded.ts), pure. The verdict's line was true when it was said: the running listener
// answers 503 there, and a restarted Envoy would refuse the route file. Once Envoy refused that
// route file as published (an Envoy started since refused it at start: refused-kept.ts, the row's
// "refused by an Envoy started since"), no listener of it answers there, so `status` (the Pod's and
// the workload's) says that instead of the 503 (fresh-user trial: "Envoy answers 503 there" after a
// restart in which Envoy refused the listener; measured on 1.40: nothing listens on that port).
import { strandedMessage, type StrandedRoutes } from './routes-stranded.js';
import { refusedStaysPublished } from './status.js';

/** A route file's row as `status` has it: its ConfigMap and published versions, and whether a refusal holds it. */
export interface RouteRow {
  file: string;
  held: boolean;
  published?: string | undefined;
  configMap?: string | undefined;
}

/**
 * The words for `stranded` (the route files the accepted `file` version `version` left naming
 * clusters it removed) as Envoy runs them now: strandedMessage for those it still runs, and for
 * those whose published version it refused (refusedStaysPublished of its row in `rows`), that it
 * serves nothing there. `lead` as strandedMessage's. Pure.
 */
export function strandedNow(file: string, version: string, stranded: readonly StrandedRoutes[], rows: readonly RouteRow[], lead = '; but '): string {
  const refusedNow = (s: StrandedRoutes): boolean => {
    // A reference Envoy does not check at load is not what a restarted Envoy refused the file for.
    if (s.unchecked === true) return false;
    const row = rows.find((r) => r.file === s.file);
    return row !== undefined && refusedStaysPublished(row);
  };
  const refused = stranded.filter(refusedNow);
  if (refused.length === 0) return strandedMessage(file, version, stranded, lead);
  const each = refused.map(({ file: routes, clusters }) => `${routes} still routes to ${clusters.length === 1 ? 'cluster' : 'clusters'} ${clusters.map((c) => `'${c}'`).join(', ')}`);
  const files = refused.map((s) => s.file).join(' and ');
  const said = `${each.join(', and ')}, which ${file} version ${version} removed: the Envoy running now refused ${files} ("route: unknown cluster") and serves nothing there; remove the route too, or keep the cluster`;
  const running = stranded.filter((s) => !refusedNow(s));
  return running.length === 0 ? `${lead}${said}` : `${strandedMessage(file, version, running, lead)}; ${said}`;
}

/**
 * The accepted line `message` of `file` version `version` with its stranded-routes words as Envoy
 * runs them now (strandedNow); unchanged when those words are not in it (a line of an older watcher). Pure.
 */
export function strandedLineNow(message: string, file: string, version: string, stranded: readonly StrandedRoutes[], rows: readonly RouteRow[]): string {
  const said = strandedMessage(file, version, stranded);
  return message.replace(said, strandedNow(file, version, stranded, rows));
}
