// What a pass logs about the files it renamed. Logged once the last of them is renamed: the renames
// follow one another with nothing in between (a log line between two renames delayed the second by
// 0.05-0.1 ms, bench:sync small).
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
