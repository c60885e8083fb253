// Each refused content is kept under a name of its own (`refused/..sha256-<key>/<file>`, next to
// `refused/<file>`, the last refusal), so that a refusal's line, Event and `status` name the very
// content Envoy refused in it, even after a newer refusal of the file. Pure: the name and which
// copies to let go (kept.ts does the IO). The last REFUSED_KEPT per file are kept.
import { refusedVersionDir } from './state-dir.js';

/** How many refused contents of one file are kept under their own name (the newest; docs/sync.md). */
export const REFUSED_KEPT = 4;

// The digest the watcher stamps on every version it publishes (envoy/version-stamp.ts uniqueVersion).
const STAMPED = /(?:^|\+)sha256:([0-9a-f]{12})$/;
const HEX12 = /^[0-9a-f]{12}/;

/**
 * The key a refused content is kept under: the 12 hex of `sha256:<12>` its version ends with (the
 * digest of the ConfigMap's content the verdict line shows), else the first 12 hex of `sha256`
 * (the digest of the bytes published: a certificate carries no version). Undefined when neither
 * gives 12 hex (nothing kept under a name of its own then).
 */
export function refusedKey(version: string | undefined, sha256: string): string | undefined {
  const stamped = version === undefined ? undefined : STAMPED.exec(version)?.[1];
  return stamped ?? HEX12.exec(sha256)?.[0];
}

/** A refused content kept under its own name: the directory's key (refusedVersionDir) and when it was kept (ctime, ms). */
export interface KeptRefusal {
  key: string;
  keptAtMs: number;
}

/** The key of a directory name refusedVersionDir gave, or undefined for any other name. */
export function keyOfDir(name: string): string | undefined {
  const key = name.startsWith(refusedVersionDir('')) ? name.slice(refusedVersionDir('').length) : undefined;
  return key !== undefined && /^[0-9a-f]{12}$/.test(key) ? key : undefined;
}

/**
 * Which of a file's kept refusals to let go: all but the `keep` kept last, never `current` (the one
 * just kept). Ties in time go by key, so two runs let go of the same ones.
 */
export function refusalsToDrop(kept: readonly KeptRefusal[], current: string, keep = REFUSED_KEPT): string[] {
  const newestFirst = [...kept].sort((a, b) => (a.key === current ? -1 : b.key === current ? 1 : b.keptAtMs - a.keptAtMs || a.key.localeCompare(b.key)));
  return newestFirst.slice(Math.max(1, keep)).map((k) => k.key);
}
