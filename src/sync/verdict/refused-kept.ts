// Which published files a pass makes Envoy judge again although it did not rename them, pure: a
// file whose content Envoy refused and that stays published (no earlier version to put back), when
// the pass renames a file it names (an SDS file's certificate and key) or a file naming it (the
// lds.yaml whose listener opens its subscription). Envoy may take the same content then: a new
// subscription reads it, or the Secret it holds re-reads the fixed files (sds-reread.ts). Without a
// new verdict its last line said refused while Envoy ran it (corpus sequence new-tls-listener-sds).
// A refused file that was put back is held instead, and published again when a file it depends on
// changes (holds.ts).
import type { FileState } from './state.js';

/**
 * The refused content is what is published (a publish recorded), and nothing was put back in its
 * place: refusedKeptOnDisk without a file found on disk at start. Also never-read.ts's "a namer's
 * refusal stays on disk" (tracker.ts). Pure.
 */
export function refusedStaysPublishedState(entry: FileState | undefined): boolean {
  return entry?.published !== undefined && refusedKeptOnDisk(entry);
}

/**
 * The files of `files` (the state's entries) whose refused content stays published, not among
 * `renamed` (the pass's files), that name one of `renamed` or that one of `renamed` names
 * (`names`: the files a published file names, subscription-map.ts). Sorted. Pure.
 */
export function refusedKeptTouched(files: Readonly<Record<string, FileState>>, renamed: readonly string[], names: (file: string) => readonly string[]): string[] {
  const pass = new Set(renamed);
  const namedByPass = new Set(renamed.flatMap((file) => names(file)));
  return Object.keys(files)
    .filter((file) => !pass.has(file) && refusedStaysPublishedState(files[file]))
    .filter((file) => namedByPass.has(file) || names(file).some((named) => pass.has(named)))
    .sort();
}

/**
 * The files to rename again, the same bytes, now that Envoy accepted `accepted`: those whose refused
 * content stays published (as refusedStaysPublishedState, or found on disk at start: no publish
 * recorded, the caller compares the bytes), other than `accepted`, with no verdict
 * pending (`pending`), whose refusal another file could change (`refused.dependsOn` names
 * `accepted`, or is unknown). Envoy reads a path_config_source file only on a rename (or its
 * directory's move), so without one it never reads the same content again: a listener refused for a
 * cluster stays refused after the cluster came (measured on 1.40, trial). Held files, put back,
 * are published again by the pass instead (holds.ts). Sorted. Pure.
 */
export function keptRefusedToRetry(files: Readonly<Record<string, FileState>>, accepted: string, pending: (file: string) => boolean): string[] {
  return Object.keys(files)
    .filter((file) => file !== accepted && !pending(file) && refusedKeptOnDisk(files[file]))
    .filter((file) => {
      const dependsOn = files[file]?.refused?.dependsOn;
      return dependsOn === undefined || dependsOn.includes(accepted);
    })
    .sort();
}

/**
 * The one rule for "Envoy refused the content on disk": the last verdict refused the content and
 * put nothing back, and the content last published is the refused one (by sha256: a file with no
 * version, a certificate or a flow-style YAML, is compared as any other); a file found on disk at
 * start (copy published it) has no publish recorded: the caller compares the bytes on disk. Pure.
 */
export function refusedKeptOnDisk(entry: FileState | undefined): boolean {
  const refused = entry?.refused;
  if (refused === undefined || entry?.verdict?.outcome !== 'rejected' || entry.verdict.rolledBack) return false;
  return entry.published === undefined || entry.published.sha256 === refused.sha256;
}

/**
 * The line of a content Envoy refused that is the last version accepted (a restarted Envoy refused it
 * at start): nothing to put back. `applied`: what Envoy runs of it (applied.ts appliedSentence: LDS
 * and CDS apply each resource on its own, so a restarted Envoy may run some of them; trial: 2 of 3
 * listeners served while the line said Envoy ran none).
 */
export function refusedAcceptedMessage(file: string, version: string, applied: string, because: string): string {
  return `Envoy REFUSED ${file} version ${version}, the version accepted before (an Envoy started since refuses it): it stays published, as there is nothing older to put back, and is published again when Envoy accepts a file it may depend on; ${applied}${because}`;
}

/**
 * Whether Envoy accepted a file `file`'s refusal depends on (`refused.dependsOn`, unknown: any)
 * published after `sinceMs` (epoch ms: when the refused content was renamed, or its mtime when found
 * on disk), with no verdict pending on it: its acceptance came before this refusal was concluded
 * (a restarted Envoy's refusal at start is judged after the pass that brought the cluster back), so
 * the refused content is renamed again now. Pure.
 */
export function dependencyTakenSince(files: Readonly<Record<string, FileState>>, file: string, sinceMs: number, pending: (file: string) => boolean): string | undefined {
  const dependsOn = files[file]?.refused?.dependsOn;
  return Object.keys(files).sort().find((other) => {
    const e = files[other];
    if (other === file || pending(other) || (dependsOn !== undefined && !dependsOn.includes(other))) return false;
    const published = e?.published;
    return published !== undefined && e?.verdict?.outcome === 'accepted' && e.verdict.version === published.version && Date.parse(published.at) > sinceMs;
  });
}
