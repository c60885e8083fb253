// The copy an accepted version's `validate` names when Envoy ignored unknown fields in it: the very
// content Envoy loaded, kept as `accepted/..sha256-<key>/<file>` (kept.ts), as a refusal's names its
// refused copy. The ConfigMap's key may hold a newer version by the time the operator reads the line,
// and the published file a newer publish (fresh-user trial: the hint named the ConfigMap's file).
import type { Logger } from 'pino';
import type { KeptVersions } from './kept.js';
import { refusedKey } from './refused-versions.js';

/**
 * Keeps `judged` (the publish Envoy accepted: its file, inode, bytes, version and digest) under its
 * key and returns `hint(file, key)`, the `validate` of that copy; undefined when it has no key or
 * could not be kept (the caller names the ConfigMap's file then). IO: a link or a write.
 */
export async function loadedCopyHint(
  keeper: KeptVersions,
  judged: { file: string; ino: number; content: Buffer; version: string | undefined; sha256: string },
  hint: (file: string, key: string) => string,
  logger: Logger,
): Promise<string | undefined> {
  const key = refusedKey(judged.version, judged.sha256);
  if (key === undefined) return undefined;
  const kept = await keeper.keepJudged('accepted', { file: judged.file, ino: judged.ino, content: judged.content, key }, logger);
  return kept ? hint(judged.file, key) : undefined;
}
