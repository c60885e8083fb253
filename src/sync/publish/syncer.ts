// One sync pass, shared by `copy` (once, before Envoy starts) and `watch` (on every `..data` swap
// and on every resync): read a consistent snapshot, keep only files whose content differs from the
// target, validate them, and publish the valid ones by rename in make-before-break order.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { readSnapshot } from '../volume/snapshot.js';
import type { Snapshot } from '../volume/snapshot.js';
import { TargetDirectory } from './target.js';
import { heldOnReturnMessage, logBackToPublished, logPublished, logReadOnceHeld, logRejection, logRemoved, logSkipped } from './published-log.js';
import type { BackToPublished } from './published-log.js';
import { readOnceStep } from './read-once-pass.js';
import type { NotRunning, PassChange as Change, Unchanged } from './read-once-pass.js';
import { fileReferences, publishPlan } from './reference-order.js';
import { SnapshotReferences } from './snapshot-references.js';
import { addsResources } from './rename-waits.js';
import { GateMemo } from './gate-memo.js';
import { sha256, stampVersion, stampedSha256 } from '../envoy/version-stamp.js';
import type { Stamped } from '../envoy/version-stamp.js';

export interface SyncerOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  /** Base name of the file Envoy was started with (`-c`), if known. */
  bootstrapName?: string;
  /** `watch` only: Envoy runs (a replaced bootstrap needs a restart; a file Envoy reads once waits for its reader, read-once.ts). */
  warnOnBootstrapChange: boolean;
  /** `watch`: content (sha256 of what would be published) Envoy refused, not republished; `configMap`: key → sha256 as published (gate-memo.ts). */
  hold?: (name: string, contentSha256: string, configMap: ReadonlyMap<string, string>) => boolean;
  /** Whether anything is held now (else the gate judges only the files that changed). */
  holding?: () => boolean;
  /** `watch`: whether content Envoy refused is held for `name` now (asked before `hold`). */
  held?: (name: string) => boolean;
  /** `watch`: whether Envoy's last verdict on `name` refused this content (sha256 as published): a held-back read-once file says so. */
  refusedLast?: (name: string, sha256: string) => boolean;
  /** `watch`: which readers of a held-back read-once file Envoy runs no version of: then it is published (read-once-again.ts). */
  notRunning?: NotRunning;
  /** `watch`: what holding `name` back says when this content was put back because Envoy kept its reader as it runs. */
  keptLast?: (name: string, sha256: string) => string | undefined;
  /** `watch`: whether Envoy refused `name`, never took it, and no published file names it (verdict/unused-refused.ts): its removal says so. */
  unused?: (name: string) => boolean;
}

export type { PassShape, PublishedFile, SyncResult } from './pass-result.js';
import type { PassShape, PublishedFile, SyncResult } from './pass-result.js';

/** A publish a restore may replace: its inode and the sha256 of the content renamed (as PublishedFile has them). */
export interface Replaces {
  ino: number;
  sha256: string;
}

export class Syncer {
  private readonly target: TargetDirectory;
  private readonly logger: Logger;
  // Log a rejection, a removed key, or an empty ConfigMap once per occurrence, not on every resync.
  private readonly reportedRejections = new Map<string, string>();
  private readonly reportedRemovals = new Set<string>();
  private readonly reportedSkips = new Set<string>();
  private reportedEmpty = false;
  // Passes and restores one at a time: a restore must never land after a newer publish.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stamps = new Map<string, { sourceSha256: string; sha256: string; version: string | undefined }>();
  private readonly references = new SnapshotReferences();
  /** Read-once files held back: name → sha256 of the content said (once per content). */
  private readonly reportedHeldBack = new Map<string, string>();
  private publishedListener: ((files: PublishedFile[]) => void) | undefined;
  private beforeRenamesListener: ((renames: number) => Promise<void>) | undefined;
  private renameFirstListener: ((pass: PassShape) => boolean) | undefined;
  private awaitReadListener: ((files: readonly string[]) => Promise<void>) | undefined;
  /** File → resource names of the content last renamed there (unknown after a restore: addsResources). */
  private readonly gate: GateMemo;
  private readonly namesPublished = new Map<string, ReadonlySet<string>>();

  constructor(private readonly options: SyncerOptions) {
    this.target = new TargetDirectory(options.targetDir);
    this.gate = new GateMemo(options.bootstrapName);
    this.logger = options.logger;
  }

  /** `watch`: told about every pass's renames, right after them, for Envoy's verdict. */
  onPublished(listener: (files: PublishedFile[]) => void): void {
    this.publishedListener = listener;
  }

  /**
   * `watch`: called with a pass's first changed file and awaited before its first rename (Envoy's
   * counters for the verdict's baseline), with the renames into the target so far. Must not throw.
   */
  onBeforeRenames(listener: (renames: number) => Promise<void>): void {
    this.beforeRenamesListener = listener;
  }

  /**
   * `watch`: called just before a pass's first rename, while the `onBeforeRenames` listener waits:
   * whether the pass renames without waiting for it (Envoy's verdict then takes its baseline later).
   */
  onRenameFirst(listener: (pass: PassShape) => boolean): void {
    this.renameFirstListener = listener;
  }

  /**
   * `watch`: called with files of a pass already renamed that the next file may depend on Envoy
   * having read (rename-waits.ts); awaited before its rename. Bounded by the listener; must not throw.
   */
  onAwaitRead(listener: (files: readonly string[]) => Promise<void>): void {
    this.awaitReadListener = listener;
  }

  /** Renames onto published names so far (passes and restores). */
  get renames(): number {
    return this.target.renames;
  }

  removeStaleTempFiles(): Promise<string[]> {
    return this.target.removeStaleTempFiles();
  }

  /** One pass over the volume at `sourceDir`. */
  syncOnce(): Promise<SyncResult> {
    return this.serialized(async () => this.pass(await readSnapshot(this.options.sourceDir)));
  }

  /** One pass over `snapshot`, from the volume or from the API (sources/). */
  syncSnapshot(snapshot: Snapshot): Promise<SyncResult> {
    return this.serialized(() => this.pass(snapshot));
  }

  /**
   * Puts `content` as `name` by the same temp file + fsync + rename (Envoy reloads it: a rollback,
   * or the same content renamed again for Envoy to judge once more), unless `name` is no longer the
   * publish `replaces` (its inode and the sha256 of its content): a newer publish replaced it.
   * Returns the new inode, or undefined when not written.
   */
  restore(name: string, content: Buffer, replaces: Replaces): Promise<number | undefined> {
    return this.serialized(async () => {
      // The inode alone is not enough: a file system reuses a freed inode number at once (ext4:
      // the next file created), so a newer publish renamed after the one replaced can carry it
      // (measured: a rollback put the last accepted version over the newer one Envoy ran).
      const current = await this.target.current(name);
      if (current?.ino !== replaces.ino || (current.sha256 !== undefined && current.sha256 !== replaces.sha256)) return undefined;
      this.namesPublished.delete(name);
      const staged = await this.target.stage(name, content, sha256(content));
      this.target.commit(staged);
      await this.target.syncDirectory();
      return staged.identity.ino;
    });
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async pass(snapshot: Snapshot): Promise<SyncResult> {
    const { sourceDir } = this.options;
    const result: SyncResult = {
      dataDir: snapshot.dataDir,
      resourceVersion: snapshot.api?.resourceVersion,
      published: [],
      rejected: [],
      missing: [],
      removed: [],
      keys: snapshot.files.size,
      changedBytes: 0,
      stamped: new Map(),
      heldBack: [],
    };

    if (snapshot.files.size === 0 && !this.reportedEmpty) {
      const where = snapshot.api === undefined ? `ConfigMap volume ${sourceDir}` : `ConfigMap (API, resourceVersion ${String(snapshot.api.resourceVersion)})`;
      this.logger.warn({ source: sourceDir, snapshot: snapshot.dataDir }, `${where} is empty: nothing to publish`);
    }
    this.reportedEmpty = snapshot.files.size === 0;
    logSkipped(this.logger, snapshot, sourceDir, this.reportedSkips);

    // The ConfigMap as a whole (sha256 of each key's content): a hold is on content in the
    // ConfigMap it was refused with, since Envoy's verdict on one file depends on the others.
    const configMap = new Map([...snapshot.files].map(([name, source]) => [name, sha256(source)]));
    // Envoy sees only what the gate lets through: a key's content it refuses releases no other key's hold.
    const seen = this.options.hold !== undefined && this.options.holding?.() !== false ? await this.gate.judgeAll(snapshot.files, configMap) : configMap;
    const changes: Change[] = [];
    // Envoy's counters (the verdict's baseline) are asked for before the first rename; the request
    // goes out with the first changed file, so Envoy answers while the rest is validated and staged,
    // and is awaited unless the pass may rename first (onRenameFirst: plain xDS files; the answer
    // was still due 2-6 ms after staging on a loaded node, the largest part of a small change's wait).
    let beforeRenames: Promise<void> | undefined;
    const back: BackToPublished[] = [];
    const same = new Map<string, Unchanged>(); // as the target has them: may be renamed again (read-once-again.ts)
    for (const [name, source] of snapshot.files) {
      const sourceDigest = configMap.get(name) ?? sha256(source);
      // The version Envoy reports back (see envoy/version-stamp.ts): one line added, or the source as is.
      // Remembered per source digest, so an unchanged file costs no stamping and no second hash.
      let stamped: Stamped | undefined;
      const stamp = (): Stamped => (stamped ??= stampVersion(name, source, sourceDigest));
      let memo = this.stamps.get(name);
      if (memo?.sourceSha256 !== sourceDigest) {
        const fresh = stamp();
        memo = { sourceSha256: sourceDigest, sha256: stampedSha256(fresh, source, sourceDigest), version: fresh.version };
        this.stamps.set(name, memo);
      }
      const digest = memo.sha256;
      result.stamped.set(name, { version: memo.version, sha256: digest });
      const current = await this.target.compare(name, () => stamp().content, digest);
      const refused = this.options.held?.(name) === true ? 'envoy' : this.reportedRejections.has(name) ? 'gate' : this.reportedHeldBack.has(name) ? 'held-back' : undefined;
      const held = this.options.hold?.(name, digest, seen) === true; // asked every pass: other content releases it
      if (current === 'same' || held) {
        if (current === 'same' && !held && refused !== undefined) back.push({ name, version: memo.version, sha256: digest, refused });
        if (current === 'same' && !held) same.set(name, { version: memo.version, sha256: digest, content: () => stamp().content, source, sourceDigest });
        if (held && this.reportedRemovals.has(name)) this.logger.warn({ file: name, xdsVersion: memo.version }, heldOnReturnMessage(name, memo.version));
        this.reportedRejections.delete(name);
        continue;
      }
      beforeRenames ??= (this.beforeRenamesListener?.(this.target.renames) ?? Promise.resolve()).catch(() => undefined);
      const content = stamp().content;
      result.changedBytes += content.length;
      const validation = await this.gate.validate(name, source, sourceDigest);
      if (!validation.ok) {
        result.rejected.push(validation.error);
        if (current === 'absent') result.missing.push(name);
        logRejection(this.logger, validation.error, digest, current !== 'absent', this.reportedRejections);
        continue;
      }
      this.reportedRejections.delete(name);
      changes.push({ name, content, sha256: digest, kind: validation.kind, existed: current !== 'absent', version: memo.version });
    }

    // A file named by another (path_config_source, a secret's certificate) lands before it: Envoy
    // refuses a path that does not exist yet and reads it the moment the naming file is applied.
    // Otherwise make before break (clusters, endpoints, listeners, routes), then the name.
    // A file's kind is what its resources say, else what the subscriptions naming it read (a CDS
    // file with no clusters is still the bootstrap's cds_config), so every file is looked at. Some
    // renames wait for Envoy to have read earlier ones (rename-waits.ts).
    const readOnce = this.options.warnOnBootstrapChange && changes.some((change) => change.kind.type === 'data');
    const references = changes.length < 2 && !readOnce ? undefined : this.references.of(changes, snapshot.files, configMap);
    const readOnceStepped = readOnce && references !== undefined ? await readOnceStep(this.options, changes, references, same, (name, source, digest) => this.gate.validate(name, source, digest)) : undefined;
    result.heldBack = readOnceStepped?.held ?? [];
    logReadOnceHeld(this.logger, result.heldBack, this.reportedHeldBack, readOnceStepped?.released);
    changes.push(...(readOnceStepped?.again ?? []));
    const publishing = changes.filter((change) => !result.heldBack.some((held) => held.name === change.name));
    const plan = references === undefined || publishing.length < 2 ? publishing.map((change) => ({ change, waitFor: [] })) : publishPlan(publishing, references, (change) => addsResources(this.namesPublished.get(change.name), change.kind));
    changes.splice(0, changes.length, ...plan.map((step) => step.change));
    // Stage everything before the first rename: a full disk fails the whole change, not half of it,
    // and the renames follow one another as closely as possible. Staged in parallel so the fsyncs
    // share journal commits.
    const staging = await Promise.allSettled(changes.map((change) => this.target.stage(change.name, change.content, change.sha256)));
    const staged = staging.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failure = staging.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) {
      await beforeRenames;
      await this.target.discard(staged);
      throw failure.reason;
    }
    const shape = (): PassShape => ({
      kinds: changes.map((change) => change.kind.type),
      namesFiles: changes.some((change) => (references?.get(change.name) ?? fileReferences(change.content)).length > 0),
      waits: result.heldBack.length > 0 || plan.some((step) => step.waitFor.length > 0),
    });
    if (beforeRenames !== undefined && this.renameFirstListener?.(shape()) !== true) await beforeRenames;
    const published: PublishedFile[] = [];
    const renamed: Change[] = [];
    const asPublished = this.gate.asPublished(configMap); // every changed file judged by now
    for (const [index, change] of changes.entries()) {
      const file = staged[index];
      if (file === undefined) continue;
      // Checked by Envoy against earlier files (routes against clusters): waits until Envoy read them.
      const waitFor = plan[index]?.waitFor.filter((name) => renamed.some((done) => done.name === name)) ?? [];
      if (waitFor.length > 0) await this.awaitReadListener?.(waitFor).catch(() => undefined);
      this.target.commit(file);
      published.push({ name: change.name, sha256: change.sha256, content: change.content, version: change.version, kind: change.kind.type, ino: file.identity.ino, at: performance.now(), configMap: asPublished });
      renamed.push(change);
      this.namesPublished.set(change.name, new Set(change.kind.type === 'xds' ? change.kind.resourceNames : undefined));
    }
    result.published.push(...renamed.map((change) => change.name));
    logBackToPublished(this.logger, back);
    logPublished(this.logger, renamed, snapshot, this.options.warnOnBootstrapChange);
    if (changes.length > 0) await this.target.syncDirectory();
    if (published.length > 0) this.publishedListener?.(published);

    // An empty snapshot already got its own warning; one line per kept file would only bury it.
    const inTarget = snapshot.files.size === 0 ? [] : await this.target.publishedNames();
    result.removed.push(...logRemoved(this.logger, inTarget, snapshot.files, this.reportedRemovals, this.options.unused));
    return result;
  }
}
