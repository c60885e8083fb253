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
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { EnvoyAdmin } from '../envoy/admin.js';
import type { RejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { describeAdmin } from '../envoy/subscriptions.js';
import type { AdminAddress } from '../envoy/subscriptions.js';
import { sha256, versionOf } from '../envoy/version-stamp.js';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import type { Holds } from './holds.js';
import { attribute } from './attribution.js';
import { ignoredFieldsSince, judge, pollDelayMs, startedLoading } from './judge.js';
import type { Judgement } from './judge.js';
import { acceptedMessage, firstRefusedMessage, rejectedMessage, retryFromStoreMessage, undecidedReason, unknownMessage } from './messages.js';
import { StateWriter, acceptedCopy, keepCopy, readState, refusedPath } from './state.js';
import type { VerdictState } from './state.js';
import { REQUEST_TIMEOUT_MS, ReasonReader } from './reason.js';
import { SubscriptionMap } from './subscription-map.js';
import { certificateSerials, judgeSecretFile, noteWaiting, scopesOf } from './pending.js';
import type { Pending, SecretFile } from './pending.js';
import { reasonFieldsOf, tell, verdictForms } from './verdict.js';
import type { Outcome, VerdictListener } from './verdict.js';

export interface VerdictOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  /** What the syncer holds back; the tracker adds refusals and keeps the state file in step. */
  holds: Holds;
  /** `--admin`: overrides the bootstrap's admin address. */
  admin?: AdminAddress;
  /** How the operator runs the CLI, for the `validate` a message suggests (messages.ts: acceptedMessage). */
  cli?: string;
  /** Base name of Envoy's bootstrap in the target (`--bootstrap`), if it is published there. */
  bootstrapName?: string;
  /** ms from publish after which an undecided verdict is `unknown` (default 10 s). */
  timeoutMs?: number;
  /**
   * For the files found at start: Envoy usually starts after the watcher (its image may still be
   * pulling) and starts LDS only once its clusters are warm, so their bound is `timeoutMs` after
   * Envoy counts its first `update_attempt` for the file's subscriptions, and at most this long
   * before that (default 5 min).
   */
  initialTimeoutMs?: number;
  /** Puts `content` back as `name` (temp file + fsync + rename) unless `name` is no longer inode `ino` (the syncer's `restore`). */
  restore: (name: string, content: Buffer, ino: number) => Promise<boolean>;
  /** Asks for a sync pass soon: a hold was released (see `fromStore` in state.ts). */
  resync?: () => void;
}

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
  /** `server.dynamic_unknown_fields` already reported in a verdict. */
  private reportedUnknownFields = 0;
  private readonly reasons: ReasonReader;
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
    this.reasons = new ReasonReader(options.logger);
    this.holds = options.holds;
    this.state = { pid: process.pid, sourceDir: options.sourceDir, targetDir: options.targetDir, updatedAt: new Date().toISOString(), files: {} };
    this.stateFile = new StateWriter(options.targetDir, () => this.stampedState(), (err) => {
      this.logger.warn({ err }, 'could not write the verdict state file');
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

  private track(file: PublishedFile, timeoutMs: number, initial = false, secret?: SecretFile): void {
    const superseded = this.pending.get(file.name);
    if (superseded !== undefined) this.logger.debug({ file: file.name, version: superseded.version }, 'verdict superseded by a newer publish');
    const entry = (this.state.files[file.name] ??= {});
    this.pending.set(file.name, {
      file: file.name,
      version: file.version,
      previousVersion: entry.accepted?.version,
      sha256: file.sha256,
      ino: file.ino,
      at: file.at,
      publishedAtMs: file.publishedAtMs ?? performance.timeOrigin + file.at,
      // Files found at start were loaded by Envoy before anything was read: counted from zero.
      baseline: initial ? undefined : (this.nextBaseline ?? this.lastCounters),
      names: this.subscriptions.names(file.name),
      deadline: file.at + timeoutMs,
      initial,
      waited: new Map(),
      gone: new Set(),
      ...(secret === undefined ? {} : { secret }),
    });
    this.loop ??= this.poll().finally(() => {
      this.loop = undefined;
    });
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
        if (pending.secret === undefined && !this.subscriptions.isRead(pending.file)) {
          this.pending.delete(pending.file);
          continue;
        }
        const scopes = scopesOf(this.attributed, pending.file, pending.names);
        let judgement: Judgement | undefined;
        if (pending.secret !== undefined) {
          const sds = [...this.attributed].filter(([, owner]) => pending.secret?.sdsFiles.includes(owner) === true).map(([prefix]) => prefix);
          scopes.own.push(...sds);
          const serials = (pending.secret.serials ??= await certificateSerials(this.options.targetDir, this.subscriptions.secretReaders(pending.file).certificates));
          const admin = this.admin;
          const serving = async (): Promise<boolean> => {
            const used = await admin?.certificateSerials(REQUEST_TIMEOUT_MS).catch(() => new Set<string>());
            return used !== undefined && serials.every((serial) => used.has(serial));
          };
          if (counters !== undefined) judgement = await judgeSecretFile({ ...pending, secret: pending.secret }, serials, sds, counters, now, serving);
        } else if (counters !== undefined) {
          judgement = judge({ version: pending.version, previousVersion: pending.previousVersion, baseline: pending.baseline, now: counters, subscriptions: scopes.own, named: scopes.named, gone: pending.gone });
          for (const prefix of noteWaiting(pending, judgement, scopes.own, counters)) {
            this.logger.debug({ file: pending.file, statPrefix: prefix }, "a subscription that read the previous version did not reload: gone from Envoy's config");
          }
          if (judgement.outcome === undefined && pending.initial && startedLoading(scopes.own, counters)) {
            // Envoy has started loading the file (update_attempt): from now on it has the usual time.
            // Until then it may still be starting, or warming clusters (DNS) before it starts LDS.
            pending.initial = false;
            pending.deadline = now + this.timeoutMs;
          }
        }
        const outcome = judgement?.outcome ?? (now >= pending.deadline || this.admin === undefined ? 'unknown' : undefined);
        if (outcome === undefined) continue;
        this.pending.delete(pending.file);
        const reason = outcome === 'unknown' ? (problem ?? undecidedReason(pending.version, scopes.own)) : undefined;
        await this.conclude(pending, outcome, judgement, counters, scopes.own, now, reason);
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

  private async conclude(
    pending: Pending,
    outcome: Outcome,
    judgement: Judgement | undefined,
    envoy: EnvoyCounters | undefined,
    own: readonly string[],
    now: number,
    reason?: string,
  ): Promise<void> {
    const { file, version } = pending;
    const { targetDir } = this.options;
    const entry = (this.state.files[file] ??= {});
    const previousVersion = entry.accepted?.version;
    const at = new Date().toISOString();
    const latencyMs = Number((now - pending.at).toFixed(2));
    const live = own.filter((prefix) => !pending.gone.has(prefix));
    const counters = Object.fromEntries(live.map((prefix) => [prefix, envoy?.subscriptions.get(prefix)]));
    const reported = live.map((prefix) => envoy?.subscriptions.get(prefix)?.versionText).filter((v): v is string => v !== undefined);
    const running = reported.find((v) => v === version) ?? reported[0];
    if (running !== undefined) entry.envoy = { version: running, at };
    // The subscriptions as Envoy names them, for `status` (those Envoy no longer uses left out).
    entry.subscriptions = live.flatMap((statPrefix) => {
      const type = subscriptionType(statPrefix);
      return type === undefined ? [] : [{ type, statPrefix }];
    });
    let rolledBack = false;
    let message: string;
    let why: RejectionReason | undefined;
    let ignoredFields = 0;
    const logFields = { event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion };

    if (outcome === 'accepted') {
      // Not kept when a newer publish already replaced the file: then the previous accepted copy
      // (and its version) stays what a rejection would go back to.
      const kept = await keepCopy(targetDir, 'accepted', file, pending.ino).catch((err: unknown) => {
        this.logger.warn({ err, file }, 'could not keep a copy of the accepted version');
        return false;
      });
      if (kept) entry.accepted = { ...(version === undefined ? {} : { version }), at };
      // Still held (the ConfigMap still has the refused content): keep the record across restarts.
      if (!this.holds.has(file)) delete entry.refused;
      this.reasons.accepted(live);
      // Fields Envoy ignored in this update (counted once per distinct field, so only once).
      const ignored = envoy === undefined ? 0 : ignoredFieldsSince(pending.baseline, { ...envoy, unknownFields: Math.max(envoy.unknownFields, 0) });
      ignoredFields = envoy === undefined ? 0 : Math.min(ignored, Math.max(0, envoy.unknownFields - this.reportedUnknownFields));
      if (envoy !== undefined) this.reportedUnknownFields = Math.max(this.reportedUnknownFields, envoy.unknownFields);
      message = acceptedMessage(file, version, latencyMs, ignoredFields, this.options.cli, join(this.options.targetDir, file));
      this.logger[ignoredFields > 0 ? 'warn' : 'info']({ ...logFields, latencyMs, rolledBack, ...(ignoredFields > 0 ? { ignoredFields } : {}) }, message);
      // This Envoy runs the accepted version `copy` started it from: now let it judge, once, the
      // ConfigMap's content another Pod's Envoy refused (its image or bootstrap may differ). A
      // refusal rolls back to what runs; an acceptance ends the detour.
      if (this.holds.acceptedHere(file)) {
        this.logger.info(
          { file, xdsVersion: entry.refused?.version ?? '(no version_info)', refusedIn: entry.refused?.fromStore },
          retryFromStoreMessage(file, version, entry.refused?.version, entry.refused?.fromStore),
        );
        delete entry.refused;
        this.options.resync?.();
      }
    } else if (outcome === 'rejected') {
      why = judgement?.outcome === 'rejected' ? await this.reasons.refused(this.admin, pending, judgement, (name) => this.subscriptions.pathOf(name)) : undefined;
      const kept = await keepCopy(targetDir, 'refused', file, pending.ino).catch(() => false);
      const accepted = await acceptedCopy(targetDir, file);
      const refusedAt = kept ? refusedPath(targetDir, file) : undefined;
      entry.refused = { ...(version === undefined ? {} : { version }), sha256: pending.sha256, at };
      if (accepted !== undefined) {
        rolledBack = await this.options.restore(file, accepted, pending.ino).catch((err: unknown) => {
          this.logger.error({ err, file }, `could not put the last accepted version of ${file} back`);
          return false;
        });
        this.holds.hold(file, pending.sha256, false, pending.names);
        message = rejectedMessage({ file, version, previousVersion, rolledBack, refusedAt, why });
        this.logger.error({ ...logFields, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFieldsOf(why) }, message);
      } else {
        message = firstRefusedMessage(file, version, why);
        this.logger.fatal({ ...logFields, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFieldsOf(why) }, message);
      }
    } else {
      message = unknownMessage(file, version, reason);
      this.logger.warn({ ...logFields, rolledBack }, message);
    }
    const forms = verdictForms(
      { file, version, sha256: pending.sha256, previousVersion, at },
      { outcome, rolledBack, latencyMs, message, ...reasonFieldsOf(why), ...(ignoredFields > 0 ? { ignoredFields } : {}) },
    );
    entry.verdict = forms.kept;
    tell(this.listeners, forms.verdict, (err) => { this.logger.error({ err }, 'verdict listener failed'); });
    this.stateFile.save();
  }
}
