// The loop that polls Envoy's admin API for the files whose verdict is pending (IO: the admin API,
// the clock, the rename of a refused file tried once more). Each round reads every subscription's
// counters once, attributes Envoy's stats scopes to files (attribution.ts), judges each pending file
// (judge-one.ts), sets aside a refusal while other files were on their way (in-flight.ts) and hands
// every outcome to finish.ts (then conclude.ts); a publish a newer one replaced goes to superseded.ts.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import { describeAdmin } from '../envoy/subscriptions.js';
import { roundTripMs, type EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import { attribute } from './attribution.js';
import { clustersGoneBy, routesToGone, waitsForClusters } from './clusters-gone.js';
import { acceptedCopy } from './state.js';
import type { Decided } from './conclude.js';
import { afterInFlight, defersRefusal } from './in-flight.js';
import { openedScopes, pollDelayMs } from './judge.js';
import { judgeOne } from './judge-one.js';
import { refusedWhileOnTheWay, undecidedReason } from './messages.js';
import { scopesOf, type Pending, type SecretFile } from './pending.js';
import { ridersOf, riderState } from './read-once-verdict.js';
import { causeOf, concludeWithRiders, otherFile, readAsCds, type FinishContext } from './finish.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import { mayDependOn, type RefusedBefore, refusalCounter } from './refusal-cause.js';
import { readAtSameStart } from './read-at-start.js';
import { answeredBefore } from './reading-order.js';
import { stillToCome, waitedFor } from './never-read.js';
import type { VerdictOptions } from './options.js';

export interface PollContext extends FinishContext {
  targetDir: string;
  /** Whether Envoy's last verdict on `file` refused the content that stays on disk (not put back): never-read.ts. */
  refusedOnDisk: (file: string) => boolean;
  /** Whether a newer publish of `file` waits for its pass's baseline, not tracked yet (baseline-reads.ts): its verdict is to come. */
  queued?: (file: string) => boolean;
  logger: Logger;
  /** ms a publish has for its verdict once Envoy loads it. */
  timeoutMs: number;
  /** The admin API, or why there is none. */
  admin: () => { admin: EnvoyAdmin | undefined; problem: string | undefined };
  /** The syncer's restore: renames content onto a name again unless a newer publish replaced it; the new inode, or undefined. */
  restore: VerdictOptions['restore'];
  /** A refused file was renamed again: judge it as a new publish (baseline: Envoy's counters now), reporting the refusals before. */
  /** `opened`: the subscriptions the first rename opened (judge.ts), kept for the judgement of the second. */
  republished: (file: PublishedFile, secret: SecretFile | undefined, baseline: EnvoyCounters | undefined, refusedBefore: RefusedBefore, opened: ReadonlySet<string>) => void;
}

export class Poller {
  /** file → its publish waiting for a verdict (a newer publish replaces it). */
  readonly pending = new Map<string, Pending>();
  /** Envoy's counters at the last poll or baseline read. */
  lastCounters: EnvoyCounters | undefined;
  /** Stats scope → file, from Envoy's answers (attribution.ts). */
  private attributed = new Map<string, string>();
  /** file → epoch ms of its last publish tracked (Pending.publishedAtMs), kept after its verdict (read-at-start.ts). */
  private readonly publishedAt = new Map<string, number>();
  private loop: Promise<void> | undefined;

  /** Stats scope → file, as of the last poll. */
  get attribution(): ReadonlyMap<string, string> {
    return this.attributed;
  }
  private stopped = false;
  private wake: (() => void) | undefined;
  /** The publish the poll round is judging (awaiting Envoy's reason, a rename...), and the newer publish that replaced it meanwhile. */
  private judging: Pending | undefined;
  private replacedWhileJudged: { next: Pending | undefined; own: readonly string[] } | undefined;
  /** Publishes concluded by `finish`. */
  private readonly finished = new WeakSet<Pending>();

  constructor(private readonly ctx: PollContext) {}

  /** Waits for `pending`'s verdict (replacing an older publish of the same file). */
  add(pending: Pending): void {
    const superseded = this.pending.get(pending.file);
    // What Envoy did with a publish this one replaced is read now, from the two baselines (superseded.ts).
    const own = scopesOf(this.attributed, pending.file, []).own;
    if (superseded !== undefined) this.replaced(superseded, pending, own);
    else this.ctx.conclusions.superseded.tracked(pending, own);
    this.pending.set(pending.file, pending);
    this.publishedAt.set(pending.file, pending.publishedAtMs);
    this.loop ??= this.poll().finally(() => { this.loop = undefined; });
  }

  /** Newer publishes of `files` are on their way, tracked once Envoy answers (baseline-reads.ts): the older ones are not judged. */
  supersede(files: readonly string[]): void {
    for (const file of files) {
      const superseded = this.pending.get(file);
      if (superseded === undefined) continue;
      this.replaced(superseded, undefined, []);
      this.pending.delete(file);
    }
  }

  /** `old` will get no verdict of its own: `next` replaced it (superseded.ts), unless the round judging it concludes it. */
  private replaced(old: Pending, next: Pending | undefined, own: readonly string[]): void {
    if (old === this.judging) this.replacedWhileJudged = { next, own };
    else this.ctx.conclusions.superseded.replace(old, next, own);
  }

  /** Forgets `pending` (concluded, or tried again), not a newer publish of its file that replaced it. */
  private drop(pending: Pending): void {
    if (this.pending.get(pending.file) === pending) this.pending.delete(pending.file);
  }

  /** Resolves once no verdict is pending (at once when none is). */
  async settled(): Promise<void> {
    await this.loop;
    await this.ctx.conclusions.superseded.reported();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.settled();
  }

  /**
   * The other files whose verdict is pending and whose refusal is not set aside: Envoy may not have
   * applied them yet. A file judged with its reader (read-once-verdict.ts) is the reader's, not one of them.
   */
  othersInFlight(file: string): Set<string> {
    return new Set([...this.pending.values()].filter((p) => p.file !== file && p.deferred === undefined && p.reader === undefined).map((p) => p.file));
  }

  private async poll(): Promise<void> {
    while (!this.done()) {
      await this.pause();
      if (this.done()) break; // stopped, or the pending publishes were replaced and concluded
      let counters: EnvoyCounters | undefined;
      // Envoy's answer to a request sent after a publish's renames reflects all of them (pending.ts).
      const sentAt = performance.now();
      const { admin, problem: adminProblem } = this.ctx.admin();
      let problem: string | undefined = admin === undefined ? (adminProblem ?? 'no admin address') : undefined;
      if (admin !== undefined) {
        try {
          counters = await admin.counters(REQUEST_TIMEOUT_MS);
        } catch (err) {
          problem = `Envoy admin ${describeAdmin(admin.address)} unreachable: ${(err as Error).message}`;
        }
      }
      if (counters !== undefined) this.attributed = attribute(counters.subscriptions, this.ctx.subscriptions.facts(), this.attributed);
      await this.ctx.conclusions.superseded.reported(); // a replaced publish's line comes before the verdict on what replaced it
      const now = performance.now();
      for (const pending of [...this.pending.values()]) {
        // Replaced during this round, or tracked during it with a baseline Envoy answered after `counters` (reading-order.ts): the next round's.
        if (this.pending.get(pending.file) !== pending || answeredBefore(counters, pending.baseline)) continue;
        this.judging = pending;
        await this.roundFor(pending, { counters, now, sentAt, admin, problem });
        this.judging = undefined;
        // Replaced while this round judged it, not concluded by it: read as any replaced publish (`supersede` gave no scopes: the file's now).
        const replaced = this.replacedWhileJudged;
        this.replacedWhileJudged = undefined;
        if (replaced !== undefined && !this.finished.has(pending)) this.ctx.conclusions.superseded.replace(pending, replaced.next ?? this.pending.get(pending.file), replaced.next === undefined ? scopesOf(this.attributed, pending.file, []).own : replaced.own);
      }
      if (counters !== undefined && !answeredBefore(counters, this.lastCounters)) this.lastCounters = counters; // not over a newer baseline
    }
  }

  /** One pending file in a round of the poll loop: judged from Envoy's answer (`counters`, read at `sentAt`), then concluded, set aside or left waiting. */
  private async roundFor(pending: Pending, answer: { counters: EnvoyCounters | undefined; now: number; sentAt: number; admin: EnvoyAdmin | undefined; problem: string | undefined }): Promise<void> {
    const { counters, now, sentAt, admin, problem } = answer;
    if (pending.deferred !== undefined) {
      await this.settleDeferred(pending, counters);
      return;
    }
    if (pending.acceptedAside !== undefined) {
      await this.settleAccepted(pending, pending.acceptedAside);
      return;
    }
    if (pending.reader !== undefined) {
      // Judged with its reader's publish (finish): nothing of its own to read from Envoy.
      const state = riderState(pending, this.pending);
      if (state === 'lost') await this.finish(pending, { outcome: 'unknown', judgement: undefined, counters, own: [], now, reason: `the verdict on ${pending.reader.file}, which reads it, came without it` });
      else if (state !== 'wait') pending.reader = { ...pending.reader, sha256: state.adopt };
      return;
    }
    if (pending.secret === undefined && !this.ctx.subscriptions.mayBeRead(pending.file)) {
      this.drop(pending);
      return;
    }
    const { judgement, own } = await judgeOne(this.ctx, this.attributed, pending, counters, now, sentAt > pending.renamedBy);
    if (counters !== undefined && defersRefusal(pending, judgement)) {
      // Set aside only for the files on their way that could change it (refusal-cause.ts).
      const why = await this.ctx.conclusions.reasonFor(pending, judgement);
      const cause = causeOf(this.ctx.subscriptions, pending, judgement, why);
      // Every file on its way was on disk when Envoy applied this one: those it names were renamed before it (reference-order.ts); none was when Envoy read both at its start (read-at-start.ts).
      pending.inFlight = new Set([...pending.inFlight].filter((file) => !readAtSameStart(pending.publishedAtMs, this.publishedAt.get(file), counters.answeredBy?.startedAtMs) && mayDependOn(cause, { ...otherFile(this.ctx.subscriptions, file, pending.file), present: true })));
      if (pending.inFlight.size === 0) {
        await this.finish(pending, { outcome: 'rejected', judgement, counters, own, now, why });
        return;
      }
      pending.deferred = { judgement, counters, own, now, why };
      await this.settleDeferred(pending, counters);
      return;
    }
    if (counters !== undefined && judgement?.outcome === 'accepted' && (pending.clustersGone !== undefined || this.waitsForClusters(pending))) {
      pending.acceptedAside = { judgement, counters, own, now };
      for (const other of this.pending.values()) if (other.inFlight.has(pending.file)) other.inFlightAccepted = true; // Envoy took it
      await this.settleAccepted(pending, pending.acceptedAside);
      return;
    }
    const outcome = judgement?.outcome ?? (now >= pending.deadline || admin === undefined ? 'unknown' : undefined);
    if (outcome === undefined) return;
    const reason = outcome === 'unknown' ? (problem ?? undecidedReason(pending.version, own)) : undefined;
    await this.finish(pending, { outcome, judgement, counters, own, now, ...(reason === undefined ? {} : { reason }) });
  }

  private done(): boolean {
    return this.pending.size === 0 || this.stopped;
  }

  /** Waits before a request as pollDelayMs says (stop() cuts it short). */
  private async pause(): Promise<void> {
    const oldest = Math.min(...[...this.pending.values()].map((p) => p.at));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollDelayMs(performance.now() - oldest, roundTripMs(this.lastCounters)));
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
    this.wake = undefined;
  }

  /**
   * A refusal set aside while other files were on their way (in-flight.ts): wait for their verdicts; then rename the same content again if one
   * was accepted (its verdict is the second answer), else the refusal is the verdict. Never an SDS
   * file: SdsApi skips a Secret whose hash it has (source/common/secret/sds_api.cc).
   */
  private async settleDeferred(pending: Pending, counters: EnvoyCounters | undefined): Promise<void> {
    const deferred = pending.deferred;
    if (deferred === undefined) return;
    const next = afterInFlight(pending, (file) => this.toCome(file, pending, false));
    if (next === 'wait') return;
    const refused: Decided = { outcome: 'rejected', judgement: deferred.judgement, counters: deferred.counters, own: deferred.own, now: deferred.now, ...(deferred.why === undefined ? {} : { why: deferred.why }) };
    if (next === 'conclude' || this.ctx.subscriptions.readAs(pending.file).has('SDS')) {
      await this.finish(pending, refused);
      return;
    }
    this.drop(pending);
    this.ctx.logger.info({ file: pending.file, xdsVersion: pending.version, with: [...pending.inFlight] }, refusedWhileOnTheWay(pending.file, [...pending.inFlight]));
    const ino = await this.ctx.restore(pending.file, pending.content, { ino: pending.ino, sha256: pending.sha256 }).catch((err: unknown) => {
      this.ctx.logger.error({ err, file: pending.file }, `could not publish ${pending.file} again`);
      return undefined;
    });
    if (ino === undefined) {
      // A newer publish replaced it (and is judged), or the rename failed: the refusal stands.
      if (this.pending.has(pending.file)) return;
      this.finished.add(pending);
      await this.ctx.conclusions.conclude(pending, refused);
      return;
    }
    const secret = pending.secret === undefined ? undefined : { sdsFiles: pending.secret.sdsFiles };
    const file: PublishedFile = { name: pending.file, sha256: pending.sha256, content: pending.content, version: pending.version, kind: secret === undefined ? 'xds' : 'data', ino, at: performance.now(), ...(pending.configMap === undefined ? {} : { configMap: pending.configMap }) };
    // Envoy counted this refusal: the verdict on the second try reports it.
    const counter = refusalCounter(deferred.judgement.subscription, deferred.judgement.kind, pending.secret !== undefined);
    const opened = openedScopes(pending.baseline, scopesOf(this.attributed, pending.file, pending.names).named, pending.opened);
    this.ctx.republished(file, secret, counters ?? deferred.counters, { count: (pending.refusedBefore?.count ?? 0) + 1, while: [...pending.inFlight], counter }, opened);
  }

  /** An LDS or RDS file's acceptance waits while a CDS file of its change waits for its verdict (clusters-gone.ts). */
  private waitsForClusters(pending: Pending): boolean {
    return waitsForClusters(pending.file, pending.inFlight, (file) => this.ctx.subscriptions.readAs(file), (file) => this.toCome(file, pending, true));
  }

  /** Whether the verdict on `file`, which `waiter`'s waits for, is still to come (never-read.ts; `deferredToo`: a set-aside refusal is). */
  private toCome(file: string, waiter: Pending, deferredToo: boolean): boolean {
    const { subscriptions, refusedOnDisk, queued } = this.ctx;
    return stillToCome(waitedFor(file, waiter, deferredToo, { pending: this.pending, scopes: (f) => scopesOf(this.attributed, f, []).own.length, namersOf: (f) => subscriptions.namersOf(f), refusedOnDisk, ...(queued === undefined ? {} : { queued }) }));
  }

  /** A set-aside acceptance once the CDS files of its change are judged: accepted, or back with a refused one that took away a cluster it routes to. */
  private async settleAccepted(pending: Pending, aside: NonNullable<Pending['acceptedAside']>): Promise<void> {
    if (this.waitsForClusters(pending)) return;
    const gone = routesToGone(pending.content, pending.clustersGone ?? []);
    await this.finish(pending, gone === undefined ? { outcome: 'accepted', ...aside } : { outcome: 'rejected', ...aside, withRefused: gone });
  }

  /** `refused`, a CDS file Envoy refused, went back to `putBack` (not when a newer publish replaced it): the files of its change learn the clusters that took away. */
  private clustersTakenAway(refused: Pending, putBack: Buffer, now: number, dependsOn: readonly string[] | undefined): void {
    const gone = clustersGoneBy(refused, putBack, dependsOn, this.ctx.conclusions.superseded.configMapAt(now) ?? refused.configMap); // its hold's keys and ConfigMap (conclude.ts)
    if (gone === undefined) return;
    for (const other of this.pending.values()) if (other.inFlight.has(refused.file)) (other.clustersGone ??= []).push(gone);
  }

  /**
   * Carries out a verdict (conclude.ts); an acceptance tells the refusals set aside with it. The
   * files judged with this publish get its outcome: before it when refused (their rollback lands
   * before the reader's), after it otherwise.
   */
  private async finish(pending: Pending, decided: Decided): Promise<void> {
    this.drop(pending);
    this.finished.add(pending);
    const riders = ridersOf(pending, this.pending.values());
    for (const rider of riders) this.pending.delete(rider.file);
    const putBackFrom = decided.outcome === 'rejected' && readAsCds(this.ctx.subscriptions, pending.file) ? await acceptedCopy(this.ctx.targetDir, pending.file) : undefined;
    const { rolledBack, dependsOn } = await concludeWithRiders(this.ctx, pending, decided, riders);
    if (putBackFrom !== undefined && rolledBack) this.clustersTakenAway(pending, putBackFrom, decided.now, dependsOn);
    if (decided.outcome !== 'accepted') return;
    for (const other of this.pending.values()) if (other.inFlight.has(pending.file)) other.inFlightAccepted = true;
  }
}
