// One sync pass, shared by `copy` (once, before Envoy starts) and `watch` (on every `..data` swap
// and on every resync): read a consistent snapshot, keep only files whose content differs from the
// target, validate them, and publish the valid ones by rename in make-before-break order.
import type { Logger } from 'pino';
import { readSnapshot } from './snapshot.js';
import type { Snapshot } from './snapshot.js';
import { TargetDirectory, sha256 } from './target.js';
import { publishRank, validateConfigFile } from './validate.js';
import type { FileKind, ValidationError } from './validate.js';

export interface SyncerOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  /** Base name of the file Envoy was started with (`-c`), if known. */
  bootstrapName?: string;
  /** `watch` only: Envoy is already running, so a replaced bootstrap means a restart is needed. */
  warnOnBootstrapChange: boolean;
}

export interface SyncResult {
  /** The `..data` directory that was read (undefined for a plain source directory). */
  version: string | undefined;
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
}

interface Change {
  name: string;
  content: Buffer;
  sha256: string;
  kind: FileKind;
  existed: boolean;
}

export class Syncer {
  private readonly target: TargetDirectory;
  private readonly logger: Logger;
  // Log a rejection, a removed key, or an empty ConfigMap once per occurrence, not on every resync.
  private readonly reportedRejections = new Map<string, string>();
  private readonly reportedRemovals = new Set<string>();
  private readonly reportedSkips = new Set<string>();
  private reportedEmpty = false;

  constructor(private readonly options: SyncerOptions) {
    this.target = new TargetDirectory(options.targetDir);
    this.logger = options.logger;
  }

  removeStaleTempFiles(): Promise<string[]> {
    return this.target.removeStaleTempFiles();
  }

  /** One pass over the volume at `sourceDir`. */
  async syncOnce(): Promise<SyncResult> {
    return this.syncSnapshot(await readSnapshot(this.options.sourceDir));
  }

  /** One pass over `snapshot`, from the volume or from the API (sources/). */
  async syncSnapshot(snapshot: Snapshot): Promise<SyncResult> {
    const { sourceDir, bootstrapName } = this.options;
    const result: SyncResult = {
      version: snapshot.version,
      resourceVersion: snapshot.api?.resourceVersion,
      published: [],
      rejected: [],
      missing: [],
      removed: [],
      keys: snapshot.files.size,
      changedBytes: 0,
    };

    if (snapshot.files.size === 0) {
      if (!this.reportedEmpty) {
        const where = snapshot.api === undefined ? `ConfigMap volume ${sourceDir}` : `ConfigMap (API, resourceVersion ${String(snapshot.api.resourceVersion)})`;
        this.logger.warn({ source: sourceDir, snapshot: snapshot.version }, `${where} is empty: nothing to publish`);
      }
      this.reportedEmpty = true;
    } else {
      this.reportedEmpty = false;
    }
    for (const name of snapshot.skipped) {
      if (this.reportedSkips.has(name)) continue;
      this.reportedSkips.add(name);
      this.logger.warn({ file: name }, 'not a regular file (ConfigMap items[].path subdirectory?): not published');
    }
    for (const [name, link] of snapshot.outside) {
      if (this.reportedSkips.has(name)) continue;
      this.reportedSkips.add(name);
      this.logger.warn({ file: name, link }, `key ${name} is a symlink to ${link}, outside the ConfigMap volume ${sourceDir}: not published`);
    }

    const changes: Change[] = [];
    for (const [name, content] of snapshot.files) {
      const digest = sha256(content);
      const current = await this.target.compare(name, content, digest);
      if (current === 'same') {
        this.reportedRejections.delete(name);
        continue;
      }
      result.changedBytes += content.length;
      const validation = await validateConfigFile(name, content, bootstrapName);
      if (!validation.ok) {
        result.rejected.push(validation.error);
        if (current === 'absent') result.missing.push(name);
        this.reportRejection(validation.error, digest, current !== 'absent');
        continue;
      }
      this.reportedRejections.delete(name);
      changes.push({ name, content, sha256: digest, kind: validation.kind, existed: current !== 'absent' });
    }

    // Make before break: what others reference lands first (ties in name order, for determinism).
    changes.sort((a, b) => publishRank(a.kind) - publishRank(b.kind) || (a.name < b.name ? -1 : 1));
    // Stage everything before the first rename: a full disk fails the whole change, not half of it,
    // and the renames follow one another as closely as possible. Staged in parallel so the fsyncs
    // share journal commits.
    const staging = await Promise.allSettled(changes.map((change) => this.target.stage(change.name, change.content, change.sha256)));
    const staged = staging.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failure = staging.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) {
      await this.target.discard(staged);
      throw failure.reason;
    }
    for (const [index, change] of changes.entries()) {
      const file = staged[index];
      if (file === undefined) continue;
      await this.target.commit(file);
      result.published.push(change.name);
      this.logger.info(
        {
          file: change.name,
          bytes: change.content.length,
          sha256: change.sha256.slice(0, 12),
          ...(snapshot.api === undefined ? { snapshot: snapshot.version } : { resourceVersion: snapshot.api.resourceVersion }),
        },
        'published',
      );
      if (change.kind.type === 'bootstrap' && change.existed && this.options.warnOnBootstrapChange) {
        this.logger.warn(
          { file: change.name },
          `bootstrap ${change.name} changed: Envoy never reloads its bootstrap; restart the Pod to apply it (kubectl rollout restart)`,
        );
      }
    }
    if (changes.length > 0) await this.target.syncDirectory();

    // An empty snapshot already got its own warning; one line per kept file would only bury it.
    for (const name of snapshot.files.size === 0 ? [] : await this.target.publishedNames()) {
      if (snapshot.files.has(name)) {
        this.reportedRemovals.delete(name);
        continue;
      }
      result.removed.push(name);
      if (this.reportedRemovals.has(name)) continue;
      this.reportedRemovals.add(name);
      this.logger.warn(
        { file: name },
        `${name} is no longer in the ConfigMap: keeping the last published copy (Envoy keeps using it and needs it to restart)`,
      );
    }
    return result;
  }

  private reportRejection(error: ValidationError, digest: string, keptPrevious: boolean): void {
    if (this.reportedRejections.get(error.file) === digest) return;
    this.reportedRejections.set(error.file, digest);
    const where = error.line === undefined ? error.file : `${error.file}:${error.line}${error.column === undefined ? '' : `:${error.column}`}`;
    this.logger.error(
      { file: error.file, line: error.line, column: error.column, error: error.message, sha256: digest.slice(0, 12) },
      `rejected ${where}: ${error.message}; ${keptPrevious ? 'the last good version stays published' : 'nothing published for this file'}`,
    );
  }
}
