// Refused files Envoy does not use: refused with no version accepted before (nothing put back, so the
// file stays published) and named by no published file (named-on-disk.ts readByNothing), as a new
// eds.yaml refused with the cds.yaml edit that names it, once cds.yaml is back. Removing such a key
// keeps the file, but Envoy never took it and nothing reads it (fresh-user trial: the line said
// "Envoy keeps using it and needs it to restart"), and `status` no longer lists it as a refusal.
import type { FileState, VerdictState } from './state.js';
import type { Verdict } from './verdict.js';

/** Whether a file's state says Envoy refused it, never took a version of it, and nothing names it. Pure. */
export function refusedUnused(entry: FileState | undefined): boolean {
  return entry?.verdict?.outcome === 'rejected' && entry.verdict.namedByNone === true && entry.accepted === undefined;
}

/** The names refusedUnused holds for, from the state a watcher started with and the verdicts since. */
export class UnusedRefused {
  private readonly names = new Set<string>();

  /** From the state file the watcher found (undefined: none). */
  seed(state: VerdictState | undefined): void {
    for (const [name, entry] of Object.entries(state?.files ?? {})) if (refusedUnused(entry)) this.names.add(name);
  }

  /** Each verdict, as the tracker tells it: the last one on a file decides. */
  heard(verdict: Verdict): void {
    if (verdict.outcome === 'rejected' && verdict.namedByNone === true) this.names.add(verdict.file);
    else this.names.delete(verdict.file);
  }

  has(name: string): boolean {
    return this.names.has(name);
  }
}
