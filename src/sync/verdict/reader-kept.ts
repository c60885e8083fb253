// Whether Envoy rebuilt the resources a read-once file (a Lua script, a direct_response body:
// publish/read-once.ts) was published for, read from Envoy after it accepted the reader file. The
// syncer predicts a rebuild from the YAML (publish/proto-equal.ts), without Envoy's schema: an edit
// Envoy ignores (a misspelt field, an enum's first value by name) looks like a change to it. Envoy
// skips a listener, cluster or route configuration whose proto hash did not change before it builds
// anything, so the resource keeps the `version_info` of the update that built it
// (ListenerManagerImpl::addOrUpdateListenerInternal returns at "duplicate/locked listener" before
// the new ListenerImpl takes `version_info`, and `fillState` dumps the listener's own
// `versionInfo()`, source/common/listener_manager/listener_manager_impl.cc;
// ClusterManagerImpl::addOrUpdateCluster returns at `blockUpdate(new_hash)`,
// source/common/upstream/cluster_manager_impl.cc; RouteConfigUpdateReceiverImpl::onRdsUpdate returns
// at `checkHash` and the route configuration's version is set only once built, `onConfigWarmed`,
// source/common/rds/route_config_update_receiver_impl.cc). Every published content carries a version
// of its own (envoy/version-stamp.ts), so a reader whose version in Envoy's config dump is not the
// one just accepted, and whose `last_updated` did not move (a listener updated in place keeps its
// version: keptReaders), was kept as it runs, with the old file it read. Measured on 1.40: a
// misspelt listener field or `codec_type: AUTO` with a new script leaves listener_0's
// `active_state` (`version_info`, `last_updated`) as it was. The rule is pure
// (keptReaders); readersKept asks Envoy (one config dump per xDS type, only for such riders).
import type { DynamicResource, EnvoyAdmin } from '../envoy/admin.js';
import type { ReadOnceReader } from '../publish/read-once.js';
import { READER_KINDS } from './reader-running.js';
import type { ReaderKind } from './reader-running.js';

/**
 * A reader Envoy kept as it runs. `runs`: the version of its file Envoy runs it as: the one Envoy
 * accepted before this publish, as recorded (Envoy saw no change to the resource since, so it is as
 * that version has it), else its `version_info` in Envoy's config dump ('' when none). `dumped`:
 * that `version_info`, which Envoy keeps across an in-place listener update and an update it saw no
 * change in, so it may name an older version than the one Envoy runs the resource from.
 */
export interface KeptReader extends ReadOnceReader {
  runs: string;
  dumped: string;
}

/**
 * How long before a rider's publish a resource Envoy built still counts as built for it (ms): Envoy
 * writes `last_updated` to the millisecond, from its own clock. The safe side: a resource counted
 * built leaves the file published, as before this check.
 */
export const BUILT_MARGIN_MS = 1000;

/**
 * The readers among `readers` (readOnceReaders of a rider) held in `file` that Envoy did not build
 * for the accepted publish of `file` at `version`, the rider renamed at `since` (epoch ms, before
 * `file`; `previous`: the version of `file` Envoy accepted before it, as recorded, which each kept
 * reader `runs`): a named listener, cluster or route configuration that Envoy's config dump (`dumped`, by
 * xDS type: active and warming, a name may be listed twice) lists, none of its entries at `version`
 * nor updated since (BUILT_MARGIN_MS before it). Envoy keeps a listener's `version_info` when it
 * updates it in place (its filter chains alone changed: `ListenerImpl::newListenerWithFilterChain`
 * passes the running listener's `version_info_`), but `last_updated` moves (measured on 1.40), so
 * the time tells that build. A reader of another kind or with no name, one Envoy does not list
 * (nothing Envoy runs reads the old file), and any reader when neither `version` nor `since` is
 * known count as built: the watcher cannot tell otherwise, and leaves the file as before. Pure.
 */
export function keptReaders(readers: readonly ReadOnceReader[], file: string, version: string | undefined, since: number | undefined, dumped: ReadonlyMap<ReaderKind, readonly DynamicResource[]>, previous?: string): KeptReader[] {
  if (version === undefined && since === undefined) return [];
  const built = (resource: DynamicResource): boolean =>
    (version !== undefined && resource.version === version) || (since !== undefined && resource.updatedAtMs !== undefined && resource.updatedAtMs >= since - BUILT_MARGIN_MS);
  const kept: KeptReader[] = [];
  for (const reader of readers) {
    const kind = READER_KINDS.get(reader.holder ?? '');
    if (reader.file !== file || reader.resource === undefined || kind === undefined) continue;
    const listed = (dumped.get(kind) ?? []).filter((resource) => resource.name === reader.resource);
    if (listed.length === 0 || listed.some(built)) continue;
    const inDump = listed[0]?.version ?? '';
    kept.push({ ...reader, runs: previous ?? inDump, dumped: inDump });
  }
  return kept;
}

const what = (reader: ReadOnceReader): string => `${reader.holder ?? 'resource'} ${reader.resource ?? ''} of ${reader.file}`;

/**
 * Which version of its file a kept reader runs as, in words: "still version V" where Envoy's config
 * dump and the record agree; else the recorded version, and what the dump says and why they differ
 * (fresh-user trial: after an in-place update the line said "still version V0" of a listener Envoy
 * ran from a later version).
 */
function runsText(r: KeptReader): string {
  const shown = (v: string): string => (v === '' ? '(none)' : v);
  if (r.runs === r.dumped) return `still version ${shown(r.runs)}`;
  return `as ${r.file} version ${shown(r.runs)} has it, the last version Envoy accepted before; Envoy's config dump still says version_info ${shown(r.dumped)}, which Envoy keeps when it updates a listener in place or sees no change to a resource`;
}

/**
 * What a rider's verdict says after "<rider> version V rolled back with " (conclude.ts), and what
 * holding it back says (the syncer's next pass: `status`, the Event), for `kept` (not empty). Pure.
 */
export function keptMessages(rider: string, reader: { file: string; version: string }, kept: readonly KeptReader[]): { withReader: string; held: string } {
  const resources = kept.map((r) => `${what(r)} (${runsText(r)})`).join(', ');
  const ignored = `Envoy saw no change to ${kept.length === 1 ? 'it' : 'them'} (it ignores a misspelt field, an enum's first value by name, a value spelt another way)`;
  const setting = `change a setting Envoy sees in ${kept.length === 1 ? 'that resource' : 'each of those resources'} with it`;
  return {
    withReader: `${reader.file} version ${reader.version}, which Envoy accepted, but Envoy kept ${resources} as it runs: ${ignored}, so ${rider} would only take effect on a restart; ${setting}`,
    held: `${rider} held back: Envoy kept ${resources} as it runs when ${reader.file} version ${reader.version} came with it: ${ignored}, so ${rider} would only take effect on a restart; ${setting}, or restart the Pod (copy publishes it before Envoy starts, and nothing puts it back if Envoy refuses it). The published ${rider} is what Envoy runs`,
  };
}

/**
 * For each of `riders` (files published with `reader`, which Envoy accepted at `reader.version`,
 * after `reader.previousVersion`;
 * `publishedAtMs`: a rider's rename, before the reader's; `readersOf`: readOnceReaders of a rider)
 * that Envoy kept a reader of: keptMessages. Asks Envoy's config dump once per xDS type among those
 * readers, and nothing when none is of a type it lists. Empty when Envoy cannot be asked or does not
 * answer in `timeoutMs` (the riders stay, as before). Never rejects.
 */
export async function readersKept(
  admin: EnvoyAdmin | undefined,
  reader: { file: string; version: string | undefined; previousVersion?: string | undefined },
  riders: readonly { file: string; publishedAtMs: number }[],
  readersOf: (rider: string) => readonly ReadOnceReader[],
  timeoutMs: number,
): Promise<Map<string, { withReader: string; held: string }>> {
  const out = new Map<string, { withReader: string; held: string }>();
  if (admin === undefined) return out;
  const readers = new Map(riders.map((rider) => [rider, readersOf(rider.file).filter((r) => r.file === reader.file && r.resource !== undefined)]));
  const kinds = new Set([...readers.values()].flat().flatMap((r) => READER_KINDS.get(r.holder ?? '') ?? []));
  if (kinds.size === 0) return out;
  const dumped = new Map<ReaderKind, DynamicResource[]>();
  try {
    for (const kind of kinds) dumped.set(kind, await admin.dynamicResources(kind, timeoutMs));
  } catch {
    return out;
  }
  for (const [rider, list] of readers) {
    const kept = keptReaders(list, reader.file, reader.version, rider.publishedAtMs, dumped, reader.previousVersion);
    if (kept.length > 0) out.set(rider.file, keptMessages(rider.file, { file: reader.file, version: reader.version ?? '(no version_info)' }, kept));
  }
  return out;
}
