// The holds a watcher starts with, read from the state file (state.ts) once the files on disk are
// learned (tracker.ts start): which other keys may release each. A refusal this watcher made keeps
// `refused.dependsOn` (refusal-cause.ts). One written before `dependsOn` was kept (a watcher
// upgraded under a running Pod) is decided again from what was stored with it: Envoy's reason, or
// where its log says it (`why`), and how Envoy reads the file now. Without that, "any key" released
// it, so the first unrelated edit after an upgrade published content Envoy had refused for reasons
// no other file can change. A refusal from another Pod's Envoy (`fromStore`: the last-accepted store
// keeps no reason) stays held until its own content changes or this Envoy judges the file
// (holds.ts `acceptedHere`, at its first verdict here).
import type { RejectionReason } from '../envoy/rejection-reason.js';
import type { XdsType } from '../envoy/subscriptions.js';
import type { Holds } from './holds.js';
import { judgedBy } from './judged-by.js';
import type { ReadMap } from './judged-by.js';
import { dependsOnKeys } from './refusal-cause.js';
import type { RefusalCause } from './refusal-cause.js';
import type { FileState, RefusalWhy } from './state.js';

/** How the files on disk are read now (subscription-map.ts): enough to rebuild a refusal's cause. */
export interface RestoreMap extends ReadMap {
  readAs(name: string): ReadonlySet<string>;
  names(name: string): string[];
}

/** Envoy's log line for a file it could not read as a DiscoveryResponse starts so (rejection-reason.ts envoyLogLine). */
const FAILURE_LOG = 'Filesystem config update failure';

/**
 * The cause of a refusal stored without `dependsOn`, from `why` as state.ts kept it and how Envoy
 * reads `name` now (`map`). The counter is told by Envoy's log line (`update_failure` writes
 * "Filesystem config update failure", `FilesystemSubscriptionImpl::refresh`); no `why` at all (a
 * state older than it) is a refusal whose reason was not read. Pure.
 */
export function storedCause(name: string, why: RefusalWhy | undefined, map: RestoreMap): RefusalCause {
  const type = [...map.readAs(name)].find((t): t is XdsType => t !== 'secret-file' && t !== 'read-once');
  const names = map.names(name);
  const by = judgedBy(map, name)?.by;
  const linked = by === 'secret' || by === 'reader' || names.some((file) => map.readOnceReaders(file).length > 0);
  const kind = why?.envoyLog?.startsWith(FAILURE_LOG) === true ? 'failure' : 'rejected';
  const reason: RejectionReason | undefined = why === undefined
    ? undefined
    : { ...(why.reason === undefined ? {} : { reason: why.reason }), envoyLog: why.envoyLog ?? '', ...(why.schema === undefined ? {} : { schema: why.schema }) };
  return { type, kind, why: reason, names, linked };
}

/**
 * The other keys whose change may release the hold on `name` restored from `entry` (refused, not
 * undefined): `dependsOn` as stored; for a refusal from another Pod's Envoy, none; for one stored
 * before `dependsOn` was kept, decided from its stored reason (storedCause) among `keys` (the files
 * the watcher knows of at start). Pure.
 */
export function restoredDependsOn(name: string, refused: NonNullable<FileState['refused']>, keys: Iterable<string>, map: RestoreMap): readonly string[] {
  if (refused.dependsOn !== undefined) return refused.dependsOn;
  if (refused.fromStore !== undefined) return [];
  return dependsOnKeys(storedCause(name, refused.why, map), name, keys, (key) => ({ clusters: map.readAs(key).has('CDS') }));
}

/** Holds every refusal of `files` (the state file's), each with the keys that may release it (restoredDependsOn). */
export function restoreHolds(holds: Holds, files: Readonly<Record<string, FileState>>, onDisk: readonly string[], map: RestoreMap): void {
  const keys = [...new Set([...Object.keys(files), ...onDisk])];
  for (const [name, file] of Object.entries(files)) {
    if (file.refused === undefined) continue;
    holds.hold(name, file.refused.sha256, file.refused.fromStore !== undefined, [], undefined, restoredDependsOn(name, file.refused, keys, map));
  }
}
