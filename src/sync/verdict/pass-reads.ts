// What a pass's renames do to the verdicts already waiting: every file of the pass was on its way
// with every other (in-flight.ts), and a file found on disk at start that the pass makes Envoy read
// is judged from the pass's renames. A file found at start has no rename of this watcher's: its
// clock (Pending.at) starts when the watcher read it, so a certificate whose Secret Envoy refused at
// its start, accepted only once its key was renamed, was said accepted "in 11 s" (the Pod's age:
// fresh-user trial) though Envoy took it within ms of that rename. Envoy re-reads every file of a
// Secret when any of them is renamed (SdsApi's watch on the files it reads, `SdsApi::onWatchUpdate`
// in source/common/secret/sds_api.cc) and reads a file named by path when the file naming it is
// applied; so its latency is from the first rename of the pass that made Envoy read it.
import type { PublishedFile } from '../publish/syncer.js';
import type { Pending } from './pending.js';

/** How the files of a pass relate to others (subscription-map.ts). */
export interface PassReadMap {
  /** The files `name` names by path (its RDS, EDS, SDS files, a Secret's certificate and key). */
  names(name: string): string[];
  /** For a file a Secret reads: the files holding such Secrets. */
  secretReaders(name: string): { sdsFiles: string[] };
}

/**
 * Whether renaming `renamed` makes Envoy read `file` again (`secret`: the files holding the Secret
 * that reads it, Pending.secret): `renamed` holds that Secret, is another file a Secret of those
 * reads, or names `file` by path. Pure.
 */
export function renameReads(renamed: string, file: { file: string; secret?: { sdsFiles: readonly string[] } }, map: PassReadMap): boolean {
  if (renamed === file.file) return false;
  const sdsFiles = file.secret?.sdsFiles ?? [];
  if (sdsFiles.includes(renamed) || map.secretReaders(renamed).sdsFiles.some((sds) => sdsFiles.includes(sds))) return true;
  return map.names(renamed).includes(file.file);
}

/**
 * A file found at start that `pass` (its renames, `at`: performance.now() after each) makes Envoy
 * read, still waiting for its verdict and not set aside: the time of the first of those renames,
 * or undefined (not found at start, already timed from its own rename, or not read by the pass). Pure.
 */
export function readByPassAt(pending: Pick<Pending, 'file' | 'foundAtStart' | 'at' | 'deferred' | 'acceptedAside'> & { secret?: { sdsFiles: readonly string[] } }, pass: readonly Pick<PublishedFile, 'name' | 'at'>[], map: PassReadMap): number | undefined {
  if (pending.foundAtStart !== true || pending.deferred !== undefined || pending.acceptedAside !== undefined) return undefined;
  const at = Math.min(...pass.filter((file) => file.at > pending.at && renameReads(file.name, pending, map)).map((file) => file.at));
  return Number.isFinite(at) ? at : undefined;
}

/**
 * After `pass` is tracked: each of its files waits with the others of the pass on their way
 * (`othersInFlight`, poll.ts), and each file found at start that it makes Envoy read is timed from
 * that rename (readByPassAt).
 */
export function afterPass(pending: ReadonlyMap<string, Pending>, pass: readonly PublishedFile[], othersInFlight: (file: string) => Set<string>, map: PassReadMap): void {
  for (const file of pass) {
    const own = pending.get(file.name);
    if (own !== undefined) own.inFlight = othersInFlight(file.name);
  }
  for (const waiting of pending.values()) {
    if (pass.some((file) => file.name === waiting.file)) continue;
    const at = readByPassAt(waiting, pass, map);
    if (at !== undefined) waiting.at = at;
  }
}
