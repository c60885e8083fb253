// What a sync pass hands out (syncer.ts): the files it renamed, for Envoy's verdict, and its result.
import type { ValidationError } from '../envoy/gate.js';
import type { ReadOnceHeld } from './read-once.js';

/** A file the syncer just renamed into the target (what Envoy's verdict judges, verdict/tracker.ts). */
export interface PublishedFile {
  name: string;
  /** sha256 (hex) of the published (stamped) content: what a refusal holds back. */
  sha256: string;
  /** The published (stamped) content. */
  content: Buffer;
  /** The version Envoy will report for it; undefined if it carries none. */
  version: string | undefined;
  kind: 'xds' | 'bootstrap' | 'data';
  /** Inode of the published file (to tell it from a newer publish). */
  ino: number;
  /** performance.now() right after the rename. */
  at: number;
  /** Wall-clock ms of the publish when `at` is later than it (a file found on disk at start: its mtime). */
  publishedAtMs?: number;
  /** The ConfigMap it was published from: every key → sha256 of its content (undefined: found on disk at start). */
  configMap?: ReadonlyMap<string, string>;
}

export interface SyncResult {
  /** The `..data` directory that was read (undefined for a plain source directory or the API). */
  dataDir: string | undefined;
  /** The ConfigMap's resourceVersion when the snapshot came from the API. */
  resourceVersion: string | undefined;
  /** Files renamed into the target, in the order they were renamed. */
  published: string[];
  /** Files that failed validation; their previous copy (if any) stays. */
  rejected: ValidationError[];
  /** ConfigMap keys that have no copy at all in the target after this pass. */
  missing: string[];
  /** Files in the target the ConfigMap no longer has; kept (see docs/sync.md). */
  removed: string[];
  /** Number of keys in the snapshot. */
  keys: number;
  /** Bytes of the files that differed from the target (read, hashed, parsed): the pass's garbage. */
  changedBytes: number;
  /** Every key of the snapshot as it would be published: its version and the sha256 of the stamped content. */
  stamped: Map<string, { version: string | undefined; sha256: string }>;
  /** `watch`: changed files Envoy reads only when it builds their reader, held back as the pass does not rebuild it (read-once.ts). */
  heldBack: ReadOnceHeld[];
}

/** What a pass renames, as far as renaming before Envoy's answer to the verdict's request goes (verdict/baseline.ts). */
export interface PassShape {
  /** Each renamed file's kind (PublishedFile.kind). */
  kinds: readonly PublishedFile['kind'][];
  /** Some renamed file names another file (path_config_source, a secret's files): Envoy opens subscriptions on them. */
  namesFiles: boolean;
  /** Some rename waits for Envoy to read an earlier one (rename-waits.ts), or a read-once file is held back. */
  waits: boolean;
}
