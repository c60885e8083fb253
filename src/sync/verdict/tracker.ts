// Did Envoy take it? After each publish, poll Envoy's admin API until the subscription the file
// feeds reports the file's version (accepted), or its update counters move while the version does
// not (rejected), or a bounded time passes (unknown). A refused file is replaced on disk by the
// last version Envoy accepted, so a restarted Envoy loads exactly what the running one runs.
// A rejection carries Envoy's reason where its admin API has one (envoy/rejection-reason.ts), else
// the log line to grep for.
//
// This is the loop only (IO: admin API, the target's verdict store, the clock). The rules it
// applies are pure, each in its own file: judge.ts (the judgement), holds.ts (what is held back),
// subscription-map.ts (which file feeds which subscription), messages.ts (what a verdict says).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { describeAdmin } from '../envoy/subscriptions.js';
import { sha256, versionOf } from '../envoy/version-stamp.js';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import type { Holds } from './holds.js';
import { attribute } from './attribution.js';
import { Conclusions } from './conclude.js';
import type { Decided } from './conclude.js';
import { afterInFlight, defersRefusal } from './in-flight.js';
import { judge, pollDelayMs, startedLoading } from './judge.js';
import type { Judgement } from './judge.js';
import { undecidedReason } from './messages.js';
import type { VerdictOptions } from './options.js';
import { StateWriter, readState } from './state.js';
import type { VerdictState } from './state.js';
import { REQUEST_TIMEOUT_MS, ReasonReader } from './reason.js';
import { SubscriptionMap } from './subscription-map.js';
import { certificateSerials, judgeSecretFile, noteWaiting, scopesOf } from './pending.js';
import type { Pending, SecretFile } from './pending.js';
import type { VerdictListener } from './verdict.js';

export type { VerdictOptions } from './options.js';

const BASELINE_TIMEOUT_MS = 250;
export class VerdictTracker {
  private readonly logger: Logger;
  private readonly listeners: VerdictListener[] = [];
  private readonly timeoutMs: number;
  private readonly initialTimeoutMs: number;
  private readonly holds: Holds;
  private admin: EnvoyAdmin | undefined;
  private adminProblem: string | undefined;
  private readonly subscriptions: SubscriptionMap;
  private readonly pending = new Map<string, Pending>();
  /** Envoy's counters at the last poll or baseline read. */
  private lastCounters: EnvoyCounters | undefined;
  /** The baseline read for the pass being published (`beforeRenames`). */
  private nextBaseline: EnvoyCounters | undefined;
  /** Stats scope → file, from Envoy's answers (attribution.ts). */
  private attributed = new Map<string, string>();
  private readonly conclusions: Conclusions;
  private readonly state: VerdictState;
  private readonly stateFile: StateWriter;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: VerdictOptions) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.initialTimeoutMs = options.initialTimeoutMs ?? 300_000;
    this.subscriptions = new SubscriptionMap(options.bootstrapName);
    this.holds = options.holds;
    this.state = { pid: process.pid, sourceDir: options.sourceDir, targetDir: options.targetDir, updatedAt: new Date().toISOString(), files: {} };
    this.stateFile = new StateWriter(options.targetDir, () => this.stampedState(), (err) => {
      this.logger.warn({ err }, 'could not write the verdict state file');
    });
    this.conclusions = new Conclusions({
      options,
      logger: this.logger,
      holds: this.holds,
      state: this.state,
      stateFile: this.stateFile,
      reasons: new ReasonReader(options.logger),
      listeners: this.listeners,
      admin: () => this.admin,
      pathOf: (name) => this.subscriptions.pathOf(name),
    });
    // The ConfigMap no longer has the refused content: the state file forgets the refusal too.
    this.holds.onRelease((name) => {
      const entry = this.state.files[name];
      if (entry !== undefined) delete entry.refused;
      this.stateFile.save();
    });
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
    const previous = await readState(this.options.targetDir).catch(() => undefined);
    if (previous !== undefined) {
      this.state.files = previous.files;
      for (const [name, file] of Object.entries(previous.files)) {
        if (file.refused !== undefined) this.holds.hold(name, file.refused.sha256, file.refused.fromStore !== undefined);
      }
    }
    const onDisk: PublishedFile[] = [];
    for (const { name, content, ino, mtimeMs } of await configFilesIn(this.options.targetDir)) {
      const version = versionOf(name, content);
      const kind = this.subscriptions.learn(name, content, undefined, version);
      onDisk.push({ name, sha256: sha256(content), content, version, kind, ino, at: performance.now(), publishedAtMs: mtimeMs });
    }
    this.setAdmin();
    if (this.admin === undefined) {
      this.logger.warn({ problem: this.adminProblem }, `Envoy's verdict on published files will be unknown: ${this.adminProblem ?? 'no admin address'}; pass --admin HOST:PORT`);
    } else {
      this.logger.info({ admin: describeAdmin(this.admin.address), subscriptions: this.subscriptions.list() }, "reading Envoy's verdicts from its admin API");
    }
    for (const file of onDisk) if (this.subscriptions.isRead(file.name)) this.track(file, this.initialTimeoutMs, true);
    this.stateFile.save();
  }

  /**
   * Called by the syncer just before a pass's renames: reads Envoy's counters, the baseline each
   * published file is judged against (so that what Envoy counted before the rename, a rollback's
   * reload for one, is never credited to it). Never throws; bounded by BASELINE_TIMEOUT_MS.
   */
  async beforeRenames(): Promise<void> {
    this.nextBaseline = undefined;
    if (this.admin === undefined) return;
    try {
      this.nextBaseline = await this.admin.counters(BASELINE_TIMEOUT_MS);
      this.lastCounters = this.nextBaseline;
    } catch (err) {
      this.logger.debug({ err }, "could not read Envoy's counters before the renames: the last poll's are the baseline");
    }
  }

  /** Called after each pass's renames (the syncer's `onPublished`). */
  published(files: readonly PublishedFile[]): void {
    for (const file of files) {
      this.subscriptions.learn(file.name, file.content, file.kind, file.version);
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
    for (const file of files) {
      if (this.subscriptions.isRead(file.name)) this.track(file, this.timeoutMs);
      else if (this.subscriptions.secretReaders(file.name).sdsFiles.length > 0) this.track(file, this.timeoutMs, false, { sdsFiles: this.subscriptions.secretReaders(file.name).sdsFiles });
    }
    // Every file of the pass was on its way with every other (Envoy applies them in an order of its own).
    for (const file of files) {
      const pending = this.pending.get(file.name);
      if (pending !== undefined) pending.inFlight = this.othersInFlight(file.name);
    }
    this.nextBaseline = undefined;
    this.stateFile.save();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
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
    if (address !== undefined) this.admin = new EnvoyAdmin(address);
  }

  /** `retry`: the same content renamed again after a refusal while other files were on their way (in-flight.ts). */
  private track(file: PublishedFile, timeoutMs: number, initial = false, secret?: SecretFile, retry?: { baseline: EnvoyCounters | undefined }): void {
    const superseded = this.pending.get(file.name);
    if (superseded !== undefined) this.logger.debug({ file: file.name, version: superseded.version }, 'verdict superseded by a newer publish');
    const entry = (this.state.files[file.name] ??= {});
    this.pending.set(file.name, {
      file: file.name,
      content: file.content,
      version: file.version,
      previousVersion: entry.accepted?.version,
      sha256: file.sha256,
      ino: file.ino,
      at: file.at,
      publishedAtMs: file.publishedAtMs ?? performance.timeOrigin + file.at,
      // Files found at start were loaded by Envoy before anything was read: counted from zero.
      baseline: retry !== undefined ? retry.baseline : initial ? undefined : (this.nextBaseline ?? this.lastCounters),
      names: this.subscriptions.names(file.name),
      deadline: file.at + timeoutMs,
      initial,
      waited: new Map(),
      gone: new Set(),
      inFlight: this.othersInFlight(file.name),
      inFlightAccepted: false,
      retried: retry !== undefined,
      ...(secret === undefined ? {} : { secret }),
    });
    this.loop ??= this.poll().finally(() => {
      this.loop = undefined;
    });
  }

  /** The other files whose verdict is pending and whose refusal is not set aside: Envoy may not have applied them yet. */
  private othersInFlight(file: string): Set<string> {
    return new Set([...this.pending.values()].filter((p) => p.file !== file && p.deferred === undefined).map((p) => p.file));
  }

  private async poll(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      let counters: EnvoyCounters | undefined;
      let problem: string | undefined = this.admin === undefined ? (this.adminProblem ?? 'no admin address') : undefined;
      if (this.admin !== undefined) {
        try {
          counters = await this.admin.counters(REQUEST_TIMEOUT_MS);
        } catch (err) {
          problem = `Envoy admin ${describeAdmin(this.admin.address)} unreachable: ${(err as Error).message}`;
        }
      }
      if (counters !== undefined) this.attributed = attribute(counters.subscriptions, this.subscriptions.facts(), this.attributed);
      const now = performance.now();
      for (const pending of [...this.pending.values()]) {
        if (this.pending.get(pending.file) !== pending) continue; // replaced during this round
        if (pending.deferred !== undefined) {
          await this.settleDeferred(pending, counters);
          continue;
        }
        if (pending.secret === undefined && !this.subscriptions.isRead(pending.file)) {
          this.pending.delete(pending.file);
          continue;
        }
        const { judgement, own } = await this.judgeOne(pending, counters, now);
        if (counters !== undefined && defersRefusal(pending, judgement)) {
          pending.deferred = { judgement, counters, own, now };
          await this.settleDeferred(pending, counters);
          continue;
        }
        const outcome = judgement?.outcome ?? (now >= pending.deadline || this.admin === undefined ? 'unknown' : undefined);
        if (outcome === undefined) continue;
        const reason = outcome === 'unknown' ? (problem ?? undecidedReason(pending.version, own)) : undefined;
        await this.finish(pending, { outcome, judgement, counters, own, now, ...(reason === undefined ? {} : { reason }) });
      }
      if (counters !== undefined) this.lastCounters = counters;
      if (this.pending.size === 0) break;
      const oldest = Math.min(...[...this.pending.values()].map((p) => p.at));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollDelayMs(performance.now() - oldest));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** One file's judgement from Envoy's answer (`counters` undefined: no answer this round). */
  private async judgeOne(pending: Pending, counters: EnvoyCounters | undefined, now: number): Promise<{ judgement: Judgement | undefined; own: string[] }> {
    const scopes = scopesOf(this.attributed, pending.file, pending.names);
    if (counters === undefined) return { judgement: undefined, own: scopes.own };
    if (pending.secret !== undefined) {
      const sds = [...this.attributed].filter(([, owner]) => pending.secret?.sdsFiles.includes(owner) === true).map(([prefix]) => prefix);
      scopes.own.push(...sds);
      const serials = (pending.secret.serials ??= await certificateSerials(this.options.targetDir, this.subscriptions.secretReaders(pending.file).certificates));
      const admin = this.admin;
      const serving = async (): Promise<boolean> => {
        const used = await admin?.certificateSerials(REQUEST_TIMEOUT_MS).catch(() => new Set<string>());
        return used !== undefined && serials.every((serial) => used.has(serial));
      };
      return { judgement: await judgeSecretFile({ ...pending, secret: pending.secret }, serials, sds, counters, now, serving), own: scopes.own };
    }
    const judgement = judge({ version: pending.version, previousVersion: pending.previousVersion, baseline: pending.baseline, now: counters, subscriptions: scopes.own, named: scopes.named, gone: pending.gone });
    for (const prefix of noteWaiting(pending, judgement, scopes.own, counters)) {
      this.logger.debug({ file: pending.file, statPrefix: prefix }, "a subscription that read the previous version did not reload: gone from Envoy's config");
    }
    if (judgement.outcome === undefined && pending.initial && startedLoading(scopes.own, counters)) {
      // Envoy has started loading the file (update_attempt): from now on it has the usual time.
      // Until then it may still be starting, or warming clusters (DNS) before it starts LDS.
      pending.initial = false;
      pending.deadline = now + this.timeoutMs;
    }
    return { judgement, own: scopes.own };
  }

  /**
   * A refusal set aside while other files were on their way (in-flight.ts): wait for their
   * verdicts; then rename the same content again if one of them was accepted (its verdict is the
   * second answer), else the refusal is the verdict.
   */
  private async settleDeferred(pending: Pending, counters: EnvoyCounters | undefined): Promise<void> {
    const deferred = pending.deferred;
    if (deferred === undefined) return;
    const next = afterInFlight(pending, (file) => {
      const other = this.pending.get(file);
      return other !== undefined && other !== pending && other.deferred === undefined;
    });
    if (next === 'wait') return;
    if (next === 'conclude') {
      await this.finish(pending, { outcome: 'rejected', judgement: deferred.judgement, counters: deferred.counters, own: deferred.own, now: deferred.now });
      return;
    }
    this.pending.delete(pending.file);
    const accepted = [...pending.inFlight].join(', ');
    this.logger.info(
      { file: pending.file, xdsVersion: pending.version, with: [...pending.inFlight] },
      `Envoy refused ${pending.file} while ${accepted} of the same change were still on their way (Envoy applies the files of one change in an order of its own); publishing it again for Envoy to judge now that they are applied`,
    );
    const ino = await this.options.restore(pending.file, pending.content, pending.ino).catch((err: unknown) => {
      this.logger.error({ err, file: pending.file }, `could not publish ${pending.file} again`);
      return undefined;
    });
    if (ino === undefined) {
      // A newer publish replaced it (and is judged), or the rename failed: the refusal stands.
      if (!this.pending.has(pending.file)) await this.conclusions.conclude(pending, { outcome: 'rejected', judgement: deferred.judgement, counters: deferred.counters, own: deferred.own, now: deferred.now });
      return;
    }
    const secret = pending.secret === undefined ? undefined : { sdsFiles: pending.secret.sdsFiles };
    const file: PublishedFile = { name: pending.file, sha256: pending.sha256, content: pending.content, version: pending.version, kind: secret === undefined ? 'xds' : 'data', ino, at: performance.now() };
    this.track(file, this.timeoutMs, false, secret, { baseline: counters ?? deferred.counters });
  }

  /** Carries out a verdict (conclude.ts); an acceptance tells the refusals set aside with it. */
  private async finish(pending: Pending, decided: Decided): Promise<void> {
    this.pending.delete(pending.file);
    await this.conclusions.conclude(pending, decided);
    if (decided.outcome !== 'accepted') return;
    for (const other of this.pending.values()) if (other.inFlight.has(pending.file)) other.inFlightAccepted = true;
  }
}
