// The files every file of a snapshot names (envoy/references.ts), for a pass's rename order and
// for the read-once files it holds back (read-once.ts). Unchanged files are parsed once per content.
import type { Reference } from '../envoy/references.js';
import { sha256 } from '../envoy/version-stamp.js';
import { fileReferences } from './reference-order.js';

export class SnapshotReferences {
  /** References of unchanged files (the bootstrap, every pass), per source digest. */
  private readonly memo = new Map<string, { sourceSha256: string; references: Reference[] }>();

  /**
   * File → the files it names, for every file of `files` (key → ConfigMap content; `configMap`
   * their sha256): a change's from its published (stamped) content, the others' memoized.
   */
  of(changes: readonly { name: string; content: Buffer }[], files: ReadonlyMap<string, Buffer>, configMap: ReadonlyMap<string, string>): Map<string, Reference[]> {
    const references = new Map(changes.map((change) => [change.name, fileReferences(change.content)]));
    for (const [name, source] of files) {
      if (references.has(name)) continue;
      const digest = configMap.get(name) ?? sha256(source);
      let memo = this.memo.get(name);
      if (memo?.sourceSha256 !== digest) this.memo.set(name, (memo = { sourceSha256: digest, references: fileReferences(source) }));
      references.set(name, memo.references);
    }
    return references;
  }
}
