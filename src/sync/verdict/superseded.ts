// A publish that a newer publish of the same file replaced before its verdict (IO): what Envoy did
// with it is reported when its counters show it (superseded-fate.ts): a verdict line, its Event and
// the `status` row, like any verdict, before the newer publish's; nothing is rolled back or held
// for it (the ConfigMap has moved on). Also the last few such publishes per file, which a later
// refusal goes back to when Envoy runs one of them (conclude.ts).
import { performance } from 'node:perf_hooks';
import { JudgedContents } from './judged-contents.js';
import { newPending } from './pending.js';
import type { Pending } from './pending.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import { fateAtVerdict, supersededFate } from './superseded-fate.js';
import type { PublishRecord, SupersededFate } from './superseded-fate.js';
import { reportSuperseded } from './superseded-report.js';
import type { SupersededContext } from './superseded-report.js';


/** How many publishes per file are remembered (renames for the window, replaced contents for a rollback). */
const KEPT = 8;

/** A replaced publish whose line waits (SupersededPublishes `unread`). */
interface Waiting {
  old: Pending;
  /** The publish that replaced it. */
  next: Pending;
  /** The publish whose verdict decides it: `next`, or the one that replaced that in turn. */
  by: Pending;
  /** Its fate when replaced; once `decided`, the fate its line says (none: no line). */
  fate: SupersededFate;
  /** The end of its window when replaced (the newer baseline); undefined: read up to the verdict. */
  end: EnvoyCounters | undefined;
  decided: boolean;
  /** Publishes replaced after it before any was tracked (their reads are in its window). */
  within: readonly Pending[];
}

export class SupersededPublishes {
  /** File → its last publishes (a pass's renames), to tell whether other content was renamed in a window. */
  private readonly renames = new Map<string, PublishRecord[]>();
  /**
   * File → a publish replaced before the publish replacing it was tracked (its baseline not read
   * yet), and the publishes replaced after it meanwhile (`within`: their reads are in its window,
   * which spans them): decided by `tracked`.
   */
  private readonly waiting = new Map<string, { oldest: Pending; within: Pending[] }>();
  /** File → its last few publishes replaced before their verdict (what a rollback goes back to when Envoy runs one). */
  private readonly replaced = new Map<string, { version: string | undefined; sha256: string; content: Buffer }[]>();
  /**
   * File → its replaced publishes whose lines wait, in publish order: each decided at the verdict
   * on the publish it waits for (`next`; moved to the newer one when that is replaced in turn),
   * when its window was unread (`end` undefined) or did not tell whose Envoy's counts were (`fate`),
   * or decided already and said after the ones before it (`decided`).
   */
  private readonly unread = new Map<string, Waiting[]>();
  /** How Envoy judged each file's contents, as far as the watcher knows (judged-contents.ts). */
  private readonly judgements = new JudgedContents((file) => this.ctx.state.files[file]?.accepted?.sha256);
  /** Publish → the publish that replaced it (a chain a waiting publish follows to the verdict that decides it). */
  private readonly replacedBy = new WeakMap<Pending, Pending>();
  /** The last few passes: when renamed (performance.now()) and the ConfigMap as published (configMapAt). */
  private passes: { at: number; configMap: ReadonlyMap<string, string> }[] = [];
  /** The verdict lines being written, in order: the newer publish's verdict waits for them (`reported`). */
  private reporting: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: SupersededContext) {}

  /** A pass renamed these files (the tracker's `published`). */
  published(files: readonly { name: string; sha256: string; version: string | undefined; at: number; configMap?: ReadonlyMap<string, string> | undefined }[]): void {
    const at = Math.max(...files.map((f) => f.at));
    const configMap = files.find((f) => f.configMap !== undefined)?.configMap;
    if (configMap !== undefined) this.passes = [...this.passes.slice(1 - KEPT), { at, configMap }];
    this.judgements.changed(files.map((f) => f.name), at);
    for (const f of files) this.renames.set(f.name, [...(this.renames.get(f.name) ?? []).slice(1 - KEPT), { sha256: f.sha256, version: f.version, at: f.at }]);
  }

  /**
   * The ConfigMap as published (key → sha256) by the last pass renamed before `now`
   * (performance.now(): the answer a verdict was decided on), undefined when none is remembered:
   * what Envoy read when it refused, which a hold compares later ConfigMaps with (holds.ts).
   */
  configMapAt(now: number): ReadonlyMap<string, string> | undefined {
    return this.passes.findLast((p) => p.at <= now)?.configMap;
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
    // The oldest is decided: its window spans the others (an untracked pass's baseline may predate
    // the publish before it, baseline-reads.ts settle's `firstRenames`: a window of its own could
    // overlap), and says the refusals there that are one of theirs (`say`).
    else {
      const waiting = this.waiting.get(old.file);
      if (waiting === undefined) this.waiting.set(old.file, { oldest: old, within: [] });
      else waiting.within = [...waiting.within, old].slice(-KEPT);
    }
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
    const waiting = this.waiting.get(next.file);
    if (waiting === undefined) return;
    this.waiting.delete(next.file);
    this.decide(waiting.oldest, next, own, waiting.within);
  }

  /** Resolves once the verdict lines of replaced publishes decided so far are written. */
  reported(): Promise<void> {
    return this.reporting;
  }

  private decide(old: Pending, next: Pending, own: readonly string[], within: readonly Pending[] = []): void {
    const waiting = this.unread.get(old.file) ?? [];
    // Replaced in turn before its verdict: those waiting for it wait for the newer one's (the
    // newest: a round judging `old` may hand it over after `next` was replaced too, poll.ts).
    this.replacedBy.set(old, next);
    let by = next;
    for (let newer = this.replacedBy.get(by); newer !== undefined; newer = this.replacedBy.get(by)) by = newer;
    for (const w of waiting) if (w.by === old) w.by = by;
    const fate = supersededFate(old, next.baseline, own, this.renames.get(old.file) ?? [], this.judgements.of(old.file));
    this.ctx.logger.debug({ file: old.file, version: old.version, by: next.version, fate }, 'verdict superseded by a newer publish');
    // A file read through another (a secret's, a read-once file) is judged by that file's counters.
    if (old.reader !== undefined || old.secret !== undefined) return;
    // No window yet (the newer baseline was read before this rename, or not at all): read up to the
    // newer one's verdict. Counts not told whose (other content renamed in the window too): the
    // newer verdict adds what Envoy did with that content (a content is judged alike at each read).
    if (old.refusedBefore === undefined && (fate.kind === 'unread' || fate.kind === 'unattributed' || fate.kind === 'untold')) {
      this.wait(old.file, { old, next, by, fate, end: fate.kind === 'unread' ? undefined : next.baseline, decided: false, within });
      return;
    }
    if (fate.kind === 'accepted' || fate.kind === 'refused') this.judgements.learn(old.file, old.sha256, fate.kind === 'accepted' ? 'accepted' : 'refused', old.at);
    if (fate.kind !== 'refused' && fate.kind !== 'unattributed' && fate.kind !== 'accepted' && old.refusedBefore === undefined) return;
    // Said after the replaced publishes before it that still wait.
    if (waiting.length > 0) this.wait(old.file, { old, next, by, fate, end: undefined, decided: true, within });
    else this.say(old, next, fate, within);
  }

  /** Adds `w` to the file's waiting ones; the oldest goes as it stands when more than KEPT wait (its newer publish may never be judged). */
  private wait(file: string, w: Waiting): void {
    const waiting = [...(this.unread.get(file) ?? []), w];
    const over = waiting.length > KEPT ? waiting.shift() : undefined;
    if (over !== undefined) {
      over.decided = true;
      if (over.fate.kind !== 'unattributed' && over.fate.kind !== 'refused' && over.fate.kind !== 'accepted') over.fate = { kind: 'none' };
      this.unread.set(file, [over, ...waiting]);
    } else {
      this.unread.set(file, waiting);
    }
    this.flush(file);
  }

  /** Queues the lines of the file's leading waiting ones that are decided, in publish order. */
  private flush(file: string): void {
    const waiting = this.unread.get(file) ?? [];
    while (waiting[0]?.decided === true) {
      const w = waiting.shift();
      if (w !== undefined) this.say(w.old, w.next, w.fate, w.within);
    }
    if (waiting.length === 0) this.unread.delete(file);
    else this.unread.set(file, waiting);
  }

  /**
   * The verdict on `next` is in (`outcome`, decided on Envoy's answer `end`; `own`: the file's
   * scopes): the replaced publishes waiting for it are decided (fateAtVerdict), the newest first,
   * each knowing what Envoy did with `next` and with those decided after it (a content is judged
   * alike at each read), and their lines written in publish order (resolves after them). Measured
   * with Envoy's admin answering after the baseline's 250 ms (plain-directory source, two `mv`
   * 0-20 ms apart): no line for the refused one before windows were read up to the verdict.
   */
  async judged(next: Pending, outcome: string, end: EnvoyCounters | undefined, own: readonly string[]): Promise<void> {
    if (next.reader === undefined && next.secret === undefined && (outcome === 'accepted' || outcome === 'rejected')) this.judgements.learn(next.file, next.sha256, outcome === 'accepted' ? 'accepted' : 'refused', next.at);
    // A refusal may be rolled back (another content renamed onto it): Envoy's judgement of other files' contents may change.
    if (outcome === 'rejected') this.judgements.changed([next.file], performance.now());
    const list = this.unread.get(next.file) ?? [];
    const first = list.findIndex((w) => w.by === next && !w.decided);
    if (first < 0) return;
    const known = this.judgements.of(next.file);
    const renames = this.renames.get(next.file) ?? [];
    // Refusals said by the lines of the publishes after each one (newest first): a window read up to
    // this verdict holds theirs too, and they are not counted twice.
    let later = 0;
    const batch = list.slice(first);
    for (const [i, w] of [...batch.entries()].reverse()) {
      if (w.by === next && !w.decided) {
        const settled = supersededFate(w.old, w.end ?? end, own, renames, known, w.end === undefined ? later : 0);
        let fate = fateAtVerdict(w.fate, settled, outcome);
        // Refusals that are an older waiting publish's: said on its line, from its own window.
        const by = fate?.kind === 'unattributed' ? fate.refusedBy : undefined;
        if (by !== undefined && batch.slice(0, i).some((older) => older.old.sha256 === by.sha256)) fate = undefined;
        this.ctx.logger.debug({ file: next.file, version: w.old.version, by: next.version, fate }, 'verdict superseded by a newer publish, read up to its verdict');
        w.fate = fate ?? { kind: 'none' };
        w.decided = true;
        if (fate?.kind === 'accepted' || fate?.kind === 'refused') {
          known.set(w.old.sha256, fate.kind);
          this.judgements.learn(next.file, w.old.sha256, fate.kind, w.old.at);
        }
      }
      if (w.fate.kind === 'refused' || w.fate.kind === 'unattributed') later += w.fate.count;
    }
    this.flush(next.file);
    await this.reporting;
  }

  /**
   * Queues the line of `old` decided so (none when nothing is said of it), and, when the refusals
   * of its window are those of a publish in it that was never tracked (`within`: fate.refusedBy),
   * that one's refused line after it, instead of saying them not attributed on `old`'s.
   */
  private say(old: Pending, next: Pending, fate: SupersededFate, within: readonly Pending[]): void {
    const by = fate.kind === 'accepted' || fate.kind === 'unattributed' ? fate.refusedBy : undefined;
    const other = by === undefined ? undefined : within.find((p) => p.sha256 === by.sha256);
    // The newer publish's own content, renamed once before its baseline (a pass that renamed first
    // is published again, baseline-reads.ts settle): its line says those refusals.
    const again = by !== undefined && other === undefined && by.sha256 === next.sha256;
    if (by !== undefined && (other !== undefined || again)) {
      if (fate.kind === 'accepted' || old.refusedBefore !== undefined) this.queue(old, next, fate.kind === 'accepted' ? fate : { kind: 'none' });
      if (other !== undefined) {
        this.judgements.learn(other.file, other.sha256, 'refused', other.at);
        this.queue(other, next, { kind: 'refused', count: by.count, counter: by.counter, refusal: by.refusal });
      } else {
        next.refusedBefore = { count: (next.refusedBefore?.count ?? 0) + by.count, while: next.refusedBefore?.while ?? [], counter: by.counter };
      }
      return;
    }
    if (fate.kind === 'refused' || fate.kind === 'unattributed' || fate.kind === 'accepted' || old.refusedBefore !== undefined) this.queue(old, next, fate);
  }

  private queue(old: Pending, next: Pending, fate: SupersededFate): void {
    this.reporting = this.reporting
      .then(() => reportSuperseded(this.ctx, old, next, fate))
      .catch((err: unknown) => {
        this.ctx.logger.error({ err, file: old.file }, 'could not report the verdict on a replaced publish');
      });
  }
}
