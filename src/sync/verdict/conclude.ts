// What follows a verdict (IO): the copies kept (accepted/, refused/), the rollback of a refused file
// to the last version Envoy accepted, the hold on refused content, the log line, the state entry
// and the listeners (Events, the last-accepted store). The tracker (tracker.ts) decides the outcome;
// this file carries it out.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { appliedSentence, readApplied, runningIfKept } from './applied.js';
import type { ClustersGone } from './clusters-gone.js';
import type { Holds } from './holds.js';
import { ignoredFieldsOf, UnknownFieldsSaid } from './unknown-fields-said.js';
import type { IgnoredSaid } from './unknown-fields-said.js';
import type { Judgement } from './judge.js';
import { acceptedMessage, firstRefusedMessage, refusalWords, rejectedMessage, retryFromStoreMessage, runsOfFile, unknownMessage } from './messages.js';
import { acceptedBefore } from './accepted-before.js';
import type { VerdictOptions } from './options.js';
import type { Pending } from './pending.js';
import { namedOnDisk, readByNothing } from './named-on-disk.js';
import { loadedCopyHint } from './loaded-copy.js';
import { riderNote } from './read-once-verdict.js';
import { strandedMessage, strandedRoutesOf } from './routes-stranded.js';
import { refusedAcceptedMessage } from './refused-kept.js';
import type { StrandedRoutes } from './routes-stranded.js';
import { refusedBeforeNote } from './refusal-cause.js';
import { contentVersion } from '../envoy/version-stamp.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import { putBack, whatGoesBack } from './put-back.js';
import { withdraw } from './withdrawn.js';
import { rereadNote } from './sds-reread.js';
import type { ReasonReader } from './reason.js';
import { refusedKey } from './refused-versions.js';
import { acceptedCopy, refusalWhy, refusedPath } from './state.js';
import { SupersededPublishes } from './superseded.js';
import { ownRefusals } from './superseded-fate.js';
import { verdictValidateHint } from './validate-hint.js';
import { reasonFieldsOf, tell, validateFieldsOf, verdictForms } from './verdict.js';
import type { Outcome } from './verdict.js';
import type { VerdictContext } from './conclude-context.js';

/** What Envoy answered when the outcome was decided. */
export interface Decided {
  outcome: Outcome;
  judgement: Judgement | undefined;
  counters: EnvoyCounters | undefined;
  /** The stats scopes that read the file. */
  own: readonly string[];
  /** performance.now() of the answer. */
  now: number;
  /** Why the outcome is `unknown`. */
  reason?: string;
  /** Envoy's reason for a refusal, when already read (the reader's, read once for it and its riders). */
  why?: RejectionReason;
  /**
   * A rider (read-once-verdict.ts) of a refused reader that Envoy did not judge: it goes back with
   * its reader (the running Envoy keeps the old resource, which runs the old rider) with outcome
   * `unknown`, and this says why (after "<file> rolled back with ").
   */
  withReader?: string;
  /** A refused rider: Envoy's reason does not say which of the files read with the reader it refused (riderBlame), in words for the message. */
  unproven?: string;
  /** The other keys whose change could change the refusal (refusal-cause.ts; undefined: any). */
  dependsOn?: readonly string[];
  /** An accepted rider of a refused reader file: the listeners Envoy runs that read it (riderBlame `acceptedWith`), in words for the message. */
  because?: string;
  /** A rider put back with `withReader` because Envoy kept its reader as it runs (reader-kept.ts): what holding it back says. */
  kept?: string;
  /** Envoy took it, but it goes back with a refused CDS file of its change whose put-back takes away clusters it routes to (clusters-gone.ts). */
  withRefused?: { by: ClustersGone; clusters: string[]; unchecked?: true };
}

export interface ConcludeContext extends VerdictContext {
  options: Pick<VerdictOptions, 'sourceDir' | 'targetDir' | 'restore' | 'resync' | 'validateHint' | 'refusedValidateHint'>;
  holds: Holds;
  reasons: ReasonReader;
  /** The published files Envoy reads as LDS or RDS (subscription-map.ts), for an accepted CDS file's stranded routes. */
  routeFiles: () => string[];
  /** Refused contents that stay published renamed again (refused-retry.ts): after Envoy accepted `accepted`, or refused `refused` (renamed at `sinceMs`, epoch ms). */
  retryRefused?: (after: { accepted: string } | { refused: string; sinceMs: number }) => void;
}

export class Conclusions {
  /** What verdicts said of `server.dynamic_unknown_fields`, and the files loaded at start or at Envoy's restart. */
  private readonly unknownFields = new UnknownFieldsSaid();

  /** Publishes a newer one replaced before their verdict (poll.ts): what Envoy did with them, and what a rollback may go back to. */
  readonly superseded: SupersededPublishes;

  constructor(private readonly ctx: ConcludeContext) {
    // `key`: the refused content's (refused-versions.ts), the copy its line names.
    this.superseded = new SupersededPublishes({ ...ctx, targetDir: ctx.options.targetDir, validateHint: (file, key?: string) => this.validateHint(file, true, key) });
  }

  /** The `validate` a message suggests (validate-hint.ts verdictValidateHint). */
  private validateHint(file?: string, refused = false, key?: string, kind?: 'accepted'): string {
    return verdictValidateHint(this.ctx.options, file, refused, key, kind);
  }

  /**
   * The files found at start on a fresh Pod (`copy` published them, then Envoy read them): Envoy
   * refuses unknown fields in its bootstrap, so `server.dynamic_unknown_fields` counted before any
   * baseline came from these files, and their first accepted verdict says so.
   */
  foundAtStart(files: readonly string[]): void {
    this.unknownFields.foundAtStart(files);
  }

  /**
   * Envoy restarted under the watcher (envoy-process.ts): what it says of Envoy's listener errors
   * ends with the old process, and a count of unknown fields the new one made since it started
   * (when it restarted after a publish's baseline) may be that of any file it loaded at start.
   */
  envoyRestarted(loaded: readonly string[]): void {
    this.ctx.reasons.forget();
    this.unknownFields.envoyRestarted(loaded);
  }

  /** For the riders of a refused reader file: what Envoy runs of it when it stays published (applied.ts runningIfKept). */
  runningIfKept(pending: Pending, why: RejectionReason | undefined): Promise<readonly string[] | undefined> {
    return runningIfKept(this.ctx.admin(), this.ctx.options.targetDir, pending, why);
  }

  /** Envoy's reason for refusing `pending` (reason.ts), read once: pass it on as `Decided.why`. */
  reasonFor(pending: Pending, judgement: Extract<Judgement, { outcome: 'rejected' }>): Promise<RejectionReason> {
    return this.ctx.reasons.refused(this.ctx.admin(), pending, judgement, this.ctx.pathOf);
  }

  /** Carries out `decided` for `pending`; says whether a version went back on disk. */
  async conclude(pending: Pending, decided: Decided): Promise<{ rolledBack: boolean }> {
    const { outcome, judgement, counters: envoy, own, now } = decided;
    const { file, version } = pending;
    // What the lines and `status` call this content: a certificate or key carries no version_info.
    const shown = version ?? contentVersion(pending.sha256);
    const { logger, state, holds, kept: keeper } = this.ctx;
    const { targetDir } = this.ctx.options;
    const entry = (state.files[file] ??= {});
    let previousVersion = entry.accepted?.version;
    const previousAccepted = entry.accepted;
    const at = new Date().toISOString();
    const latencyMs = Number((now - pending.at).toFixed(2));
    const live = own.filter((prefix) => !pending.gone.has(prefix));
    const counters = Object.fromEntries(live.map((prefix) => [prefix, envoy?.subscriptions.get(prefix)]));
    const reported = live.map((prefix) => envoy?.subscriptions.get(prefix)?.versionText).filter((v): v is string => v !== undefined);
    const running = reported.find((v) => v === version) ?? reported[0];
    if (running !== undefined) entry.envoy = { version: running, at };
    await this.superseded.judged(pending, outcome, envoy, live); // a publish this one replaced, unread until now: its line first
    // The subscriptions as Envoy names them, for `status` (those Envoy no longer uses left out).
    entry.subscriptions = live.flatMap((statPrefix) => {
      const type = subscriptionType(statPrefix);
      return type === undefined ? [] : [{ type, statPrefix }];
    });
    let rolledBack = false;
    let message: string;
    let why: RejectionReason | undefined;
    let ignored: IgnoredSaid = { ignored: 0, among: undefined };
    let stranded: StrandedRoutes[] = [];
    let namedByNone = false; // refused, nothing accepted before, and no published file names it (readByNothing)
    // A refused content is kept under a name of its own too (its key: the digest its version shows), which its line and `validate` name.
    const key = outcome === 'rejected' ? refusedKey(version, pending.sha256) : undefined;
    // Refusals Envoy counted before this verdict, in the same publish (in-flight.ts): said and counted.
    const before = pending.refusedBefore === undefined ? {} : { refusedBefore: pending.refusedBefore.count };
    // A pass published again (baseline-reads.ts settle) may be read and refused twice: each refusal Envoy counted is said.
    const refusals = outcome === 'rejected' ? ownRefusals(pending, envoy, live, this.superseded.publishes(file)) ?? 0 : 0;
    const logFields = { event: 'verdict', file, outcome, xdsVersion: version, previousXdsVersion: previousVersion, ...(pending.reader === undefined ? {} : { judgedWith: pending.reader.file }), ...(refusals > 1 ? { refusals } : {}), ...before };
    const note = (pending.reader === undefined ? '' : riderNote(file, pending.reader.file)) + ((decided.unproven ?? decided.because) === undefined ? '' : `; ${decided.unproven ?? decided.because ?? ''}`) + (pending.refusedBefore === undefined ? '' : refusedBeforeNote(pending.refusedBefore));

    // LDS and CDS keep the resources of a refused update that succeeded: say what Envoy runs (applied.ts).
    const applied = async (): Promise<string> => {
      const type = own.map(subscriptionType).find((t) => t !== undefined) ?? (judgement?.outcome === 'rejected' && judgement.created === undefined ? subscriptionType(judgement.subscription) : undefined);
      const read = pending.secret === undefined ? await readApplied(this.ctx.admin(), type, pending.content, version, REQUEST_TIMEOUT_MS, pending.publishedAtMs) : { kind: 'not-known' as const };
      return appliedSentence(file, judgement?.outcome === 'rejected' && judgement.created !== undefined ? { kind: 'opened', statPrefix: judgement.subscription, named: judgement.created.file } : read);
    };
    if (outcome === 'accepted') {
      const before = own.some((prefix) => subscriptionType(prefix) === 'CDS') ? await acceptedCopy(targetDir, file).catch(() => undefined) : undefined; // what a CDS version removes
      // Kept from the bytes published when a newer publish already replaced the file: Envoy runs
      // this version, so a refusal of the newer one goes back to it (measured on 1.40: rapid swaps
      // rolled back to the version before, which Envoy then loaded).
      const kept = await keeper.keepJudged('accepted', pending, logger);
      if (kept) entry.accepted = { ...(version === undefined ? {} : { version }), sha256: pending.sha256, at };
      // Still held (the ConfigMap still has the refused content): keep the record across restarts.
      if (!holds.has(file)) delete entry.refused;
      delete entry.keptByReader;
      this.ctx.reasons.accepted(live);
      // Fields Envoy ignored in this update (unknown-fields-said.ts); a hint names the kept copy of what Envoy loaded.
      ignored = this.unknownFields.accepted(pending, envoy);
      const { among } = ignored;
      const loaded = ignored.ignored > 0 && among === undefined ? await loadedCopyHint(keeper, pending, (f, k) => this.validateHint(f, true, k, 'accepted'), logger) : undefined;
      // Routes left naming a cluster this version removed (routes-stranded.ts): accepted, with a warning.
      stranded = await strandedRoutesOf(pending.content, { previous: before, earlier: entry.verdict?.strandedRoutes, routeFiles: this.ctx.routeFiles(), read: (f) => readFile(join(targetDir, f)), admin: this.ctx.admin(), timeoutMs: REQUEST_TIMEOUT_MS });
      const reread = judgement?.outcome === 'accepted' && judgement.reread === true ? rereadNote(own, pending.names) : '';
      message = acceptedMessage(file, shown, latencyMs, ignored.ignored, loaded ?? this.validateHint(file), among === undefined ? undefined : { ...among, validate: this.validateHint() }) + reread + strandedMessage(file, shown, stranded) + note;
      logger[ignored.ignored > 0 || stranded.length > 0 ? 'warn' : 'info']({ ...logFields, latencyMs, rolledBack, ...ignoredFieldsOf(ignored), ...(stranded.length === 0 ? {} : { strandedRoutes: stranded }) }, message);
      // This Envoy runs the accepted version `copy` started it from: now let it judge, once, the
      // ConfigMap's content another Pod's Envoy refused (its image or bootstrap may differ). A
      // refusal rolls back to what runs; an acceptance ends the detour.
      if (holds.acceptedHere(file)) {
        logger.info(
          { file, xdsVersion: entry.refused?.version ?? '(no version_info)', refusedIn: entry.refused?.fromStore },
          retryFromStoreMessage(file, version, entry.refused?.version, entry.refused?.fromStore),
        );
        delete entry.refused;
        this.ctx.options.resync?.();
      }
      // Envoy's configuration changed: content it refused in another file may load now. Not when a
      // restarted watcher finds on disk what Envoy had accepted already: Envoy took nothing new
      // (fresh-user trial: each watcher restart published the refused file again, refused again).
      const tookNothingNew = acceptedBefore(pending, previousAccepted);
      const released = tookNothingNew ? [] : holds.otherAccepted(file);
      if (released.length > 0) {
        logger.info({ files: released, after: file }, `${released.join(', ')}: Envoy accepted ${file}; publishing the refused version again for Envoy to judge`);
        this.ctx.options.resync?.();
      }
      if (!tookNothingNew) this.ctx.retryRefused?.({ accepted: file }); // refused contents that stay published (refused-kept.ts)
    } else if (outcome === 'rejected' && decided.withRefused !== undefined) {
      ({ rolledBack, message } = await withdraw({ ...this.ctx, targetDir, restore: this.ctx.options.restore }, pending, decided.withRefused, entry, shown, previousVersion, at));
      logger.error({ ...logFields, latencyMs, rolledBack, withdrawnWith: decided.withRefused.by.file, clusters: decided.withRefused.clusters }, message);
    } else if (outcome === 'rejected' && previousAccepted?.sha256 === pending.sha256) {
      // Envoy refused the version it accepted before (a restarted Envoy lacks a cluster it routes to): nothing older goes back (refused-kept.ts).
      why = decided.why ?? (judgement?.outcome === 'rejected' ? await this.reasonFor(pending, judgement) : undefined);
      entry.refused = { ...(version === undefined ? {} : { version }), sha256: pending.sha256, at, ...(decided.dependsOn === undefined ? {} : { dependsOn: [...decided.dependsOn] }) };
      const words = refusalWords(why, this.validateHint(file));
      message = refusedAcceptedMessage(file, shown, await applied(), words === undefined ? '' : `. ${words}`) + note;
      logger.error({ ...logFields, latencyMs, rolledBack, counters, ...reasonFieldsOf(why) }, message);
      this.ctx.retryRefused?.({ refused: file, sinceMs: pending.publishedAtMs });
    } else if (outcome === 'rejected') {
      why = decided.why ?? (judgement?.outcome === 'rejected' ? await this.reasonFor(pending, judgement) : undefined);
      // Nothing when Envoy runs a publish renamed after this one; else a replaced version Envoy runs, or the last accepted (put-back.ts).
      const back = whatGoesBack({ running, previousVersion, refused: pending, publishes: this.superseded.publishes(file), replaced: (v) => this.superseded.ran(file, v) !== undefined });
      // Kept as the accepted one is: by link while published, else its bytes (a newer publish replaced it, another filesystem);
      // its bytes when Envoy runs a newer publish (that one may carry this one's inode number, freed and reused).
      const kept = back.kind === 'nothing' ? await keeper.keepVersion('refused', file, { content: pending.content, key }).then(() => true, () => false) : await keeper.keepJudged('refused', { ...pending, key }, logger);
      const ran = back.kind === 'replaced' ? this.superseded.ran(file, back.version) : undefined;
      if (ran !== undefined && (await keeper.keepVersion('accepted', file, { content: ran.content }).then(() => true, () => false))) {
        entry.accepted = { version: running, sha256: ran.sha256, at };
        previousVersion = logFields.previousXdsVersion = running;
      }
      const accepted = await acceptedCopy(targetDir, file);
      const refusedAt = !kept ? undefined : key === undefined ? refusedPath(targetDir, file) : keeper.refusedVersionPath(file, key);
      entry.refused = { ...(version === undefined ? {} : { version }), sha256: pending.sha256, at, ...(decided.dependsOn === undefined ? {} : { dependsOn: [...decided.dependsOn] }) };
      delete entry.keptByReader;
      if (back.kind === 'nothing') {
        // Not held either: the ConfigMap has moved on (as for a refusal superseded.ts reports).
        message = rejectedMessage({ file, version: shown, previousVersion, rolledBack, refusedAt, why, validate: this.validateHint(file, true, key), runsLater: back.runs }) + note;
        logger.error({ ...logFields, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFieldsOf(why) }, message);
      } else if (accepted !== undefined) {
        // What an Envoy that never ran the last accepted version runs instead is read before the
        // rollback's rename makes it load that one.
        const runs = runsOfFile(running, previousVersion, version);
        const notRunning = runs.kind === 'none' ? { applied: await applied() } : undefined;
        // Held before the rollback's rename: a pass queued behind it must find the hold (measured:
        // the pass of the next swap ran between the two and published the refused content again).
        holds.hold(file, pending.sha256, false, pending.names, this.superseded.configMapAt(now) ?? pending.configMap, decided.dependsOn); // what Envoy read with it
        rolledBack = await putBack(this.ctx.options.restore, logger, file, accepted, pending);
        if (rolledBack) await this.unknownFields.rolledBack(this.ctx.admin(), envoy);
        message = rejectedMessage({ file, version: shown, previousVersion, rolledBack, refusedAt, why, validate: this.validateHint(file, true, key), ...(notRunning === undefined ? {} : { notRunning }), ...(runs.kind === 'other' ? { runsLater: runs.version } : {}) }) + note;
        logger.error({ ...logFields, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFieldsOf(why) }, message);
      } else {
        const read = await namedOnDisk(targetDir, file, pending.baseline, judgement);
        message = firstRefusedMessage(file, shown, why, await applied(), this.validateHint(file, true, key), read) + note;
        namedByNone = readByNothing(read);
        logger[namedByNone ? 'error' : 'fatal']({ ...logFields, latencyMs, rolledBack, refused: refusedAt, counters, ...reasonFieldsOf(why) }, message);
        this.ctx.retryRefused?.({ refused: file, sinceMs: pending.publishedAtMs });
      }
    } else if (decided.withReader !== undefined) {
      // Not judged, but it goes back with its reader: no hold (the ConfigMap's content is not refused).
      const accepted = await acceptedCopy(targetDir, file);
      if (accepted !== undefined) {
        rolledBack = await putBack(this.ctx.options.restore, logger, file, accepted, pending);
      }
      message = `${file} version ${shown} ${rolledBack ? 'rolled back' : 'published'} with ${decided.withReader}`;
      logger.warn({ ...logFields, rolledBack, ...(decided.kept === undefined ? {} : { keptReader: true }) }, message);
      // Envoy kept the reader: the next pass holds the ConfigMap's content back, saying why (read-once-pass.ts).
      if (decided.kept !== undefined) {
        entry.keptByReader = { sha256: pending.sha256, message: decided.kept, at };
        if (rolledBack) this.ctx.options.resync?.();
      }
    } else {
      message = unknownMessage(file, shown, decided.reason) + note;
      logger.warn({ ...logFields, rolledBack }, message);
    }
    const forms = verdictForms(
      { file, version, sha256: pending.sha256, previousVersion, at },
      { outcome, rolledBack, latencyMs, message, ...reasonFieldsOf(why), ...validateFieldsOf(why, this.validateHint(file, true, key)), ...ignoredFieldsOf(ignored), ...(stranded.length === 0 ? {} : { strandedRoutes: stranded }), ...(outcome === 'rejected' && decided.withRefused !== undefined ? { withdrawnWith: decided.withRefused.by.file } : {}), ...(namedByNone ? { namedByNone: true as const } : {}) },
    );
    // The state names the content judged, so that `status` tells a verdict on an earlier certificate from one on the ConfigMap's.
    entry.verdict = { ...forms.kept, version: shown };
    // Why Envoy refused it, kept with the refusal (a restarted watcher's verdict on the rolled-back file replaces this one).
    const refusal = outcome === 'rejected' ? refusalWhy(forms.kept) : {};
    if (outcome === 'rejected' && entry.refused !== undefined) entry.refused = { ...entry.refused, ...(Object.keys(refusal).length === 0 ? {} : { why: refusal }) };
    if (pending.reader !== undefined && outcome === 'rejected') entry.refusedWithReader = { version: shown, reader: pending.reader.file, at, ...(Object.keys(refusal).length === 0 ? {} : { why: refusal }) };
    else if (outcome === 'accepted' && entry.refusedWithReader?.version === shown) delete entry.refusedWithReader;
    tell(this.ctx.listeners, forms.verdict, (err) => { logger.error({ err }, 'verdict listener failed'); });
    this.ctx.stateFile.save();
    return { rolledBack };
  }
}

