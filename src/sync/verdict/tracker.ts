// Did Envoy take it? After each publish, poll Envoy's admin API until the subscription the file
// feeds reports the file's version (accepted), or its update counters move while the version does
// not (rejected), or a bounded time passes (unknown). A refused file is replaced on disk by the
// last version Envoy accepted, so a restarted Envoy loads exactly what the running one runs.
// A rejection carries Envoy's reason where its admin API has one (envoy-reason.ts), else the log
// line to grep for.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { bootstrapInfo, describeAdmin, findSubscriptions, parseConfig } from '../envoy/subscriptions.js';
import type { AdminAddress, Subscription, XdsType } from '../envoy/subscriptions.js';
import { EnvoyAdmin } from '../envoy/admin.js';
import type { SubscriptionStats } from '../envoy/admin.js';
import { rejectionReason } from '../envoy/rejection-reason.js';
import type { ListenerError, RejectionReason } from '../envoy/rejection-reason.js';
import { isReservedName } from '../volume/snapshot.js';
import { sha256 } from '../publish/target.js';
import { versionOf } from '../envoy/version-stamp.js';
import { acceptedCopy, keepCopy, readState, refusedPath, writeState } from './state.js';
import type { Outcome, VerdictState } from './state.js';

/** One verdict, as logged and as handed to `onVerdict` listeners. */
export interface Verdict {
  /** ConfigMap key (file name in the target directory). */
  file: string;
  /** The version judged, as Envoy reports it (`version_info`); undefined if the file carries none. */
  version: string | undefined;
  /** sha256 (hex) of the content judged, as published (stamped). */
  sha256: string;
  /** The last version Envoy accepted before this one, if any. */
  previousVersion?: string;
  outcome: Outcome;
  /** The last accepted version was put back on disk (rejected only). */
  rolledBack: boolean;
  /** accepted/rejected: ms from the rename to the admin answer that decided it. */
  latencyMs?: number;
  message: string;
  /** rejected: Envoy's reason from its admin API (bounded), when it reports one (LDS only). */
  reason?: string;
  /** rejected: `reason` may be an earlier refusal's (Envoy gave no time to tell). */
  reasonPossiblyEarlier?: boolean;
  /** rejected: the start of Envoy's log line that has the full error (grep Envoy's log for it). */
  envoyLog?: string;
}

export type VerdictListener = (verdict: Verdict) => void;

/** A file the syncer just renamed into the target. */
export interface PublishedFile {
  name: string;
  /** sha256 (hex) of the published (stamped) content: what a refusal holds back. */
  sha256: string;
  /** The published (stamped) content. */
  content: Buffer;
  /** The version Envoy will report for it; undefined if it carries none. */
  version: string | undefined;
  kind: 'xds' | 'bootstrap' | 'data';
  /** Inode of the published file (to tell it from a newer publish). */
  ino: number;
  /** performance.now() right after the rename. */
  at: number;
  /** Wall-clock ms of the publish when `at` is later than it (a file found on disk at start: its mtime). */
  publishedAtMs?: number;
}

export interface VerdictOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  /** `--admin`: overrides the bootstrap's admin address. */
  admin?: AdminAddress;
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
  /** Puts `content` back as `name` (temp file + fsync + rename) unless `name` is no longer inode `ino`. */
  restore: (name: string, content: Buffer, ino: number) => Promise<boolean>;
  /** Asks for a sync pass soon: a hold was released (see `fromStore` in verdict-state.ts). */
  resync?: () => void;
}

interface Pending {
  file: string;
  version: string | undefined;
  sha256: string;
  ino: number;
  at: number;
  /** Wall-clock ms of the publish (to tell Envoy's error states of this publish from older ones). */
  publishedAtMs: number;
  deadline: number;
  /** Found at start: the deadline moves to `timeoutMs` after Envoy's first answer. */
  initial: boolean;
  /** Stats seen before the publish, per stat prefix (undefined: never seen, counters from 0). */
  baseline: Map<string, SubscriptionStats | undefined>;
}

const REQUEST_TIMEOUT_MS = 1000;
const STATE_WRITE_DELAY_MS = 50;
// Envoy applies a file within milliseconds of the rename: poll often at first, then back off (an
// unreachable admin API or a slow update should not cost a request every few ms for 10 s).
// Files found at start may wait minutes for Envoy to start: then twice a second.
const pollDelayMs = (sinceOldestPublishMs: number): number =>
  sinceOldestPublishMs < 200 ? 3 : sinceOldestPublishMs < 1000 ? 20 : sinceOldestPublishMs < 10_000 ? 100 : 500;

// An LDS file holds Listeners, a CDS file Clusters (an HttpConnectionManager's @type is envoy.extensions...).
const GUESS = /type\.googleapis\.com\/envoy\.config\.(listener\.v3\.Listener|cluster\.v3\.Cluster)\b/;

const emptyStats = (): SubscriptionStats => ({ versionText: '', success: 0, rejected: 0, failure: 0, attempt: 0 });

/** The counters to compare `now` with: `base`, or zeros when Envoy restarted since (counters went down). */
const baseFor = (base: SubscriptionStats | undefined, now: SubscriptionStats): SubscriptionStats => {
  const b = base ?? emptyStats();
  return now.success + now.rejected + now.failure < b.success + b.rejected + b.failure ? emptyStats() : b;
};

/** The Verdict's (and log line's) reason fields, only those set. */
function reasonFieldsOf(why: RejectionReason | undefined): Pick<Verdict, 'reason' | 'reasonPossiblyEarlier' | 'envoyLog'> {
  if (why === undefined) return {};
  return {
    ...(why.reason === undefined ? {} : { reason: why.reason }),
    ...(why.possiblyEarlier === true ? { reasonPossiblyEarlier: true } : {}),
    envoyLog: why.envoyLog,
  };
}

/** How a verdict's reason reads in its message. */
function describeReason(why: RejectionReason | undefined): string {
  if (why === undefined) return '';
  if (why.reason !== undefined) return `. Envoy says${why.possiblyEarlier === true ? ' (about this or an earlier refused version)' : ''}: ${why.reason}`;
  return `. Envoy's admin API does not say why; Envoy's log does: grep "${why.envoyLog}"`;
}

export class VerdictTracker {
  private readonly logger: Logger;
  private readonly listeners: VerdictListener[] = [];
  private readonly timeoutMs: number;
  private readonly initialTimeoutMs: number;
  private admin: EnvoyAdmin | undefined;
  private adminProblem: string | undefined;
  /** Subscriptions declared by each file (the bootstrap, LDS files for RDS, CDS files for EDS). */
  private readonly declared = new Map<string, Subscription[]>();
  private bootstrapFile: string | undefined;
  private bootstrapAdmin: { admin: AdminAddress | undefined; adminProblem?: string } | undefined;
  /** Without a bootstrap: LDS/CDS guessed from a file's resource @type. */
  private readonly guessed = new Map<string, Subscription>();
  private readonly pending = new Map<string, Pending>();
  private readonly lastSeen = new Map<string, SubscriptionStats>();
  /** LDS stat prefix → the listener errors Envoy reported at its last refusal (emptied by an acceptance). */
  private readonly lastListenerErrors = new Map<string, ListenerError[]>();
  /** file → sha256 of ConfigMap content Envoy refused: not republished until the ConfigMap changes. */
  private readonly held = new Map<string, string>();
  /** Held files whose refusal came from another Pod's Envoy (`copy` from the last-accepted store). */
  private readonly heldFromStore = new Set<string>();
  private state: VerdictState;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private stateWrite: Promise<void> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: VerdictOptions) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.initialTimeoutMs = options.initialTimeoutMs ?? 300_000;
    this.state = { pid: process.pid, sourceDir: options.sourceDir, targetDir: options.targetDir, updatedAt: new Date().toISOString(), files: {} };
  }

  onVerdict(listener: VerdictListener): void {
    this.listeners.push(listener);
  }

  /**
   * Whether the syncer must not publish this content (sha256 of the stamped file) as `name`: Envoy
   * refused it. Asked for every file of every pass; other content releases the hold.
   */
  isHeld(name: string, contentSha256: string): boolean {
    const held = this.held.get(name);
    if (held === undefined) return false;
    if (held === contentSha256) return true;
    // The ConfigMap no longer has the refused content (fixed, or reverted): stop holding it, so
    // that content may be tried again later (e.g. once what it depended on exists).
    this.held.delete(name);
    this.heldFromStore.delete(name);
    const entry = this.state.files[name];
    if (entry !== undefined) delete entry.refused;
    this.saveState();
    return false;
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
        if (file.refused === undefined) continue;
        this.held.set(name, file.refused.sha256);
        if (file.refused.fromStore !== undefined) this.heldFromStore.add(name);
      }
    }
    const names = (await readdir(this.options.targetDir)).filter((name) => !isReservedName(name)).sort();
    const onDisk: PublishedFile[] = [];
    for (const name of names) {
      const path = join(this.options.targetDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() !== true || !/\.(ya?ml|json)$/i.test(name)) continue;
      const content = await readFile(path);
      const kind = this.learn(name, content);
      onDisk.push({ name, sha256: sha256(content), content, version: versionOf(name, content), kind, ino: info.ino, at: performance.now(), publishedAtMs: info.mtimeMs });
    }
    this.setAdmin();
    if (this.admin === undefined) {
      this.logger.warn({ problem: this.adminProblem }, `Envoy's verdict on published files will be unknown: ${this.adminProblem ?? 'no admin address'}; pass --admin HOST:PORT`);
    } else {
      this.logger.info({ admin: describeAdmin(this.admin.address), subscriptions: this.subscriptionList() }, "reading Envoy's verdicts from its admin API");
    }
    for (const file of onDisk) if (this.subscriptionsOf(file.name).length > 0) this.track(file, this.initialTimeoutMs, true);
    this.saveState();
  }

  /** Called by the syncer after each pass's renames. */
  published(files: readonly PublishedFile[]): void {
    for (const file of files) {
      this.learn(file.name, file.content, file.kind);
      const entry = (this.state.files[file.name] ??= {});
      entry.published = { ...(file.version === undefined ? {} : { version: file.version }), sha256: file.sha256, at: new Date().toISOString() };
      if (this.held.get(file.name) !== file.sha256) {
        this.held.delete(file.name);
        this.heldFromStore.delete(file.name);
      }
    }
    this.setAdmin(); // a bootstrap may have arrived only now (empty ConfigMap at start)
    for (const file of files) if (this.subscriptionsOf(file.name).length > 0) this.track(file, this.timeoutMs);
    this.saveState();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.writeStateNow();
    }
    await this.stateWrite;
    this.admin?.close();
  }

  /** Records what `name` declares (bootstrap: admin and subscriptions; LDS/CDS: nested ones). */
  private learn(name: string, content: Buffer, kind?: PublishedFile['kind']): PublishedFile['kind'] {
    const text = content.toString('utf8');
    const isBootstrap = kind === 'bootstrap' || name === this.options.bootstrapName || (kind === undefined && /^(["']?)(dynamic_resources|static_resources)\1\s*:/m.test(text));
    if (isBootstrap) {
      // Envoy never reloads its bootstrap: the running Envoy keeps the admin address and LDS/CDS
      // files it started with, so verdicts follow the first bootstrap seen (the syncer already warns
      // that a changed one needs a restart, which restarts the watcher too).
      if (this.bootstrapFile === undefined) {
        this.bootstrapFile = name;
        this.declared.set(name, findSubscriptions(parseConfig(text)));
        this.bootstrapAdmin = bootstrapInfo(parseConfig(text));
      }
      return 'bootstrap';
    }
    const type = GUESS.exec(text)?.[1];
    if (type === undefined) this.guessed.delete(name);
    else this.guessed.set(name, type.startsWith('listener') ? { type: 'LDS', file: name, path: name, statPrefix: 'listener_manager.lds' } : { type: 'CDS', file: name, path: name, statPrefix: 'cluster_manager.cds' });
    // Only an xDS file that points at other files declares anything; skip the parse otherwise.
    if (text.includes('path_config_source')) this.declared.set(name, findSubscriptions(parseConfig(text)));
    else this.declared.delete(name);
    return kind ?? (/^(["']?)resources\1\s*:/m.test(text) || text.includes('"resources"') ? 'xds' : 'data');
  }

  private setAdmin(): void {
    if (this.admin !== undefined) return;
    const address = this.options.admin ?? this.bootstrapAdmin?.admin;
    this.adminProblem = this.bootstrapAdmin === undefined
      ? 'no bootstrap in the ConfigMap (--bootstrap NAME) to read admin.address from'
      : this.bootstrapAdmin.adminProblem;
    if (address !== undefined) this.admin = new EnvoyAdmin(address);
  }

  private subscriptionList(): { file: string; type: XdsType; statPrefix: string }[] {
    return [...this.declared.values()].flat().map(({ file, type, statPrefix }) => ({ file, type, statPrefix }));
  }

  /** The subscriptions fed by `name`, from the bootstrap and the published LDS/CDS files. */
  private subscriptionsOf(name: string): Subscription[] {
    const out: Subscription[] = [];
    const guess = this.guessed.get(name);
    if (this.bootstrapFile === undefined && guess !== undefined) out.push(guess);
    for (const list of this.declared.values()) for (const s of list) if (s.file === name && !out.some((o) => o.statPrefix === s.statPrefix)) out.push(s);
    return out;
  }

  private track(file: PublishedFile, timeoutMs: number, initial = false): void {
    const subscriptions = this.subscriptionsOf(file.name);
    const baseline = new Map<string, SubscriptionStats | undefined>();
    for (const s of subscriptions) baseline.set(s.statPrefix, this.lastSeen.get(s.statPrefix));
    const superseded = this.pending.get(file.name);
    if (superseded !== undefined) this.logger.debug({ file: file.name, version: superseded.version }, 'verdict superseded by a newer publish');
    this.pending.set(file.name, {
      file: file.name,
      version: file.version,
      sha256: file.sha256,
      ino: file.ino,
      at: file.at,
      publishedAtMs: file.publishedAtMs ?? performance.timeOrigin + file.at,
      deadline: file.at + timeoutMs,
      initial,
      baseline,
    });
    const entry = (this.state.files[file.name] ??= {});
    entry.subscriptions = subscriptions.map(({ type, statPrefix }) => ({ type, statPrefix }));
    this.loop ??= this.poll().finally(() => {
      this.loop = undefined;
    });
  }

  private async poll(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const prefixes = [...new Set([...this.pending.keys()].flatMap((file) => this.subscriptionsOf(file).map((s) => s.statPrefix)))];
      let stats: Map<string, SubscriptionStats> | undefined;
      let problem: string | undefined = this.admin === undefined ? (this.adminProblem ?? 'no admin address') : undefined;
      if (this.admin !== undefined && prefixes.length > 0) {
        try {
          stats = await this.admin.subscriptionStats(prefixes, REQUEST_TIMEOUT_MS);
        } catch (err) {
          problem = `Envoy admin ${describeAdmin(this.admin.address)} unreachable: ${(err as Error).message}`;
        }
      }
      const now = performance.now();
      for (const pending of [...this.pending.values()]) {
        const subscriptions = this.subscriptionsOf(pending.file);
        if (subscriptions.length === 0) {
          this.pending.delete(pending.file);
          continue;
        }
        const decided = stats === undefined ? undefined : this.judge(pending, subscriptions, stats);
        if (decided === undefined && pending.initial && stats !== undefined && subscriptions.every((sub) => (stats.get(sub.statPrefix)?.attempt ?? 0) > 0)) {
          // Envoy has started loading the file (update_attempt): from now on it has the usual time.
          // Until then it may still be starting, or warming clusters (DNS) before it starts LDS.
          pending.initial = false;
          pending.deadline = now + this.timeoutMs;
        }
        if (decided !== undefined) {
          this.pending.delete(pending.file);
          await this.conclude(pending, decided, stats ?? new Map<string, SubscriptionStats>(), now);
        } else if (now >= pending.deadline || this.admin === undefined) {
          this.pending.delete(pending.file);
          const reason = problem ?? `Envoy reported neither version ${pending.version ?? '(none)'} nor a failed update for ${subscriptions.map((s) => s.statPrefix).join(', ')}`;
          await this.conclude(pending, 'unknown', stats ?? new Map<string, SubscriptionStats>(), now, reason);
        }
      }
      if (stats !== undefined) for (const [prefix, value] of stats) this.lastSeen.set(prefix, value);
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

  /**
   * accepted: every subscription fed by the file reports its version (and, if Envoy already ran
   * that version before, counted a successful update since). rejected: some subscription counted
   * a failed or rejected update since the publish and does not report the version.
   */
  private judge(pending: Pending, subscriptions: Subscription[], stats: Map<string, SubscriptionStats>): 'accepted' | 'rejected' | undefined {
    let all = true;
    for (const s of subscriptions) {
      const now = stats.get(s.statPrefix);
      if (now === undefined) {
        all = false;
        continue;
      }
      const base = baseFor(pending.baseline.get(s.statPrefix), now);
      const successMoved = now.success > base.success;
      const failMoved = now.rejected + now.failure > base.rejected + base.failure;
      const ambiguous = pending.version === undefined || base.versionText === pending.version;
      const accepted = pending.version === undefined ? successMoved && !failMoved : now.versionText === pending.version && (!ambiguous || successMoved);
      if (!accepted && failMoved) return 'rejected';
      if (!accepted) all = false;
    }
    return all ? 'accepted' : undefined;
  }

  /**
   * Why Envoy refused `pending`: from the first subscription whose update_rejected or
   * update_failure moved; for LDS, the listener errors are read from the admin API now, before
   * the rollback (Envoy's next LDS update replaces them).
   */
  private async why(pending: Pending, stats: Map<string, SubscriptionStats>): Promise<RejectionReason | undefined> {
    for (const s of this.subscriptionsOf(pending.file)) {
      const now = stats.get(s.statPrefix);
      if (now === undefined) continue;
      const base = baseFor(pending.baseline.get(s.statPrefix), now);
      const kind = now.rejected > base.rejected ? 'rejected' : now.failure > base.failure ? 'failure' : undefined;
      if (kind === undefined) continue;
      let errors: ListenerError[] | undefined;
      if (s.type === 'LDS' && kind === 'rejected' && this.admin !== undefined) {
        errors = await this.admin.listenerErrors(REQUEST_TIMEOUT_MS).catch((err: unknown) => {
          this.logger.debug({ err }, "could not read Envoy's listener errors");
          return undefined;
        });
      }
      const why = rejectionReason({
        type: s.type,
        kind,
        path: s.path,
        publishedAtMs: pending.publishedAtMs,
        ...(errors === undefined ? {} : { errors }),
        previous: this.lastListenerErrors.get(s.statPrefix) ?? [],
      });
      if (errors !== undefined) this.lastListenerErrors.set(s.statPrefix, errors);
      return why;
    }
    return undefined;
  }

  private async conclude(pending: Pending, outcome: Outcome, stats: Map<string, SubscriptionStats>, now: number, reason?: string): Promise<void> {
    const { file, version } = pending;
    const entry = (this.state.files[file] ??= {});
    const previousVersion = entry.accepted?.version;
    const at = new Date().toISOString();
    const latencyMs = Number((now - pending.at).toFixed(2));
    const counters = Object.fromEntries(this.subscriptionsOf(file).map((s) => [s.statPrefix, stats.get(s.statPrefix)]));
    const running = this.subscriptionsOf(file).map((s) => stats.get(s.statPrefix)?.versionText).find((v) => v !== undefined);
    if (running !== undefined) entry.envoy = { version: running, at };
    let rolledBack = false;
    let message: string;
    let why: RejectionReason | undefined;
    const v = version ?? '(no version_info)';

    if (outcome === 'accepted') {
      // Not kept when a newer publish already replaced the file: then the previous accepted copy
      // (and its version) stays what a rejection would go back to.
      const kept = await keepCopy(this.options.targetDir, 'accepted', file, pending.ino).catch((err: unknown) => {
        this.logger.warn({ err, file }, 'could not keep a copy of the accepted version');
        return false;
      });
      if (kept) entry.accepted = { ...(version === undefined ? {} : { version }), at };
      // Still held (the ConfigMap still has the refused content): keep the record across restarts.
      if (!this.held.has(file)) delete entry.refused;
      // An accepted LDS update replaced Envoy's listener errors with none.
      for (const s of this.subscriptionsOf(file)) if (s.type === 'LDS') this.lastListenerErrors.set(s.statPrefix, []);
      message = `Envoy accepted ${file} version ${v} in ${String(latencyMs)} ms`;
      this.logger.info({ event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion, latencyMs, rolledBack }, message);
      // This Envoy runs the accepted version `copy` started it from: now let it judge, once, the
      // ConfigMap's content another Pod's Envoy refused (its image or bootstrap may differ). A
      // refusal rolls back to what runs; an acceptance ends the detour.
      if (this.heldFromStore.delete(file) && this.held.delete(file)) {
        const refusedVersion = entry.refused?.version ?? '(no version_info)';
        this.logger.info(
          { file, xdsVersion: refusedVersion, refusedIn: entry.refused?.fromStore },
          `Envoy runs ${file} version ${v}, the last accepted; now publishing the ConfigMap's version ${refusedVersion}, which Envoy refused in Pod ${entry.refused?.fromStore ?? '(unknown)'}, for this Envoy to judge`,
        );
        delete entry.refused;
        this.options.resync?.();
      }
    } else if (outcome === 'rejected') {
      why = await this.why(pending, stats);
      const reasonFields = reasonFieldsOf(why);
      const kept = await keepCopy(this.options.targetDir, 'refused', file, pending.ino).catch(() => false);
      const accepted = await acceptedCopy(this.options.targetDir, file);
      const refusedAt = kept ? refusedPath(this.options.targetDir, file) : undefined;
      entry.refused = { ...(version === undefined ? {} : { version }), sha256: pending.sha256, at };
      if (accepted !== undefined) {
        rolledBack = await this.options.restore(file, accepted, pending.ino).catch((err: unknown) => {
          this.logger.error({ err, file }, `could not put the last accepted version of ${file} back`);
          return false;
        });
        this.held.set(file, pending.sha256);
        message = rolledBack
          ? `Envoy rejected ${file} version ${v}: it keeps running ${previousVersion ?? 'the last accepted version'}, which is back on disk for the next Envoy start; refused content kept at ${refusedAt ?? '(not kept)'}; fix the ConfigMap${describeReason(why)}`
          : `Envoy rejected ${file} version ${v}; it keeps running ${previousVersion ?? 'the last accepted version'} (a newer publish replaced the refused file)${describeReason(why)}`;
        this.logger.error({ event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFields }, message);
      } else {
        message = `Envoy REFUSED THE FIRST VERSION of ${file} it saw (${v}): Envoy runs WITHOUT the resources of ${file}, and a restarted Envoy will refuse it again; fix the ConfigMap${describeReason(why)}`;
        this.logger.fatal({ event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFields }, message);
      }
    } else {
      message = `Envoy's verdict on ${file} version ${v} is unknown: ${reason ?? 'no answer'}`;
      this.logger.warn({ event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion, rolledBack }, message);
    }
    const whyFields = reasonFieldsOf(why);
    entry.verdict = { outcome, ...(version === undefined ? {} : { version }), at, ...(outcome === 'unknown' ? {} : { latencyMs }), rolledBack, message, ...whyFields };
    const verdict: Verdict = {
      file,
      version,
      sha256: pending.sha256,
      ...(previousVersion === undefined ? {} : { previousVersion }),
      outcome,
      rolledBack,
      ...(outcome === 'unknown' ? {} : { latencyMs }),
      message,
      ...whyFields,
    };
    for (const listener of this.listeners) {
      try {
        listener(verdict);
      } catch (err) {
        this.logger.error({ err }, 'verdict listener failed');
      }
    }
    this.saveState();
  }

  /** Writes state.json soon: at most once per STATE_WRITE_DELAY_MS, so a burst of publishes costs one write. */
  private saveState(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.writeStateNow();
    }, STATE_WRITE_DELAY_MS);
  }

  private writeStateNow(): void {
    this.state.updatedAt = new Date().toISOString();
    this.state.pid = process.pid;
    this.state.admin = this.admin === undefined ? undefined : describeAdmin(this.admin.address);
    const snapshot = structuredClone(this.state);
    this.stateWrite = this.stateWrite
      .then(() => writeState(this.options.targetDir, snapshot))
      .catch((err: unknown) => {
        this.logger.warn({ err }, 'could not write the verdict state file');
      });
  }
}

