// A publish that a newer publish of the same file replaced before its verdict (IO): what Envoy did
// with it is reported when its counters show it (superseded-fate.ts): a verdict line, its Event and
// the `status` row, like any verdict, before the newer publish's; nothing is rolled back or held
// for it (the ConfigMap has moved on). Also the last few such publishes per file, which a later
// refusal goes back to when Envoy runs one of them (conclude.ts).
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import { rejectionReason } from '../envoy/rejection-reason.js';
import type { RejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import { contentVersion } from '../envoy/version-stamp.js';
import { newPending } from './pending.js';
import type { Pending } from './pending.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import { refusedBeforeNote } from './refusal-cause.js';
import { keepVersion } from './kept.js';
import { refusalWords } from './messages.js';
import { refusedPath } from './state.js';
import type { StateWriter, VerdictState } from './state.js';
import { errorsBefore, supersededFate, supersededMessage } from './superseded-fate.js';
import type { PublishRecord, SupersededFate } from './superseded-fate.js';
import { reasonFieldsOf, tell, validateFieldsOf, verdictForms } from './verdict.js';
import type { VerdictListener } from './verdict.js';

export interface SupersededContext {
  logger: Logger;
  targetDir: string;
  state: VerdictState;
  stateFile: StateWriter;
  listeners: readonly VerdictListener[];
  admin: () => EnvoyAdmin | undefined;
  /** Envoy's path of a published file. */
  pathOf: (name: string) => string;
  /** The `validate` a message suggests for a file (validate-hint.ts). */
  validateHint: (file: string) => string;
}

/** How many publishes per file are remembered (renames for the window, replaced contents for a rollback). */
const KEPT = 8;

export class SupersededPublishes {
  /** File → its last publishes (a pass's renames), to tell whether other content was renamed in a window. */
  private readonly renames = new Map<string, PublishRecord[]>();
  /** File → a publish replaced before the publish replacing it was tracked (its baseline not read yet): decided by `tracked`. */
  private readonly waiting = new Map<string, Pending>();
  /** File → its last few publishes replaced before their verdict (what a rollback goes back to when Envoy runs one). */
  private readonly replaced = new Map<string, { version: string | undefined; sha256: string; content: Buffer }[]>();
  /**
   * File → a replaced publish decided at the verdict on the publish that replaced it (`judged`):
   * its window was unread, or its refusals were not attributed (`fate`, said if that verdict does
   * not settle them).
   */
  private readonly unread = new Map<string, { old: Pending; next: Pending; fate?: Extract<SupersededFate, { kind: 'unattributed' }> }>();
  /** The verdict lines being written, in order: the newer publish's verdict waits for them (`reported`). */
  private reporting: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: SupersededContext) {}

  /** A pass renamed these files (the tracker's `published`). */
  published(files: readonly { name: string; sha256: string; version: string | undefined; at: number }[]): void {
    for (const f of files) this.renames.set(f.name, [...(this.renames.get(f.name) ?? []).slice(1 - KEPT), { sha256: f.sha256, version: f.version, at: f.at }]);
  }

  /** The last publishes of `file` the tracker heard of (put-back.ts: does Envoy run one renamed after a refused one). */
  publishes(file: string): readonly PublishRecord[] {
    return this.renames.get(file) ?? [];
  }

  /** The content of `file` a newer publish replaced before its verdict whose version is `version`, if remembered. */
  ran(file: string, version: string): { version: string | undefined; sha256: string; content: Buffer } | undefined {
    return this.replaced.get(file)?.find((p) => p.version === version);
  }

  /**
   * `old` got no verdict: `next` replaced it (undefined: a pass whose files are not tracked yet
   * replaced it; decided once the publish of the file is, `tracked`). `own`: the file's stats scopes.
   */
  replace(old: Pending, next: Pending | undefined, own: readonly string[]): void {
    if (old.version !== undefined && old.reader === undefined && old.secret === undefined) {
      this.replaced.set(old.file, [...(this.replaced.get(old.file) ?? []).slice(-3), { version: old.version, sha256: old.sha256, content: old.content }]);
    }
    if (next !== undefined) this.decide(old, next, own);
    else if (!this.waiting.has(old.file)) this.waiting.set(old.file, old); // the oldest: its window spans the others
  }

  /**
   * `file` was replaced by a newer publish before it was tracked (baseline-reads.ts handOver), judged
   * against `baseline`: it gets no verdict of its own, and is decided as `replace` decides one.
   */
  untracked(file: PublishedFile, baseline: EnvoyCounters | undefined): void {
    this.replace(newPending(file, { previousVersion: undefined, baseline, names: [], deadline: file.at, initial: false, inFlight: new Set(), retried: false }), undefined, []);
  }

  /** A publish was tracked: a publish of its file replaced before that is decided now. */
  tracked(next: Pending, own: readonly string[]): void {
    const old = this.waiting.get(next.file);
    if (old === undefined) return;
    this.waiting.delete(next.file);
    this.decide(old, next, own);
  }

  /** Resolves once the verdict lines of replaced publishes decided so far are written. */
  reported(): Promise<void> {
    return this.reporting;
  }

  private decide(old: Pending, next: Pending, own: readonly string[]): void {
    const waiting = this.unread.get(old.file);
    if (waiting?.next === old) {
      // Replaced in turn: no verdict of its own to read up to. Refusals not attributed are said so.
      this.unread.delete(old.file);
      if (waiting.fate !== undefined) this.queue(waiting.old, old, waiting.fate);
    }
    const fate = supersededFate(old, next.baseline, own, this.renames.get(old.file) ?? [], this.acceptedOf(old.file));
    this.ctx.logger.debug({ file: old.file, version: old.version, by: next.version, fate }, 'verdict superseded by a newer publish');
    // A file read through another (a secret's, a read-once file) is judged by that file's counters.
    if (old.reader !== undefined || old.secret !== undefined) return;
    // No window yet (the newer baseline was read before this rename, or not at all): read up to the newer one's verdict (`judged`).
    if (fate.kind === 'unread' && old.refusedBefore === undefined) this.unread.set(old.file, { old, next });
    // Refusals in a window where other content was renamed too: the newer publish, if Envoy accepts
    // it, was not what it refused there (the file subscription judges a content alike at each read).
    if (fate.kind === 'unattributed' && old.refusedBefore === undefined) {
      this.unread.set(old.file, { old, next, fate });
      return;
    }
    if (fate.kind !== 'refused' && fate.kind !== 'unattributed' && fate.kind !== 'accepted' && old.refusedBefore === undefined) return;
    this.queue(old, next, fate);
  }

  /** The sha256 of the content of `file` Envoy last accepted (state.ts), as supersededFate takes it. */
  private acceptedOf(file: string): string[] {
    const accepted = this.ctx.state.files[file]?.accepted?.sha256;
    return accepted === undefined ? [] : [accepted];
  }

  /**
   * The verdict on `next` is in (`outcome`, decided on Envoy's answer `end`; `own`: the file's
   * scopes): a publish it replaced whose window was unread is read up to that answer, and its line
   * written (resolves after it): only when Envoy accepted `next`, and only for refusals, since each
   * read of `next` counted a success (and Envoy reports it running), so a refusal in the window is
   * the replaced one's, or, when other content was renamed in it too, not told whose (supersededFate).
   * Measured with Envoy's admin answering after the baseline's 250 ms (plain-directory source, two
   * `mv` 0-20 ms apart): no line for the refused one. A replaced publish whose refusals were not
   * attributed is said whatever the outcome: as refused when Envoy accepted `next` and nothing else
   * is left in its window, else as not attributed.
   */
  async judged(next: Pending, outcome: string, end: EnvoyCounters | undefined, own: readonly string[]): Promise<void> {
    const waiting = this.unread.get(next.file);
    if (waiting?.next !== next) return;
    this.unread.delete(next.file);
    const took = [...this.acceptedOf(next.file), next.sha256];
    const settled = waiting.fate === undefined ? undefined : supersededFate(waiting.old, next.baseline, own, this.renames.get(next.file) ?? [], took);
    const fate = waiting.fate !== undefined
      ? outcome === 'accepted' && settled?.kind === 'refused' ? settled : waiting.fate
      : outcome === 'accepted' ? supersededFate(waiting.old, end, own, this.renames.get(next.file) ?? [], took) : undefined;
    this.ctx.logger.debug({ file: next.file, version: waiting.old.version, by: next.version, fate }, 'verdict superseded by a newer publish, read up to its verdict');
    if (fate?.kind !== 'refused' && fate?.kind !== 'unattributed') return;
    this.queue(waiting.old, next, fate);
    await this.reporting;
  }

  private queue(old: Pending, next: Pending, fate: SupersededFate): void {
    this.reporting = this.reporting
      .then(() => this.report(old, next, fate))
      .catch((err: unknown) => {
        this.ctx.logger.error({ err, file: old.file }, 'could not report the verdict on a replaced publish');
      });
  }

  /** Envoy's reason for refusing `old`, as far as its admin API still tells it after `next` was renamed. */
  private async reason(old: Pending, next: Pending, fate: Extract<SupersededFate, { kind: 'refused' }>): Promise<RejectionReason> {
    const type = subscriptionType(fate.counter.slice(0, fate.counter.lastIndexOf('.update_'))) ?? 'LDS';
    const admin = this.ctx.admin();
    const read = type === 'LDS' && fate.refusal === 'rejected' ? await admin?.listenerErrors(REQUEST_TIMEOUT_MS).catch(() => undefined) : undefined;
    const errors = errorsBefore(read, next.publishedAtMs);
    return rejectionReason({ type, kind: fate.refusal, path: this.ctx.pathOf(old.file), publishedAtMs: old.publishedAtMs, ...(errors === undefined ? {} : { errors }) });
  }

  private async report(old: Pending, next: Pending, fate: SupersededFate): Promise<void> {
    const { file } = old;
    const { logger, state, targetDir } = this.ctx;
    const shown = old.version ?? contentVersion(old.sha256);
    const why = fate.kind === 'refused' ? await this.reason(old, next, fate) : undefined;
    const keptAt = fate.kind === 'refused' ? await keepVersion(targetDir, 'refused', file, { content: old.content }).then(() => refusedPath(targetDir, file), () => undefined) : undefined;
    const before = old.refusedBefore === undefined ? '' : refusedBeforeNote(old.refusedBefore);
    const message = supersededMessage({ file, version: shown, by: next.version ?? contentVersion(next.sha256), fate, because: refusalWords(why, this.ctx.validateHint(file)), keptAt, before });
    const outcome = fate.kind === 'refused' ? 'rejected' : fate.kind === 'accepted' ? 'accepted' : 'unknown';
    const entry = (state.files[file] ??= {});
    const previousVersion = entry.accepted?.version;
    const at = new Date().toISOString();
    // Envoy runs it until the newer publish is judged: a refusal of that one goes back to it (kept from its bytes).
    if (fate.kind === 'accepted' && (await keepVersion(targetDir, 'accepted', file, { content: old.content }).then(() => true, () => false))) {
      entry.accepted = { ...(old.version === undefined ? {} : { version: old.version }), sha256: old.sha256, at };
    }
    const counted = fate.kind === 'refused' || fate.kind === 'unattributed' ? { refusals: fate.count, counter: fate.counter } : fate.kind === 'accepted' ? { updates: fate.count, counter: fate.counter } : {};
    logger[outcome === 'rejected' ? 'error' : outcome === 'accepted' ? 'info' : 'warn'](
      { event: 'verdict', file, outcome, xdsVersion: old.version, previousXdsVersion: previousVersion, supersededBy: next.version, rolledBack: false, ...counted, ...(old.refusedBefore === undefined ? {} : { refusedBefore: old.refusedBefore.count }), ...(keptAt === undefined ? {} : { refused: keptAt }), ...reasonFieldsOf(why) },
      message,
    );
    const forms = verdictForms({ file, version: old.version, sha256: old.sha256, previousVersion, at }, { outcome, rolledBack: false, message, ...reasonFieldsOf(why), ...validateFieldsOf(why, this.ctx.validateHint(file)) });
    entry.verdict = { ...forms.kept, version: shown };
    tell(this.ctx.listeners, forms.verdict, (err) => { logger.error({ err }, 'verdict listener failed'); });
    this.ctx.stateFile.save();
  }
}
