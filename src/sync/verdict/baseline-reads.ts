// The requests for a pass's baseline (IO): sent when the watcher is told of a change, answered
// while the pass reads, and taken just before its first rename if it still qualifies, or after
// its renames when the pass did not wait for it (baseline.ts says when; the tracker, tracker.ts,
// hands the reading to every file the pass publishes).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile, Replaces } from '../publish/syncer.js';
import { baselineSource, lateBaseline, mayRenameFirst } from './baseline.js';
import type { PassShape } from '../publish/pass-result.js';

const BASELINE_TIMEOUT_MS = 250;

interface Sent {
  renames: number;
  answer: Promise<EnvoyCounters | undefined>;
  answered: boolean;
}

/** The syncer's restore: renames `content` onto `name` again unless a newer publish replaced `replaces`; the new inode, or undefined. */
type Restore = (name: string, content: Buffer, replaces: Replaces) => Promise<number | undefined>;

/** A pass that renamed before Envoy answered: that answer, and the last reading answered before its first rename. */
export interface Late {
  answer: Promise<EnvoyCounters | undefined>;
  before: EnvoyCounters;
}

export class BaselineReads {
  /** The baseline read for the pass being published (`beforeRenames`), until its files are tracked. */
  next: EnvoyCounters | undefined;
  /** The pass being published renamed before Envoy answered (`renameFirst`), until its files are tracked. */
  late: Late | undefined;
  /** The request sent when the watcher was told of a change (`send`), for that pass only. */
  private sent: Sent | undefined;
  /** The sent request `before` waits for, until the pass renames without it. */
  private awaited: Sent | undefined;
  /** Passes handed over whose files wait for Envoy's answer (handOver), and their files not replaced by a newer publish since. */
  private queue: Promise<void> | undefined;
  private queued: { files: PublishedFile[]; replaced: PublishedFile[] }[] = [];
  /** The last reading of Envoy's counters answered, whatever asked for it (`observed`). */
  private last: EnvoyCounters | undefined;

  /** `admin`: Envoy's admin API, once known. */
  constructor(
    private readonly logger: Logger,
    private readonly admin: () => EnvoyAdmin | undefined,
  ) {}

  /** Every reading of Envoy's counters, as it is answered. */
  observed(reading: EnvoyCounters): void {
    this.last = reading;
  }

  /**
   * Called when the watcher is told of a change, before the pass that reads it: sends the
   * baseline request now, so Envoy answers while the pass reads, validates and stages
   * (`renames`: renames into the target so far). Never throws.
   */
  send(renames: number): void {
    const admin = this.admin();
    if (admin === undefined) return;
    const sent: Sent = { renames, answer: admin.counters(BASELINE_TIMEOUT_MS).catch(() => undefined), answered: false };
    void sent.answer.then(() => {
      sent.answered = true;
    });
    this.sent = sent;
  }

  /** The pass the request was sent for has ended: it serves no other. */
  ended(): void {
    this.sent = undefined;
    this.awaited = undefined;
  }

  /**
   * Just before a pass's renames: the answer to the request sent for it if it qualifies, else a
   * request now, bounded by BASELINE_TIMEOUT_MS; `next` holds it (undefined: Envoy did not answer,
   * the last poll's stands in; or the pass renamed without it, `renameFirst`). Returns the reading.
   * Never throws.
   */
  async before(renamesNow: number): Promise<EnvoyCounters | undefined> {
    const admin = this.admin();
    this.next = undefined;
    this.late = undefined;
    if (admin === undefined) return undefined;
    const sent = this.sent;
    this.sent = undefined;
    if (sent !== undefined && baselineSource(sent.renames, renamesNow) === 'sent') {
      // Envoy did not answer it: asking again would only double the wait (the last poll's stands in).
      this.awaited = sent;
      const answer = await sent.answer;
      if (this.awaited !== sent) return undefined; // renamed without it (renameFirst), or the pass ended
      this.awaited = undefined;
      this.next = answer;
      if (this.next === undefined) this.logger.debug("could not read Envoy's counters before the renames: the last poll's are the baseline");
      return this.next;
    }
    try {
      this.next = await admin.counters(BASELINE_TIMEOUT_MS);
    } catch (err) {
      this.logger.debug({ err }, "could not read Envoy's counters before the renames: the last poll's are the baseline");
    }
    return this.next;
  }

  /**
   * Called by the syncer just before a pass's first rename, while `before` waits for the request
   * sent for the pass: whether the pass renames now without the answer (mayRenameFirst, and a
   * reading answered before to compare it with). Then `late` holds both until the files are tracked.
   */
  renameFirst(pass: PassShape): boolean {
    const awaited = this.awaited;
    const last = this.last;
    if (awaited === undefined || awaited.answered || last === undefined || !mayRenameFirst(pass)) return false;
    this.awaited = undefined;
    this.late = { answer: awaited.answer, before: last };
    return true;
  }

  /**
   * Hands a pass's files to `track` with their baseline (`next`, else `fallback`: the last poll's)
   * and clears it: at once, unless the pass renamed first (`late`: settle) or an earlier pass still
   * waits for Envoy's answer; then once it has, in publish order. Returns whether it waits: then
   * this pass's files replace the older publishes of the same names at once, as the poller does
   * when it tracks a newer publish (an older one judged meanwhile could be credited with its reload):
   * those of a pass still waiting go to `replaced` with the baseline of their own renames, once it
   * is known (what Envoy did with them is read from the two baselines, superseded.ts: a refusal
   * Envoy counted for one must still be reported; measured with a plain-directory source, two `mv`
   * 10 ms apart: the refused one got no line at all).
   */
  handOver(
    files: readonly PublishedFile[],
    fallback: EnvoyCounters | undefined,
    restore: Restore,
    track: (files: readonly PublishedFile[], baseline: EnvoyCounters | undefined) => void,
    replaced: (files: readonly PublishedFile[], baseline: EnvoyCounters | undefined) => void,
  ): boolean {
    const { late, next } = this;
    this.next = this.late = undefined;
    if (late === undefined && this.queue === undefined) {
      track(files, next ?? fallback);
      return false;
    }
    const names = new Set(files.map((file) => file.name));
    for (const waiting of this.queued) {
      waiting.replaced.push(...waiting.files.filter((file) => names.has(file.name)));
      waiting.files = waiting.files.filter((file) => !names.has(file.name));
    }
    const pass = { files: [...files], replaced: [] as PublishedFile[] };
    this.queued.push(pass);
    const queued = (this.queue ?? Promise.resolve()).then(async () => {
      const settled = late === undefined ? { files: pass.files, baseline: next ?? fallback, firstRenames: next ?? fallback } : await this.settle(late, pass.files, restore);
      this.queued = this.queued.filter((other) => other !== pass);
      // Files a newer publish replaced while Envoy answered are that publish's to judge.
      track(settled.files.filter((file) => pass.files.some((kept) => kept.name === file.name)), settled.baseline);
      if (pass.replaced.length > 0) replaced(pass.replaced, settled.firstRenames);
    });
    this.queue = queued.catch((err: unknown) => {
      this.logger.error({ err }, "could not queue a pass's files for Envoy's verdict");
    });
    const mine = this.queue;
    void mine.then(() => {
      if (this.queue === mine) this.queue = undefined;
    });
    return true;
  }

  /** Whether a pass handed over and waiting for Envoy's answer holds `file` (not pending a verdict yet; its verdict is to come). */
  queues(file: string): boolean {
    return this.queued.some((pass) => pass.files.some((f) => f.name === file));
  }

  /** Whether a pass handed over waits for Envoy's answer: its files are not pending a verdict yet. */
  get waiting(): boolean {
    return this.queue !== undefined;
  }

  /** Resolves once every pass handed over is tracked. */
  async tracked(): Promise<void> {
    await this.queue;
  }

  /**
   * The baseline of a pass that renamed first (lateBaseline), once Envoy answered, with the files
   * to judge against it: when the answer may hold their reloads, the same files renamed once more
   * (`restore`: the new inode, undefined when a newer publish replaced the file: that one is judged).
   * `firstRenames`: a baseline of the pass's first renames (the answer, or the reading before them
   * when the answer may hold their reloads).
   */
  private async settle(late: Late, files: readonly PublishedFile[], restore: Restore): Promise<{ baseline: EnvoyCounters; files: PublishedFile[]; firstRenames: EnvoyCounters }> {
    const decided = lateBaseline(await late.answer, late.before);
    if ('use' in decided) return { baseline: decided.use, files: [...files], firstRenames: decided.use };
    this.logger.debug({ files: files.map((file) => file.name) }, "Envoy's counters moved before it answered the request sent before the renames: publishing the same files again, judged against that answer");
    const again: PublishedFile[] = [];
    for (const file of files) {
      const ino = await restore(file.name, file.content, { ino: file.ino, sha256: file.sha256 }).catch((err: unknown) => {
        this.logger.error({ err, file: file.name }, `could not publish ${file.name} again: no verdict on it`);
        return undefined;
      });
      if (ino !== undefined) again.push({ ...file, ino, at: performance.now() });
    }
    return { baseline: decided.renameAgain, files: again, firstRenames: late.before };
  }
}
