// Did Envoy take it? After each publish, poll Envoy's admin API until the subscription the file feeds
// reports the file's version (accepted), or its update counters move while the version does not
// (rejected), or a bounded time passes (unknown). A refused file is replaced on disk by the last
// version Envoy accepted, so a restarted Envoy loads exactly what the running one runs. A rejection
// carries Envoy's reason where its admin API has one (envoy/rejection-reason.ts), else the log line.
//
// The entry point `watch` calls (start, before and after each pass's renames, stop): it learns what
// each published file is and queues it for a verdict. IO: poll.ts (the loop), conclude.ts (after a verdict),
// reader-running.ts and reader-kept.ts (does Envoy run, did it rebuild, a file's reader), track.ts (what waits for a verdict). Pure rules: judge.ts,
// in-flight.ts, holds.ts, subscription-map.ts, judged-by.ts, read-once-verdict.ts, messages.ts; on-disk.ts.
import type { Logger } from 'pino';
import { EnvoyAdmin } from '../envoy/admin.js';
import { contentVersion } from '../envoy/version-stamp.js';
import { describeAdmin } from '../envoy/subscriptions.js';
import type { PublishedFile } from '../publish/syncer.js';
import type { Holds } from './holds.js';
import { BaselineReads } from './baseline-reads.js';
import { Conclusions } from './conclude.js';
import { KeptVersions } from './kept.js';
import { EnvoyProcesses } from './envoy-process.js';
import { observeReading } from './envoy-answer.js';
import { recordRead, type ConfigMapRead } from './configmap-read.js';
import { judgeAgainAfterRestart } from './envoy-restarted.js';
import type { VerdictOptions } from './options.js';
import { configOnDisk, dataOnDisk } from './on-disk.js';
import { judgedBy, judgedNames, type JudgedBy } from './judged-by.js';
import { judgeNewlyRead, judgeUnjudgedRiders } from './newly-read.js';
import { readersNotRunning, type ReaderQuery } from './reader-running.js';
import { readersKept } from './reader-kept.js';
import { restoreHolds } from './restored-holds.js';
import { refusedKeptTouched, refusedStaysPublishedState } from './refused-kept.js';
import { Poller } from './poll.js';
import { awaitReadLogged } from './read-wait.js';
import { attribute } from './attribution.js';
import { REQUEST_TIMEOUT_MS, ReasonReader } from './reason.js';
import { retryKeptRefused, retryRefusedNow } from './refused-retry.js';
import type { RetryContext } from './refused-retry.js';
import { StateWriter, readState, recordHeldBack, refusedLast, type VerdictState } from './state.js';
import { SubscriptionMap } from './subscription-map.js';
import { track, trackAll, type TrackContext } from './track.js';
import { afterPass } from './pass-reads.js';
import type { VerdictListener } from './verdict.js';

export type { VerdictOptions } from './options.js';

export class VerdictTracker {
  private readonly logger: Logger;
  private readonly listeners: VerdictListener[] = [];
  private readonly timeoutMs: number;
  private readonly initialTimeoutMs: number;
  private readonly holds: Holds;
  private admin: EnvoyAdmin | undefined;
  private adminProblem: string | undefined;
  private readonly subscriptions: SubscriptionMap;
  /** The baseline of the pass being published (baseline-reads.ts; `watch` sends its requests and asks whether a pass renames first). */
  readonly baselines: BaselineReads;
  private readonly poller: Poller;
  private readonly state: VerdictState;
  private readonly stateFile: StateWriter;
  private readonly conclusions: Conclusions;
  /** The versions kept under the state directory (kept.ts): the watcher's, or the tracker's own. */
  private readonly kept: KeptVersions;
  /** Which Envoy process answered each reading (Envoy may restart under the watcher). */
  private readonly processes = new EnvoyProcesses();

  constructor(private readonly options: VerdictOptions) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.initialTimeoutMs = options.initialTimeoutMs ?? 300_000;
    this.subscriptions = new SubscriptionMap(options.bootstrapName);
    this.baselines = new BaselineReads(options.logger, () => this.admin);
    this.holds = options.holds;
    this.state = { pid: process.pid, sourceDir: options.sourceDir, targetDir: options.targetDir, updatedAt: new Date().toISOString(), files: {} };
    const kept = (this.kept = options.kept ?? new KeptVersions(options.targetDir));
    this.stateFile = new StateWriter(kept, () => this.stampedState(), (err) => {
      this.logger.warn({ err }, 'could not write the verdict state file');
    }, () => this.poller.pending.size > 0);
    // A version put back is what Envoy reads from then on: the files it names follow it, as after any
    // publish (else a file only the refused version named counted as read, and its first publish
    // with a listener that reads it went unjudged: fresh corpus sequence rds-new-file-listener-refused).
    const restore: VerdictOptions['restore'] = async (name, content, replaces) => {
      const ino = await options.restore(name, content, replaces);
      if (ino !== undefined) this.subscriptions.learn(name, content);
      return ino;
    };
    const conclusions = (this.conclusions = new Conclusions({
      options: { ...options, restore },
      logger: this.logger,
      holds: this.holds,
      state: this.state,
      stateFile: this.stateFile,
      reasons: new ReasonReader(options.logger),
      listeners: this.listeners,
      admin: () => this.admin,
      pathOf: (name) => this.subscriptions.pathOf(name),
      kept,
      routeFiles: () => [...new Set(this.subscriptions.list().filter(({ type }) => type === 'LDS' || type === 'RDS').map(({ file }) => file))],
      retryRefused: (after) => void ('accepted' in after ? retryKeptRefused(this.retryContext(restore), after.accepted) : retryRefusedNow(this.retryContext(restore), after.refused, after.sinceMs)),
    }));
    this.poller = new Poller({
      targetDir: options.targetDir,
      logger: this.logger,
      timeoutMs: this.timeoutMs,
      subscriptions: this.subscriptions,
      conclusions,
      admin: () => ({ admin: this.admin, problem: this.adminProblem }),
      restore: options.restore,
      refusedOnDisk: (file) => refusedStaysPublishedState(this.state.files[file]), queued: (file) => this.baselines.queues(file),
      republished: (file, secret, baseline, refusedBefore, opened) => {
        track(this.tracking, file, this.timeoutMs, false, secret === undefined ? { by: 'subscription' } : { by: 'secret', secret }, { baseline, retried: true, refusedBefore, opened });
      },
      readersKept: (reader, riders) => readersKept(this.admin, { file: reader.file, version: reader.version, previousVersion: reader.previousVersion }, riders.map((r) => ({ file: r.file, publishedAtMs: r.publishedAtMs })), (rider) => this.subscriptions.readOnceReaders(rider), REQUEST_TIMEOUT_MS),
    });
    // The ConfigMap no longer has the refused content: the state file forgets the refusal too.
    this.holds.onRelease((name) => {
      const entry = this.state.files[name];
      if (entry !== undefined) delete entry.refused;
      this.stateFile.save();
    });
  }

  /** What renaming a refused content that stays published again needs (refused-retry.ts). */
  private retryContext(restore: VerdictOptions['restore']): RetryContext {
    const track: RetryContext['track'] = (file, baseline) => { trackAll(this.tracking, [file], this.timeoutMs, false, baseline); };
    return { state: this.state, targetDir: this.options.targetDir, logger: this.logger, admin: () => this.admin, timeoutMs: REQUEST_TIMEOUT_MS, restore, pending: (file) => this.poller.pending.has(file), track };
  }

  onVerdict(listener: VerdictListener): void {
    this.listeners.push(listener);
  }

  /**
   * Reads the bootstrap and xDS files already in the target (published by `copy` or a previous
   * watcher) and the previous state, says once how Envoy's admin API is reached (or that verdicts
   * will be `unknown`), and starts judging the files on disk: Envoy may be loading them right now.
   */
  async start(): Promise<void> {
    await this.kept.sweepTemps(); // what a watcher that stopped mid-write left, before anything is kept
    const previous = await readState(this.options.targetDir).catch(() => undefined);
    if (previous !== undefined) this.state.files = previous.files;
    const onDisk = await configOnDisk(this.options.targetDir, this.subscriptions, this.holds);
    // Once the files on disk are learned: a refusal stored before `dependsOn` is decided from its reason.
    restoreHolds(this.holds, this.state.files, onDisk.map((file) => file.name), this.subscriptions);
    this.setAdmin();
    if (this.admin === undefined) {
      this.logger.warn({ problem: this.adminProblem }, `Envoy's verdict on published files will be unknown: ${this.adminProblem ?? 'no admin address'}; pass --admin HOST:PORT`);
    } else {
      this.logger.info({ admin: describeAdmin(this.admin.address), subscriptions: this.subscriptions.list() }, "reading Envoy's verdicts from its admin API");
    }
    const atStart = onDisk.filter((file) => this.subscriptions.mayBeRead(file.name));
    // A watcher that ran before (its verdicts are in the state) already said what Envoy counted then.
    const watchedBefore = previous !== undefined && Object.values(previous.files).some((f) => f.verdict !== undefined);
    if (!watchedBefore) this.conclusions.foundAtStart(atStart.map((file) => file.name));
    trackAll(this.tracking, [...onDisk, ...(await dataOnDisk(this.options.targetDir, onDisk, this.subscriptions))], this.initialTimeoutMs, true);
    // Written now, not within the usual 50 ms: a verdict line may come first, and `status` read
    // after it would find no state and ask whether the watcher runs at all.
    this.stateFile.save();
    await this.stateFile.flush();
  }

  /**
   * Called by the syncer just before a pass's renames: reads Envoy's counters, the baseline each
   * published file is judged against (so that what Envoy counted before the rename, a rollback's
   * reload for one, is never credited to it). Never throws; bounded by BASELINE_TIMEOUT_MS.
   */
  async beforeRenames(renamesNow: number): Promise<void> {
    const read = await this.baselines.before(renamesNow);
    if (read !== undefined) this.poller.lastCounters = read;
  }

  /**
   * The syncer's `onAwaitRead`: resolves once Envoy's counters show it read `files` since the
   * pass's baseline (read-wait.ts; at once without a baseline, READ_WAIT_MS at most). The baseline
   * stays: every file of the pass is judged against the counters from before its first rename.
   */
  async awaitRead(files: readonly string[]): Promise<void> {
    const admin = this.admin;
    const baseline = this.baselines.next;
    if (admin === undefined || baseline === undefined) return;
    const facts = this.subscriptions.facts();
    await awaitReadLogged(files, { admin, baseline, attribute: (now) => attribute(now.subscriptions, facts, this.poller.attribution) }, this.logger);
  }

  /**
   * Whether a published file still waits for a verdict Envoy never gave (its last one `unknown`,
   * or none for the version published) while no verdict is pending and Envoy's admin API is known:
   * what envoy-recheck.ts reads Envoy for.
   */
  unjudged(): boolean {
    return this.admin !== undefined && this.poller.pending.size === 0 && judgeAgainAfterRestart(this.state, () => false).length > 0;
  }

  /** One reading of Envoy's counters; a restarted Envoy is met there (setAdmin). True when Envoy answered. Never throws. */
  async readEnvoy(): Promise<boolean> {
    return (await this.admin?.counters(REQUEST_TIMEOUT_MS).then(() => true, () => false)) ?? false;
  }

  /** Called after each pass's renames (the syncer's `onPublished`). */
  published(files: readonly PublishedFile[]): void {
    // Files on disk nothing judged yet (found at start unread) are among those named: looked at too.
    const known = () => [...new Set([...Object.keys(this.state.files), ...this.subscriptions.named()])];
    const readBefore = judgedNames(this.subscriptions, known());
    this.conclusions.superseded.published(files); // what a replaced publish's window holds (superseded-fate.ts)
    for (const file of files) {
      if (this.subscriptions.learn(file.name, file.content, file.kind, file.version) === 'bootstrap') this.holds.bootstrap(file.name);
      const entry = (this.state.files[file.name] ??= {});
      entry.published = { ...(file.version === undefined ? {} : { version: file.version }), sha256: file.sha256, at: new Date().toISOString() };
      this.holds.published(file.name, file.sha256);
    }
    // A refusal for a file that did not exist yet ("paths must refer to an existing path"): the
    // refused content is tried again now that a file it names is there.
    const released = this.holds.arrived(files.map((file) => file.name));
    if (released.length > 0) {
      this.logger.info({ files: released }, `${released.join(', ')}: a file it names was published; publishing the refused version again for Envoy to judge`);
      this.options.resync?.();
    }
    this.setAdmin(); // a bootstrap may have arrived only now (empty ConfigMap at start)
    // Judged against the pass's baseline (the last poll's when Envoy did not answer), once it is known.
    const waits = this.baselines.handOver(files, this.poller.lastCounters, this.options.restore, (pass, given) => {
      trackAll(this.tracking, pass, this.timeoutMs, false, given);
      // Files of earlier passes this one makes Envoy read: judged against this pass's baseline.
      const ctx = { targetDir: this.options.targetDir, subscriptions: this.subscriptions, pending: (name: string) => this.poller.pending.has(name) };
      // With those whose refused content stays published and that the pass may make Envoy take (refused-kept.ts).
      const again = refusedKeptTouched(this.state.files, pass.map((file) => file.name), (name) => this.subscriptions.names(name));
      const judge = (file: PublishedFile, by: JudgedBy | undefined): void => { if (by !== undefined) track(this.tracking, file, this.timeoutMs, false, by, { baseline: given, retried: false, notRenamed: true, refusedKept: again.includes(file.name) }); };
      judgeNewlyRead(ctx, pass, readBefore, known(), judge, new Set(again));
      judgeUnjudgedRiders(ctx, pass, known(), (name) => this.state.files[name]?.verdict?.outcome === 'unknown', judge); // their reader's verdict is theirs
      // Every file of the pass was on its way with every other (Envoy applies them in an order of its own); files found at start it makes Envoy read are timed from it.
      afterPass(this.poller.pending, pass, (name) => this.poller.othersInFlight(name), this.subscriptions);
    }, (replaced, baseline) => {
      // Replaced before they were tracked: a file read through another is judged by that one's counters.
      for (const file of replaced) if (judgedBy(this.subscriptions, file.name)?.by === 'subscription') this.conclusions.superseded.untracked(file, baseline);
    });
    if (waits) this.poller.supersede(files.map((file) => file.name));
    this.stateFile.save();
  }

  /** What a pass read of the ConfigMap from the API, for `status` (configmap-read.ts); undefined: it read the volume. */
  sourceRead(read: ConfigMapRead | undefined): void { if (recordRead(this.state, read)) this.stateFile.save(); }

  /** The read-once files a pass held back (publish/read-once.ts), for `status`. */
  heldBack(held: readonly { name: string; sha256: string; message: string }[]): void {
    if (recordHeldBack(this.state, held)) this.stateFile.save();
  }

  /** Whether Envoy's last verdict on `name` refused this content (sha256 as published; a file with no version_info). */
  refusedLast(name: string, sha256: string): boolean {
    return refusedLast(this.state.files[name], contentVersion(sha256));
  }

  /** Why `name` is held back when this content (sha256 as published) was put back because Envoy kept its reader (reader-kept.ts). */
  keptLast(name: string, sha256: string): string | undefined { const kept = this.state.files[name]?.keptByReader; return kept?.sha256 === sha256 ? kept.message : undefined; }

  /** Which of `readers` Envoy runs no version of (reader-running.ts): the syncer then publishes a read-once file it would hold back. */
  readersNotRunning(readers: readonly ReaderQuery[]): Promise<boolean[]> { return readersNotRunning(this.admin, readers, REQUEST_TIMEOUT_MS); }

  /** Resolves once no verdict is pending (at once when none is), nor a pass that renamed first waiting for Envoy's answer. */
  async settled(): Promise<void> {
    do {
      await this.baselines.tracked();
      await this.poller.settled();
    } while (this.baselines.waiting);
  }

  async stop(): Promise<void> {
    await this.baselines.tracked();
    await this.poller.stop();
    await this.stateFile.flush();
    this.admin?.close();
  }

  private stampedState(): VerdictState {
    this.state.updatedAt = new Date().toISOString();
    this.state.pid = process.pid;
    this.state.admin = this.admin === undefined ? undefined : describeAdmin(this.admin.address);
    return this.state;
  }

  private setAdmin(): void {
    if (this.admin !== undefined) return;
    const bootstrap = this.subscriptions.bootstrapAdmin();
    const address = this.options.admin ?? bootstrap.admin;
    this.adminProblem = bootstrap.problem;
    if (address === undefined) return;
    // No bootstrap in the ConfigMap (it stays in the image): Envoy says which files its own reads.
    const askEnvoy = !this.subscriptions.hasBootstrap();
    if (askEnvoy) this.subscriptions.askEnvoy();
    const { logger, state, subscriptions, conclusions, processes } = this;
    const ctx = { logger, targetDir: this.options.targetDir, state, subscriptions, conclusions, processes, pending: (file: string) => this.poller.pending.has(file), save: () => { this.stateFile.save(); }, judgeAsFoundAtStart: (files: PublishedFile[]) => { for (const file of files) track(this.tracking, file, this.initialTimeoutMs, true, { by: 'subscription' }); } };
    this.admin = new EnvoyAdmin(address, (reading) => { observeReading(ctx, reading); this.baselines.observed(reading); }, askEnvoy);
  }

  /** What track.ts needs of the tracker. */
  private get tracking(): TrackContext {
    return { subscriptions: this.subscriptions, poller: this.poller, state: this.state };
  }
}
