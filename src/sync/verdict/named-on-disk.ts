// Whether a restarted Envoy would read a refused file that stays published (no accepted version to
// put back): only while a published file names it by path_config_source. A new rds.yaml refused
// with the lds.yaml edit that names it is read by nothing once that lds.yaml goes back to its last
// accepted version (fresh-user trial: the line said "a restarted Envoy will refuse it again").
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { Judgement } from './judge.js';
import { findReferences } from '../envoy/references.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { isReservedName } from '../volume/snapshot.js';
import { acceptedCopy } from './state.js';

/** A published file that names the refused one. */
export interface Namer {
  file: string;
  /**
   * Its published content is not its last accepted one, and the accepted one does not name the
   * refused file (undefined: no accepted copy, so nothing goes back for it).
   */
  acceptedNamesIt: boolean | undefined;
  /** Its published content differs from the accepted copy (the edit that named the file). */
  edited: boolean;
}

/** Who reads a refused file on disk: the files that name it then, and those of them that go back (so name it no more). */
export interface ReadOnDisk {
  /** Files on disk that name it and stay as they are: a restarted Envoy reads it through them. */
  named: string[];
  /** Files that name it now but go back to an accepted version that does not. */
  goingBack: string[];
}

/**
 * The rule, pure. `opened`: the subscription that refused the file did not exist before its
 * publish, so a file edited in the same change opened it; Envoy took that file and the judge
 * refuses it for the subscription it opened (judge.ts `created`; messages.ts openedRefusal), so
 * its last accepted version goes back. Undefined when not known which files read it (not opened
 * by this change: Envoy's bootstrap, which may be outside the ConfigMap, may name it).
 */
export function readOnDisk(namers: readonly Namer[], opened: boolean): ReadOnDisk | undefined {
  if (!opened) return undefined;
  const goesBack = (n: Namer): boolean => n.edited && n.acceptedNamesIt === false;
  return { named: namers.filter((n) => !goesBack(n)).map((n) => n.file), goingBack: namers.filter(goesBack).map((n) => n.file) };
}

/**
 * Whether nothing published reads the refused file once the files refused for it go back (no
 * namer stays): Envoy does not use it, so its first refusal is an error, not fatal (fatal: a file
 * Envoy reads, refused with nothing accepted before it). False when not known (`read` undefined). Pure.
 */
export function readByNothing(read: ReadOnDisk | undefined): boolean {
  return read?.named.length === 0;
}

/** Whether `content` names `file` by path_config_source (or, for scoped routes, the route file its scopes read). */
function namesIt(content: Buffer, file: string): boolean {
  const text = content.toString('utf8');
  if (!text.includes(file)) return false;
  return findReferences(parseConfig(text)).some((ref) => ref.type !== 'read-once' && ref.type !== 'secret-file' && (ref.file === file || ref.routes === file));
}

/**
 * Whether the subscription that refused the file (`judgement`'s) was absent from `baseline`,
 * Envoy's counters read just before the publish (undefined: not read, so not known). Pure.
 */
export function openedSince(baseline: EnvoyCounters | undefined, judgement: Judgement | undefined): boolean {
  return baseline !== undefined && judgement?.outcome === 'rejected' && !baseline.subscriptions.has(judgement.subscription);
}

/**
 * readOnDisk over the files published in `targetDir` now and their accepted copies, for a refusal
 * of `file` by `judgement` against `baseline` (openedSince). IO: reads the files that may name it.
 */
export async function namedOnDisk(targetDir: string, file: string, baseline: EnvoyCounters | undefined, judgement: Judgement | undefined): Promise<ReadOnDisk | undefined> {
  const opened = openedSince(baseline, judgement);
  if (!opened) return undefined;
  const namers: Namer[] = [];
  for (const name of await readdir(targetDir)) {
    if (name === file || isReservedName(name)) continue;
    const content = await readFile(join(targetDir, name)).catch(() => undefined);
    if (content === undefined || !namesIt(content, file)) continue;
    const accepted = await acceptedCopy(targetDir, name).catch(() => undefined);
    namers.push({ file: name, edited: !(accepted?.equals(content) ?? false), acceptedNamesIt: accepted === undefined ? undefined : namesIt(accepted, file) });
  }
  return readOnDisk(namers.sort((a, b) => a.file.localeCompare(b.file)), opened);
}
