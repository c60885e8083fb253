// Where the watcher keeps the content a refusal refused (src/sync/verdict/kept.ts): under the
// digest its version shows (refused/..sha256-<key>/<file>), which the refusal's line and its
// `validate` name. For tests that read a verdict line and check the path it gives.
import { join } from 'node:path';
import { refusedKey } from '../../src/sync/verdict/refused-versions.js';
import { STATE_DIR, refusedVersionDir } from '../../src/sync/verdict/state-dir.js';

/**
 * `<target>/..envoy-xds-verdict/refused/..sha256-<key>/<file>` for the refused `version` (the line's
 * `xdsVersion`, stamped by the watcher); `kind` accepted: the copy of an accepted version Envoy
 * ignored unknown fields in (accepted/..sha256-<key>/<file>).
 */
export function refusedCopy(target: string, file: string, version: unknown, kind: 'refused' | 'accepted' = 'refused'): string {
  const key = typeof version === 'string' ? refusedKey(version, '') : undefined;
  if (key === undefined) throw new Error(`no digest in the version ${String(version)}`);
  return join(target, STATE_DIR, kind, refusedVersionDir(key), file);
}
