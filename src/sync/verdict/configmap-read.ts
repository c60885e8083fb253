// What the watcher last read of the ConfigMap through the Kubernetes API (`--source api`), kept in
// state.json for `status` (status.ts): there the volume may lag what was read, published and
// judged, so `status` shows this instead of reading the volume. Pure.
import type { ValidationError } from '../envoy/gate.js';

/** One key as the watcher would publish it. */
export interface ReadFile {
  /** The version Envoy reports for it once published (as stamped, envoy/version-stamp.ts); absent when it carries none. */
  version?: string;
  /** sha256 (hex) of the content as it would be published (stamped): what a refusal holds back. */
  sha256: string;
  /** The watcher's gate refuses it (never published): where and why. */
  invalid?: { message: string; line?: number; column?: number };
}

export interface ConfigMapRead {
  /** The ConfigMap's resourceVersion the snapshot came with. */
  resourceVersion?: string;
  /** When this content was first read (ISO). */
  at: string;
  /** Every key of the ConfigMap. */
  files: Record<string, ReadFile>;
}

/**
 * The ConfigMap a pass read from the API: each key's version and stamped sha256 (the syncer's
 * `stamped`), and what the gate refused of it (`rejected`).
 */
export function configMapRead(
  resourceVersion: string | undefined,
  stamped: ReadonlyMap<string, { version: string | undefined; sha256: string }>,
  rejected: readonly ValidationError[],
  at: string,
): ConfigMapRead {
  const files: Record<string, ReadFile> = {};
  for (const [name, { version, sha256 }] of [...stamped].sort(([a], [b]) => a.localeCompare(b))) {
    const error = rejected.find((e) => e.file === name);
    const invalid = error === undefined ? undefined : { message: error.message, ...(error.line === undefined ? {} : { line: error.line }), ...(error.column === undefined ? {} : { column: error.column }) };
    files[name] = { ...(version === undefined ? {} : { version }), sha256, ...(invalid === undefined ? {} : { invalid }) };
  }
  return { ...(resourceVersion === undefined ? {} : { resourceVersion }), at, files };
}

/**
 * Keeps `read` in `state` (the verdict state, state.ts; undefined: the pass read the volume, which `status` reads itself).
 * Returns whether the state changed; the same content read again keeps its first `at`.
 */
export function recordRead(state: { configMap?: ConfigMapRead }, read: ConfigMapRead | undefined): boolean {
  const before = state.configMap;
  const same = before !== undefined && read !== undefined && before.resourceVersion === read.resourceVersion && JSON.stringify(before.files) === JSON.stringify(read.files);
  if (same || (before === undefined && read === undefined)) return false;
  if (read === undefined) delete state.configMap;
  else state.configMap = read;
  return true;
}
