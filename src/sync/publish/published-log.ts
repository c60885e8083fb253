// What a pass logs about the files it renamed. Logged once the last of them is renamed: the renames
// follow one another with nothing in between (a log line between two renames delayed the second by
// 0.05-0.1 ms, bench:sync small). And the published files the ConfigMap no longer has.
import type { Logger } from 'pino';
import type { FileKind } from '../envoy/gate.js';
import type { Snapshot } from '../volume/snapshot.js';

export interface RenamedFile {
  name: string;
  content: Buffer;
  /** sha256 (hex) of the published content. */
  sha256: string;
  version: string | undefined;
  kind: FileKind;
  /** The target had a copy before this pass. */
  existed: boolean;
}

/** One `published` line per file; a warning for a replaced bootstrap when Envoy is running (`watch`). */
export function logPublished(logger: Logger, files: readonly RenamedFile[], snapshot: Snapshot, warnOnBootstrapChange: boolean): void {
  for (const file of files) {
    logger.info(
      {
        file: file.name,
        bytes: file.content.length,
        sha256: file.sha256.slice(0, 12),
        ...(file.version === undefined ? {} : { xdsVersion: file.version }),
        ...(snapshot.api === undefined ? { snapshot: snapshot.dataDir } : { resourceVersion: snapshot.api.resourceVersion }),
      },
      'published',
    );
    if (file.kind.type === 'bootstrap' && file.existed && warnOnBootstrapChange) {
      logger.warn(
        { file: file.name },
        `bootstrap ${file.name} changed: Envoy never reloads its bootstrap; restart the Pod to apply it (kubectl rollout restart)`,
      );
    }
  }
}

/**
 * The names of `published` (files in the target) that `configMap` no longer has; a warning for
 * each the first time (`reported` remembers them, and forgets a name the ConfigMap has again).
 */
export function logRemoved(logger: Logger, published: readonly string[], configMap: ReadonlyMap<string, unknown>, reported: Set<string>): string[] {
  const removed: string[] = [];
  for (const name of published) {
    if (configMap.has(name)) {
      reported.delete(name);
      continue;
    }
    removed.push(name);
    if (reported.has(name)) continue;
    reported.add(name);
    logger.warn({ file: name }, `${name} is no longer in the ConfigMap: keeping the last published copy (Envoy keeps using it and needs it to restart)`);
  }
  return removed;
}

/** Says once per key what of `snapshot` is not published: subdirectories, symlinks out of the volume `sourceDir`. */
export function logSkipped(logger: Logger, snapshot: Snapshot, sourceDir: string, reported: Set<string>): void {
  for (const name of snapshot.skipped) {
    if (reported.has(name)) continue;
    reported.add(name);
    logger.warn({ file: name }, 'not a regular file (ConfigMap items[].path subdirectory?): not published');
  }
  for (const [name, link] of snapshot.outside) {
    if (reported.has(name)) continue;
    reported.add(name);
    logger.warn({ file: name, link }, `key ${name} is a symlink to ${link}, outside the ConfigMap volume ${sourceDir}: not published`);
  }
}
