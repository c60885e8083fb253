// The sidecar loop: one inotify watch on the ConfigMap volume (node's fs.watch is inotify on Linux
// and reports the `..data` rename by name), a sync pass per swap, coalescing, periodic resync.
import { statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DATA_LINK, SourceMissingError, isReservedName } from '../volume/snapshot.js';
import { errorFields, explainSyncError } from '../publish/explain-error.js';
import { heapAboveSoftLimit, releaseMemory } from './memory.js';
import { Syncer } from '../publish/syncer.js';
import type { SyncResult } from '../publish/syncer.js';
import type { SnapshotSource } from '../sources/source.js';
import { VolumeSource } from '../sources/source.js';
import type { AdminAddress } from '../envoy/subscriptions.js';
import { VerdictTracker } from '../verdict/tracker.js';
import type { VerdictListener } from '../verdict/tracker.js';
import { warmUp, warmUpParser } from './warm-up.js';

const RELEASE_AFTER_IDLE_MS = 1000;
// A pass that read and parsed this much leaves megabytes of dead parse trees in the old generation
// (a 256 KiB xDS file parses into ~2 MiB of objects): collect right after it rather than let a
// stream of such passes pile them up to the soft limit. Costs a few ms after the publish, which a
// change of this size (rare, 60 s apart in a cluster) can afford; small passes are not affected.
const LARGE_PASS_BYTES = 64 * 1024;
// While the source directory is gone: how often to look for it (a stat), to re-arm the watch.
const REARM_POLL_MS = 100;

export interface WatchOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  bootstrapName?: string;
  /** Full pass every resyncMs even without events: a safety net for lost inotify events. */
  resyncMs: number;
  /** Created once the first sync is done and the watch is established; removed on exit. */
  readyFile?: string;
  signal: AbortSignal;
  /** Where snapshots come from: the volume (default) or the API with the volume as fallback. */
  source?: SnapshotSource;
  /** After every pass that read a snapshot (Events, tests). Must not throw. */
  onPass?: (result: SyncResult) => void;
  /** Envoy's admin API (`--admin`); by default the bootstrap's `admin.address`. */
  admin?: AdminAddress;
  /** ms after a publish before Envoy's verdict is `unknown` (default 10 s). */
  verdictTimeoutMs?: number;
  /** Called once per verdict (accepted, rejected, unknown) after it is logged. */
  onVerdict?: VerdictListener;
}

/** Runs until `signal` aborts. Returns the exit code. */
export async function runWatch(options: WatchOptions): Promise<number> {
  const { sourceDir, targetDir, logger, signal } = options;
  const source = options.source ?? new VolumeSource(sourceDir);
  const sourceName = basename(sourceDir);
  // Envoy's verdict on each publish (verdict.ts); it puts refused files back through the syncer.
  const verdicts: VerdictTracker = new VerdictTracker({
    sourceDir,
    targetDir,
    logger,
    restore: (name, content, ino) => syncer.restore(name, content, ino),
    resync: () => { trigger(); },
    ...(options.admin === undefined ? {} : { admin: options.admin }),
    ...(options.bootstrapName === undefined ? {} : { bootstrapName: options.bootstrapName }),
    ...(options.verdictTimeoutMs === undefined ? {} : { timeoutMs: options.verdictTimeoutMs }),
  });
  if (options.onVerdict !== undefined) verdicts.onVerdict(options.onVerdict);
  const syncer = new Syncer({
    sourceDir,
    targetDir,
    logger,
    warnOnBootstrapChange: true,
    hold: (name, digest) => verdicts.isHeld(name, digest),
    onPublished: (files) => { verdicts.published(files); },
    ...(options.bootstrapName === undefined ? {} : { bootstrapName: options.bootstrapName }),
  });

  let stopping = false;
  let started = false;
  let requested = 0;
  let served = 0;
  let running: Promise<void> | undefined;
  // Whether the last snapshot came through `..data`: then only its swap matters, and the key
  // symlinks kubelet adds or removes right after the swap would only cause no-op passes.
  let atomicWriterLayout = false;

  // One pass over what the source gives now; undefined when it holds (nothing to publish).
  const pass = async (): Promise<SyncResult | undefined> => {
    const snapshot = await source.read();
    if (snapshot === undefined) return undefined;
    const result = await syncer.syncSnapshot(snapshot);
    if (snapshot.api === undefined) atomicWriterLayout = result.version !== undefined;
    source.passed(snapshot);
    options.onPass?.(result);
    return result;
  };

  // Every relevant event bumps `requested`; a pass covers what was requested when it began. A swap
  // during a pass therefore causes exactly one more pass, which reads the newest version: bursts of
  // swaps collapse into as few passes as the reads take, never into a mix of two versions.
  const runPasses = async (): Promise<void> => {
    do {
      const covering = requested;
      let changedBytes = 0;
      try {
        const startedAt = performance.now();
        const result = await pass();
        if (result !== undefined) {
          changedBytes = result.changedBytes;
          logger.debug({ ms: Number((performance.now() - startedAt).toFixed(2)), published: result.published.length, snapshot: result.version, resourceVersion: result.resourceVersion }, 'pass done');
        }
      } catch (err) {
        const explained = explainSyncError(err, { sourceDir, targetDir });
        logger.error(errorFields(err, explained), `sync failed, retrying on the next change or resync: ${explained.message}`);
        if (err instanceof SourceMissingError) checkWatchedDirectory();
      }
      served = covering;
      if (changedBytes >= LARGE_PASS_BYTES || heapAboveSoftLimit()) {
        const startedAt = performance.now();
        releaseMemory();
        logger.debug({ ms: Number((performance.now() - startedAt).toFixed(2)), changedBytes }, 'large pass or heap above soft limit: collected');
      }
    } while (served !== requested && !stopping);
    scheduleRelease();
  };
  // Between changes (60-90 s apart in a cluster) the watcher holds nothing, but V8 keeps a pass's
  // garbage until its heap grows. Collect once things are quiet; not after every pass, because
  // under a stream of swaps that made each next pass measurably slower.
  let release: NodeJS.Timeout | undefined;
  const scheduleRelease = (): void => {
    clearTimeout(release);
    release = setTimeout(releaseMemory, RELEASE_AFTER_IDLE_MS).unref();
  };
  const kick = (): void => {
    if (!started || stopping || running !== undefined) return;
    clearTimeout(release);
    running = runPasses().finally(() => {
      running = undefined;
    });
  };
  const trigger = (): void => {
    requested++;
    kick();
  };

  let watcher: FSWatcher | undefined;
  // The inode the inotify watch is on. Removing and recreating the source directory (what a volume
  // remount looks like) leaves the watch on the deleted inode, silent for good (inotify sends
  // IN_DELETE_SELF then IN_IGNORED; node reports them as events named after the directory, never
  // as an error): re-arm on the new directory as soon as it is there.
  let watchedIno: number | undefined;
  let rearmPoll: NodeJS.Timeout | undefined;
  const rearm = (): boolean => {
    try {
      startWatching();
    } catch {
      return false; // not back yet
    }
    clearInterval(rearmPoll);
    rearmPoll = undefined;
    logger.info({ source: sourceDir }, 'ConfigMap volume is back: watching it again');
    source.volumeChanged();
    trigger();
    return true;
  };
  // Synchronous (one stat), so two events in a row cannot both start a poll. `replaced`: inotify
  // said the watched directory itself was deleted or moved (a new one may reuse its inode number).
  const checkWatchedDirectory = (replaced = false): void => {
    if (stopping || rearmPoll !== undefined) return;
    let ino: number | undefined;
    try {
      ino = statSync(sourceDir).ino;
    } catch {
      ino = undefined;
    }
    if (!replaced && watcher !== undefined && ino === watchedIno) return;
    watcher?.close();
    watcher = undefined;
    if (rearm()) return;
    logger.warn(
      { source: sourceDir },
      ino === undefined
        ? `ConfigMap volume ${sourceDir} is gone (unmounted or replaced): watching again as soon as it is back`
        : `cannot watch ConfigMap volume ${sourceDir}: retrying`,
    );
    rearmPoll = setInterval(rearm, REARM_POLL_MS);
  };
  const startWatching = (): void => {
    const ino = statSync(sourceDir).ino;
    const fsWatcher = watch(sourceDir, { persistent: true }, (_event, filename) => {
      const name = filename?.toString();
      // IN_DELETE_SELF / IN_MOVE_SELF, reported under the directory's own name (once the watch is
      // gone, the following IN_IGNORED finds the new watch armed and does nothing).
      if (name === sourceName && fsWatcher === watcher) checkWatchedDirectory(true);
      if (name === undefined || name === DATA_LINK || (!atomicWriterLayout && !isReservedName(name))) {
        source.volumeChanged();
        trigger();
      }
    });
    watcher?.close();
    watchedIno = ino;
    fsWatcher.on('error', (err) => {
      logger.error({ err, source: sourceDir }, 'inotify watch failed; watching again');
      fsWatcher.close();
      if (watcher === fsWatcher) watcher = undefined;
      checkWatchedDirectory();
    });
    watcher = fsWatcher;
  };

  const removed = await syncer.removeStaleTempFiles();
  await warmUp(targetDir, logger);
  if (removed.length > 0) logger.info({ files: removed }, 'removed temp files left by a previous run');
  try {
    startWatching(); // before the first pass, so a swap during it is not missed
  } catch (err) {
    throw new SourceMissingError(sourceDir, err);
  }

  let resync: NodeJS.Timeout | undefined;
  try {
    await verdicts.start();
    const covering = requested;
    try {
      await pass();
      served = covering;
      releaseMemory(); // the warm-up's and first sync's garbage, before any change arrives
      await warmUpParser(20);
    } catch (err) {
      // Target not writable, source unreadable: nothing sensible to wait for.
      const explained = explainSyncError(err, { sourceDir, targetDir });
      logger.error(errorFields(err, explained), `initial sync failed: ${explained.message}`);
      return 1;
    }
    started = true;
    source.start(trigger);
    if (served !== requested) kick(); // a swap landed during the first pass

    resync = setInterval(() => {
      checkWatchedDirectory(); // a watch lost to an error, or on a replaced directory
      trigger();
    }, options.resyncMs);

    if (options.readyFile !== undefined) {
      // Written then renamed: whoever sees the file (a probe, a test) sees it whole.
      await writeFile(`${options.readyFile}.tmp`, `${process.pid}\n`);
      await rename(`${options.readyFile}.tmp`, options.readyFile);
    }
    logger.info({ source: sourceDir, target: targetDir, from: source.kind, resyncSeconds: options.resyncMs / 1000 }, 'watching');

    if (!signal.aborted) {
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => { resolve(); }, { once: true });
      });
    }
    logger.info({ signal: String(signal.reason) }, 'stopping');
    return 0;
  } finally {
    stopping = true;
    clearInterval(resync);
    clearInterval(rearmPoll);
    clearTimeout(release);
    watcher?.close();
    await source.stop();
    await running; // never leave a half-published change (or a temp file) behind
    await verdicts.stop();
    if (options.readyFile !== undefined) await unlink(options.readyFile).catch(() => undefined);
  }
}
