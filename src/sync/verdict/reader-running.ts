// Whether Envoy runs a resource that reads a file once (publish/read-once-again.ts asks, for a
// change it would hold back): asked of Envoy's admin API, the resources it runs or warms
// (EnvoyAdmin.dynamicResources: a listener it only refused, with an `error_state`, is not among
// them) and the versions its subscriptions report. The rule is pure (notRunning); readersNotRunning
// reads Envoy for it.
import type { DynamicResource, EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { ReaderQuery } from '../publish/read-once-again.js';

export type { ReaderQuery };

/** The xDS type whose config dump lists a reader. */
export type ReaderKind = 'LDS' | 'CDS' | 'RDS';
type Kind = ReaderKind;

/** The xDS type whose config dump lists a resource of this kind (references.ts `holder`); others are not asked. */
export const READER_KINDS: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ['listener', 'LDS'],
  ['cluster', 'CDS'],
  ['route configuration', 'RDS'],
]);

/**
 * Whether Envoy runs no version of `reader`, pure: a named listener, cluster or route configuration
 * that is not among those Envoy runs or warms (`running`: by xDS type, their names), in a file whose
 * version no subscription of Envoy reports (`reported`: every `version_text`). A version Envoy
 * reports is one it took: the file's resources ran then, and the verdict on renaming it again
 * could not tell a new acceptance from that one, so such a reader counts as running (held back, as
 * when Envoy's answer is missing). Any other kind of reader counts as running too.
 */
export function notRunning(reader: ReaderQuery, running: ReadonlyMap<Kind, ReadonlySet<string>>, reported: ReadonlySet<string>): boolean {
  const kind = READER_KINDS.get(reader.holder ?? '');
  if (kind === undefined || reader.resource === undefined) return false;
  if (reader.version !== undefined && reported.has(reader.version)) return false;
  const names = running.get(kind);
  return names !== undefined && !names.has(reader.resource);
}

/** Every `version_text` Envoy's subscriptions report in `counters`. */
export function reportedVersions(counters: EnvoyCounters): Set<string> {
  return new Set([...counters.subscriptions.values()].map((s) => s.versionText).filter((v) => v !== ''));
}

/**
 * notRunning for each of `readers`, from Envoy's admin API now (one `/stats` and one config dump
 * per xDS type asked). All false when Envoy cannot be asked or does not answer in `timeoutMs`. Never rejects.
 */
export async function readersNotRunning(admin: EnvoyAdmin | undefined, readers: readonly ReaderQuery[], timeoutMs: number): Promise<boolean[]> {
  const none = readers.map(() => false);
  if (admin === undefined) return none;
  try {
    const reported = reportedVersions(await admin.counters(timeoutMs));
    const running = new Map<Kind, Set<string>>();
    for (const kind of new Set(readers.flatMap((r) => READER_KINDS.get(r.holder ?? '') ?? []))) {
      running.set(kind, new Set((await admin.dynamicResources(kind, timeoutMs)).map((resource: DynamicResource) => resource.name)));
    }
    return readers.map((reader) => notRunning(reader, running, reported));
  } catch {
    return none;
  }
}
