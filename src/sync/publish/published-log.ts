// What a pass logs about the files it renamed. Logged once the last of them is renamed: the renames
// follow one another with nothing in between (a log line between two renames delayed the second by
// 0.05-0.1 ms, bench:sync small). And the published files the ConfigMap no longer has, the files
// the gate refuses, the ConfigMap's return to what is published after a refusal, and the files
// Envoy reads only when it builds their reader that a pass holds back (read-once.ts).
import type { Logger } from 'pino';
import type { FileKind, ValidationError } from '../envoy/gate.js';
import type { Snapshot } from '../volume/snapshot.js';
import { contentVersion } from '../envoy/version-stamp.js';
import type { ReadOnceHeld } from './read-once.js';
import type { Released } from './read-once-again.js';

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
 * `unused`: whether Envoy refused a file, never took a version of it and no published file names
 * it (verdict/unused-refused.ts): its copy is kept too, but Envoy does not use it.
 */
export function logRemoved(logger: Logger, published: readonly string[], configMap: ReadonlyMap<string, unknown>, reported: Set<string>, unused: (name: string) => boolean = () => false): string[] {
  const removed: string[] = [];
  for (const name of published) {
    if (configMap.has(name)) {
      reported.delete(name);
      continue;
    }
    removed.push(name);
    if (reported.has(name)) continue;
    reported.add(name);
    logger.warn({ file: name }, removedMessage(name, unused(name)));
  }
  return removed;
}

/** The line for a key the ConfigMap no longer has (logRemoved); `unused`: Envoy never took it and nothing names it. */
export function removedMessage(name: string, unused: boolean): string {
  return unused
    ? `${name} is no longer in the ConfigMap: keeping the published copy, though Envoy never took it (it refused it) and no published file names it, so Envoy does not use it`
    : `${name} is no longer in the ConfigMap: keeping the last published copy (Envoy keeps using it and needs it to restart)`;
}

/**
 * The line for a key back in the ConfigMap (its removal was said, logRemoved) with content the
 * watcher holds back (verdict/holds.ts): nothing is published, so without a line the return went unsaid
 * (trial). `version`: the content's version as stamped (undefined: none).
 */
export function heldOnReturnMessage(name: string, version: string | undefined): string {
  return `${name} is back in the ConfigMap${version === undefined ? '' : ` with version ${version}`}, which stays held back (Envoy refused it, or it went back with a file Envoy refused; its verdict line and status say which): the published ${name} stays`;
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

/** Logs the gate's refusal of `error.file` once per refused content (`reported`: file → sha256 last said). */
export function logRejection(logger: Logger, error: ValidationError, digest: string, keptPrevious: boolean, reported: Map<string, string>): void {
  if (reported.get(error.file) === digest) return;
  reported.set(error.file, digest);
  const where = error.line === undefined ? error.file : `${error.file}:${error.line}${error.column === undefined ? '' : `:${error.column}`}`;
  logger.error(
    { file: error.file, line: error.line, column: error.column, error: error.message, sha256: digest.slice(0, 12) },
    `rejected ${where}: ${error.message}; ${keptPrevious ? 'the last good version stays published' : 'nothing published for this file'}`,
  );
}

/**
 * A key whose content was refused (by Envoy, and held back; or by the gate, never published) is
 * back to the content published (the ConfigMap reverted): nothing is published, and the refusal
 * no longer holds.
 */
export interface BackToPublished {
  name: string;
  /** The version of what is published (as Envoy reports it). */
  version: string | undefined;
  /** sha256 of what is published: a file without version_info (a script) is named by it, as `status` does. */
  sha256?: string;
  /** What kept the content in between from Envoy: its refusal, the gate, or the watcher holding a read-once file back (read-once.ts). */
  refused: 'envoy' | 'gate' | 'held-back';
}

/** The sentence for a key back to what is published (BackToPublished). */
export function backToPublishedMessage(file: BackToPublished): string {
  const v = file.version ?? (file.sha256 === undefined ? '(no version_info)' : contentVersion(file.sha256));
  if (file.refused === 'envoy') return `${file.name}: the ConfigMap is back to version ${v}, which is published (the last version Envoy accepted, put back after its refusal): nothing to publish; the refused version is no longer held back`;
  if (file.refused === 'held-back') return `${file.name}: the ConfigMap is back to version ${v}, which is published and what Envoy runs: nothing to publish; the version in between is no longer held back`;
  return `${file.name}: the ConfigMap is back to version ${v}, which is published (the watcher's gate refused the one in between, which was never published): nothing to publish`;
}

/** One info line per key back to what is published. */
export function logBackToPublished(logger: Logger, files: readonly BackToPublished[]): void {
  for (const file of files) logger.info({ event: 'back-to-published', file: file.name, xdsVersion: file.version, refusedBy: file.refused }, backToPublishedMessage(file));
}

/**
 * A warning per read-once file held back (read-once.ts), once per content (`reported`: name →
 * sha256 said); a file no longer held is forgotten, so holding it again is said again. `released`:
 * read-once files published for readers Envoy runs no version of (read-once-again.ts), one line each.
 */
export function logReadOnceHeld(logger: Logger, held: readonly ReadOnceHeld[], reported: Map<string, string>, released: readonly Released[] = []): void {
  for (const file of released) logger.info({ event: 'reader-not-running', file: file.name, readers: file.readers }, file.message);
  for (const name of [...reported.keys()]) if (!held.some((file) => file.name === name)) reported.delete(name);
  for (const file of held) {
    if (reported.get(file.name) === file.sha256) continue;
    reported.set(file.name, file.sha256);
    logger.warn({ event: 'held-back', file: file.name, sha256: file.sha256.slice(0, 12), readers: file.readers }, file.message);
  }
}
