// Which published files a pass makes Envoy judge again although it did not rename them, pure: a
// file whose content Envoy refused and that stays published (no earlier version to put back), when
// the pass renames a file it names (an SDS file's certificate and key) or a file naming it (the
// lds.yaml whose listener opens its subscription). Envoy may take the same content then: a new
// subscription reads it, or the Secret it holds re-reads the fixed files (sds-reread.ts). Without a
// new verdict its last line said refused while Envoy ran it (corpus sequence new-tls-listener-sds).
// A refused file that was put back is held instead, and published again when a file it depends on
// changes (holds.ts).
import type { FileState } from './state.js';

/** The refused content is what is published, and nothing was put back in its place. Pure. */
export function refusedStaysPublishedState(entry: FileState | undefined): boolean {
  const refused = entry?.refused;
  return refused !== undefined && entry?.verdict?.outcome === 'rejected' && !entry.verdict.rolledBack && entry.published?.sha256 === refused.sha256;
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
