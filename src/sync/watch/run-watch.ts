// The sidecar: one inotify watch on the ConfigMap volume (volume/volume-watch.ts), a sync pass per
// swap (publish/syncer.ts), coalescing and periodic resync (pass-loop.ts), Envoy's verdict on each
// publish (verdict/tracker.ts). This file is the wiring and the order of things; each step below
// is numbered where it happens.
import { rename, unlink, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AdminAddress } from '../envoy/subscriptions.js';
import { errorFields, explainSyncError } from '../publish/explain-error.js';
import { Syncer } from '../publish/syncer.js';
import type { SyncResult } from '../publish/syncer.js';
import type { ReaderQuery } from '../publish/read-once-again.js';
import type { SnapshotSource } from '../sources/source.js';
import { VolumeSource } from '../sources/source.js';
import { configMapRead } from '../verdict/configmap-read.js';
import { EnvoyRecheck } from '../verdict/envoy-recheck.js';
import { Holds } from '../verdict/holds.js';
import { KeptVersions } from '../verdict/kept.js';
import { readState } from '../verdict/state.js';
import { VerdictTracker } from '../verdict/tracker.js';
import { UnusedRefused } from '../verdict/unused-refused.js';
import type { ValidateHint } from '../verdict/validate-hint.js';
import type { VerdictListener } from '../verdict/verdict.js';
import { SourceMissingError } from '../volume/snapshot.js';
import { VolumeWatch } from '../volume/volume-watch.js';
import { releaseMemory, releaseYoung } from './memory.js';
import { PassLoop } from './pass-loop.js';
import { warmUp, warmUpParser } from './warm-up.js';

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
  /** The `validate` the watcher's messages suggest (verdict/validate-hint.ts); default: this program on `sourceDir`. */
  validateHint?: ValidateHint;
  /** The `validate` a refusal suggests (verdict/validate-hint.ts refusedValidateHint); default: this program on `targetDir`. */
  refusedValidateHint?: ValidateHint;
  /** Called once per verdict (accepted, rejected, unknown) after it is logged. */
  onVerdict?: VerdictListener;
}

/**
 * Runs until `signal` aborts. Returns the exit code: 0 after a stop, 1 when the first sync fails
 * (target not writable, source unreadable). Throws SourceMissingError when the volume is not there.
 *
 * 1. Wire: source, holds, syncer, pass loop, verdict tracker, volume watch.
 * 2. Clean up what a killed predecessor left (temp files) and warm up the parser and publish path.
 * 3. Watch the volume, before the first pass, so a swap during it is not missed.
 * 4. Read the verdict state and the files on disk; start judging them.
 * 5. The first pass (errors end the watcher), then collect its garbage and re-warm the parser.
 * 6. Start the source and the pass loop; resync every resyncMs.
 * 7. Write the ready file, log `watching`.
 * 8. Wait for the signal.
 * 9. Stop: no new pass, the volume watch and source closed, the pass in progress finished (never
 *    a half-published change or a temp file left behind), verdicts' state written, ready file gone.
 */
export async function runWatch(options: WatchOptions): Promise<number> {
  const { sourceDir, targetDir, logger, signal } = options;

  // 1. Wire. The syncer asks the holds (what Envoy refused) on every file; the tracker adds to
  // them, and puts refused files back through the syncer; a released hold asks for a pass.
  const source = options.source ?? new VolumeSource(sourceDir);
  const holds = new Holds();
  const unused = new UnusedRefused(); // refused files Envoy does not use, for the line of a removed key
  const syncer = new Syncer({
    sourceDir,
    targetDir,
    logger,
    warnOnBootstrapChange: true,
    hold: (name, digest, configMap) => holds.isHeld(name, digest, configMap),
    holding: () => holds.any(),
    held: (name) => holds.has(name),
    refusedLast: (name: string, sha256: string): boolean => verdicts.refusedLast(name, sha256), // called in passes, after the tracker exists
    notRunning: (readers: readonly ReaderQuery[]): Promise<boolean[]> => verdicts.readersNotRunning(readers),
    keptLast: (name: string, sha256: string): string | undefined => verdicts.keptLast(name, sha256),
    unused: (name) => unused.has(name),
    ...(options.bootstrapName === undefined ? {} : { bootstrapName: options.bootstrapName }),
  });
  // Whether the last snapshot came through `..data` (see VolumeWatch).
  let atomicWriterLayout = false;
  // The volume told of a change since the last pass began: that pass asks Envoy for the verdict's
  // baseline before it reads (verdict/baseline.ts). Not on a resync: most change nothing.
  let changeNoticed = false;
  const passes = new PassLoop({
    logger,
    pass: async () => {
      if (changeNoticed) verdicts.baselines.send(syncer.renames);
      changeNoticed = false;
      try {
        const snapshot = await source.read();
        if (snapshot === undefined) return undefined;
        const result = await syncer.syncSnapshot(snapshot);
        if (snapshot.api === undefined) atomicWriterLayout = result.dataDir !== undefined;
        // From the API, the volume may lag what was read: `status` shows what was (configmap-read.ts).
        verdicts.sourceRead(snapshot.api === undefined ? undefined : configMapRead(snapshot.api.resourceVersion, result.stamped, result.rejected, new Date().toISOString()));
        verdicts.heldBack(result.heldBack);
        source.passed(snapshot);
        options.onPass?.(result);
        return result;
      } finally {
        verdicts.baselines.ended();
      }
    },
    onError: (err) => {
      const explained = explainSyncError(err, { sourceDir, targetDir });
      logger.error(errorFields(err, explained), `sync failed, retrying on the next change or resync: ${explained.message}`);
      if (err instanceof SourceMissingError) volume.check();
    },
    settled: (): Promise<void> => verdicts.settled(),
  });
  const verdicts = new VerdictTracker({
    sourceDir,
    targetDir,
    logger,
    holds,
    // The state directory's file operations (statfs once) and its kept versions: this target's, passed down.
    kept: new KeptVersions(targetDir),
    restore: (name, content, replaces) => syncer.restore(name, content, replaces),
    resync: passes.trigger,
    ...(options.admin === undefined ? {} : { admin: options.admin }),
    ...(options.bootstrapName === undefined ? {} : { bootstrapName: options.bootstrapName }),
    ...(options.verdictTimeoutMs === undefined ? {} : { timeoutMs: options.verdictTimeoutMs }),
    ...(options.validateHint === undefined ? {} : { validateHint: options.validateHint }),
    ...(options.refusedValidateHint === undefined ? {} : { refusedValidateHint: options.refusedValidateHint }),
  });
  if (options.onVerdict !== undefined) verdicts.onVerdict(options.onVerdict);
  verdicts.onVerdict((verdict) => { unused.heard(verdict); });
  // A verdict Envoy could not give (down, restarting): read Envoy until it is back (envoy-recheck.ts).
  const recheck = new EnvoyRecheck({ due: () => verdicts.unjudged(), read: () => verdicts.readEnvoy() });
  verdicts.onVerdict((verdict) => {
    if (verdict.outcome === 'unknown') recheck.kick();
  });
  syncer.onPublished((files) => { verdicts.published(files); });
  syncer.onBeforeRenames((renames) => verdicts.beforeRenames(renames));
  syncer.onRenameFirst((pass) => verdicts.baselines.renameFirst(pass));
  syncer.onAwaitRead((files) => verdicts.awaitRead(files));
  const volume = new VolumeWatch({
    dir: sourceDir,
    logger,
    atomicWriterLayout: () => atomicWriterLayout,
    onChange: () => {
      changeNoticed = true;
      source.volumeChanged();
      passes.trigger();
    },
  });

  // 2. Clean up and warm up.
  const removed = await syncer.removeStaleTempFiles();
  await warmUp(targetDir, logger);
  if (removed.length > 0) logger.info({ files: removed }, 'removed temp files left by a previous run');

  // 3. Watch the volume.
  volume.start();

  let resync: NodeJS.Timeout | undefined;
  try {
    // 4. Envoy may be loading the files on disk right now.
    unused.seed(await readState(targetDir).catch(() => undefined));
    await verdicts.start();
    // 5. The first pass.
    try {
      await passes.first();
      releaseMemory(); // the warm-up's and first sync's garbage, before any change arrives
      await warmUpParser(20);
      // The re-warm leaves 600 KiB of garbage in the 1 MiB new space: the first change would
      // scavenge in the middle of its pass or Envoy's reload of it (memory.ts, YOUNG_ROOM_BYTES).
      releaseYoung();
    } catch (err) {
      // Target not writable, source unreadable: nothing sensible to wait for.
      const explained = explainSyncError(err, { sourceDir, targetDir });
      logger.error(errorFields(err, explained), `initial sync failed: ${explained.message}`);
      return 1;
    }
    // 6. Start following changes.
    source.start(passes.trigger);
    passes.start();
    resync = setInterval(() => {
      volume.check(); // a watch lost to an error, or on a replaced directory
      passes.trigger();
      // An Envoy the kubelet restarted with no ConfigMap change is met here, one counters request (envoy-restarted.ts).
      void verdicts.readEnvoy();
    }, options.resyncMs);

    // 7. Ready.
    if (options.readyFile !== undefined) {
      // Written then renamed: whoever sees the file (a probe, a test) sees it whole.
      await writeFile(`${options.readyFile}.tmp`, `${process.pid}\n`);
      await rename(`${options.readyFile}.tmp`, options.readyFile);
    }
    logger.info({ source: sourceDir, target: targetDir, from: source.kind, resyncSeconds: options.resyncMs / 1000 }, 'watching');

    // 8. Wait for the signal.
    if (!signal.aborted) {
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => { resolve(); }, { once: true });
      });
    }
    logger.info({ signal: String(signal.reason) }, 'stopping');
    return 0;
  } finally {
    // 9. Stop.
    const passesDone = passes.stop();
    clearInterval(resync);
    recheck.stop();
    volume.close();
    await source.stop();
    await passesDone;
    await verdicts.stop();
    if (options.readyFile !== undefined) await unlink(options.readyFile).catch(() => undefined);
  }
}
