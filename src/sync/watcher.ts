// The sidecar loop: one inotify watch on the ConfigMap volume (node's fs.watch is inotify on Linux
// and reports the `..data` rename by name), a sync pass per swap, coalescing, periodic resync.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DATA_LINK, SourceMissingError, isReservedName } from './snapshot.js';
import { errorFields, explainSyncError } from './errors.js';
import { heapAboveSoftLimit, releaseMemory } from './memory.js';
import { Syncer } from './syncer.js';
import type { AdminAddress } from './bootstrap-sources.js';
import { VerdictTracker } from './verdict.js';
import type { VerdictListener } from './verdict.js';
import { warmUp, warmUpParser } from './warmup.js';

const RELEASE_AFTER_IDLE_MS = 1000;
// A pass that read and parsed this much leaves megabytes of dead parse trees in the old generation
// (a 256 KiB xDS file parses into ~2 MiB of objects): collect right after it rather than let a
// stream of such passes pile them up to the soft limit. Costs a few ms after the publish, which a
// change of this size (rare, 60 s apart in a cluster) can afford; small passes are not affected.
const LARGE_PASS_BYTES = 64 * 1024;

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
  // Envoy's verdict on each publish (verdict.ts); it puts refused files back through the syncer.
  const verdicts: VerdictTracker = new VerdictTracker({
    sourceDir,
    targetDir,
    logger,
    restore: (name, content, ino) => syncer.restore(name, content, ino),
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

  // Every relevant event bumps `requested`; a pass covers what was requested when it began. A swap
  // during a pass therefore causes exactly one more pass, which reads the newest version: bursts of
  // swaps collapse into as few passes as the reads take, never into a mix of two versions.
  const runPasses = async (): Promise<void> => {
    do {
      const covering = requested;
      let changedBytes = 0;
      try {
        const startedAt = performance.now();
        const result = await syncer.syncOnce();
        changedBytes = result.changedBytes;
        atomicWriterLayout = result.version !== undefined;
        logger.debug({ ms: Number((performance.now() - startedAt).toFixed(2)), published: result.published.length, snapshot: result.version }, 'pass done');
      } catch (err) {
        const explained = explainSyncError(err, { sourceDir, targetDir });
        logger.error(errorFields(err, explained), `sync failed, retrying on the next change or resync: ${explained.message}`);
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
  const startWatching = (): void => {
    const fsWatcher = watch(sourceDir, { persistent: true }, (_event, filename) => {
      const name = filename?.toString();
      if (name === undefined || name === DATA_LINK || (!atomicWriterLayout && !isReservedName(name))) trigger();
    });
    fsWatcher.on('error', (err) => {
      // e.g. the volume was unmounted; the resync timer tries to watch again.
      logger.error({ err, source: sourceDir }, 'inotify watch failed; retrying at the next resync');
      fsWatcher.close();
      watcher = undefined;
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
      const first = await syncer.syncOnce();
      atomicWriterLayout = first.version !== undefined;
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
    if (served !== requested) kick(); // a swap landed during the first pass

    resync = setInterval(() => {
      if (watcher === undefined && !stopping) {
        try {
          startWatching();
        } catch (err) {
          logger.error({ err, source: sourceDir }, 'cannot watch the ConfigMap volume');
        }
      }
      trigger();
    }, options.resyncMs);

    if (options.readyFile !== undefined) await writeFile(options.readyFile, `${process.pid}\n`);
    logger.info({ source: sourceDir, target: targetDir, resyncSeconds: options.resyncMs / 1000 }, 'watching');

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
    clearTimeout(release);
    watcher?.close();
    await running; // never leave a half-published change (or a temp file) behind
    await verdicts.stop();
    if (options.readyFile !== undefined) await unlink(options.readyFile).catch(() => undefined);
  }
}
