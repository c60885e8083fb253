// The sentences a verdict says, in one place: the log line's message, which is also the Event's
// and state.json's. They name the file, the version and what the operator does next.
import type { RejectionReason, SchemaSees } from '../envoy/rejection-reason.js';
import { refusalSentence } from '../envoy/rejection-reason.js';
import { checksAcceptedCopy, checksRefusedCopy } from './validate-hint.js';

/** How a version reads in a message: files without `version_info` say so. */
export const versionText = (version: string | undefined): string => version ?? '(no version_info)';

/**
 * ". Envoy says: ..." or ". Envoy's admin API does not say why; ...", or nothing without a reason;
 * then, for a refusal a schema check sees, the `validate` that names the field and its line (once
 * Envoy's log says so, when only the log tells), and nothing for one no schema sees.
 */
function because(why: RejectionReason | undefined, validate: string | undefined): string {
  const sentence = refusalWords(why, validate);
  return sentence === undefined ? '' : `. ${sentence}`;
}

/** Envoy's reason for a refusal and, when a schema check sees it, the `validate` that names the field: every refusal's line says both alike. */
export function refusalWords(why: RejectionReason | undefined, validate: string | undefined): string | undefined {
  const sentence = why === undefined ? undefined : refusalSentence(why);
  if (sentence === undefined || validate === undefined || why?.schema === undefined) return sentence;
  return `${sentence}; ${validateSentence(why.schema, validate)}`;
}

/**
 * What a refusal a schema check sees says of `validate` (the command, validate-hint.ts): the same
 * words in the verdict's line, its Event and `status`'s WHY lines.
 */
export function validateSentence(schema: SchemaSees, validate: string): string {
  const names = `${validate} names the field and its line${checksRefusedCopy(validate) ? ' in the refused version kept there' : ''}`;
  return schema === 'sees' ? names : `if it says "Proto constraint validation failed", ${names}`;
}

/**
 * When Envoy counted unknown fields that its one counter for the process cannot pin on one file:
 * `start`, while it loaded the files found at its start (a fresh Pod, a restarted Envoy); `change`,
 * while it loaded the file with the others of its change (renamed in the same pass, or still on
 * their way), refused ones too: Envoy counts an unknown field while it parses a file, before it
 * judges it (`FilesystemSubscriptionImpl::refreshInternal` runs `MessageUtil::loadFromFile` with
 * the validation visitor, then `onConfigUpdate`, in
 * source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc; measured on
 * 1.40: a misspelt listener on port 70000 counts 1 and is refused).
 */
export type IgnoredWhen = 'start' | 'change';

/** Where the fields are, as the log line, the Event and `status` all say it (one rule); the files follow in parentheses. */
export const ignoredAmongWhere = (when: IgnoredWhen | undefined): string =>
  when === 'change' ? 'one of the files of its change' : 'one of the files Envoy loaded at start';

/** `among`: the files Envoy loaded together (at start or as one change, `when`), any of which holds the fields (verdict.ts ignoredAmong). */
export const ignoredText = (n: number | undefined, among?: readonly string[], when?: IgnoredWhen): string =>
  n === undefined || n === 0 ? '' : `, ignored unknown fields${among === undefined ? '' : ` in ${ignoredAmongWhere(when)} (${among.join(', ')})`} (Envoy counted ${String(n)})`;

/**
 * `validate` is the command that checks this file as Envoy loaded it (validate-hint.ts: the copy
 * kept under the state directory, else the ConfigMap's own key; lines are the key's either way). `ignoredFields` is what
 * `server.dynamic_unknown_fields` moved by: Envoy counts a file's unknown fields as one when its
 * parse names only the first, so the sentence gives it as Envoy's count, not the number of fields.
 * `among`: the fields were counted while Envoy loaded several files, any of which may hold them
 * (ignoredAmongWhere); `among.validate` checks them all.
 */
export function acceptedMessage(
  file: string,
  version: string | undefined,
  latencyMs: number,
  ignoredFields = 0,
  validate = `envoy-xds-injector validate ${file}`,
  among?: { files: readonly string[]; validate: string; when?: IgnoredWhen },
): string {
  const accepted = `Envoy accepted ${file} version ${versionText(version)} in ${String(latencyMs)} ms`;
  if (ignoredFields === 0) return accepted;
  const counted = `Envoy counted ${String(ignoredFields)} in server.dynamic_unknown_fields; a misspelt or unsupported setting is not applied`;
  const log = `Envoy's log names the first it met: grep "Unknown field"`;
  if (among !== undefined) {
    return `${accepted}; Envoy ignored unknown fields in ${ignoredAmongWhere(among.when)} (${among.files.join(', ')}; ${counted}): ${among.validate} names them all, ${log}`;
  }
  const kept = checksAcceptedCopy(validate) ? ' in the version Envoy loaded, kept there' : '';
  return `${accepted}, but ignored unknown fields in it (${counted}): ${validate} names them all${kept}, ${log}`;
}

/**
 * Why an edit is refused when Envoy took the file but refused what a subscription it opened read;
 * `route`: the route configuration that file lacks, which the subscription asks for (RDS:
 * RdsRouteConfigSubscription::onConfigUpdate logs the name it expected).
 */
export function openedRefusal(file: string, statPrefix: string, named: string, route?: string): string {
  const lacks = route === undefined ? '' : `, which lacks the route configuration ${route} ${file} names (Envoy's log: "Unexpected RDS configuration (expecting ${route})")`;
  return `Envoy took ${file} but the subscription it opened (${statPrefix}) refused ${named}${lacks}: Envoy would run without it`;
}

/**
 * The line of a refusal set aside while `others` of the same change were on their way (in-flight.ts),
 * once they are applied and one was accepted: the same content is renamed again. Never said of
 * files Envoy read together at its start (read-at-start.ts): none of them was on its way.
 */
export function refusedWhileOnTheWay(file: string, others: readonly string[]): string {
  const one = others.length === 1;
  return `Envoy refused ${file} while ${others.join(', ')} of the same change ${one ? 'was still on its way' : 'were still on their way'} (Envoy applies the files of one change in an order of its own); publishing it again for Envoy to judge now that ${one ? 'it is' : 'they are'} applied`;
}

/** After this Envoy accepted `file`: the ConfigMap's content another Pod's Envoy refused is published for this one to judge. */
export function retryFromStoreMessage(file: string, version: string | undefined, refusedVersion: string | undefined, refusedIn: string | undefined): string {
  return `Envoy runs ${file} version ${versionText(version)}, the last accepted; now publishing the ConfigMap's version ${versionText(refusedVersion)}, which Envoy refused in Pod ${refusedIn ?? '(unknown)'}, for this Envoy to judge`;
}

/**
 * What the Envoy that refused `version` of a file runs of it, from what its subscriptions report for
 * the file now (`running`: their `version_text`; undefined when not read), against `previousVersion`,
 * the last version recorded accepted. A file subscription changes `version_text` only when it
 * accepts an update (filesystem_subscription_impl.cc), so:
 * - `last`: it reports that version (or was not read; or reports `version`: a refusal by a
 *   subscription this edit opened, after the file's own took it);
 * - `none`: it reports `''`: this process accepted no version of the file (it restarted and refused
 *   the file it loaded from disk at start): it never loaded the last accepted version;
 * - `other`: it reports another version it accepted: one published after `previousVersion` whose
 *   verdict never came (a newer publish replaced it first; fresh-user trial, rapid good/bad/fix
 *   edits), so it did load a version, the later one. Pure.
 */
export type RunsOfFile = { kind: 'last' } | { kind: 'none' } | { kind: 'other'; version: string };

export function runsOfFile(running: string | undefined, previousVersion: string | undefined, version: string | undefined): RunsOfFile {
  if (running === undefined || previousVersion === undefined || running === previousVersion || running === version) return { kind: 'last' };
  return running === '' ? { kind: 'none' } : { kind: 'other', version: running };
}

/**
 * A refused version that a newer publish replaced on disk before anything was put back for it, in
 * one wording: the line of a publish replaced before its verdict (superseded-fate.ts) and that of
 * a refusal whose rollback found the newer file (rejectedMessage).
 */
export const REPLACED_BY_NEWER = 'a newer publish replaced it on disk first, so nothing is rolled back for it (the ConfigMap has moved on)';

/** Where the refused content is kept (state.ts refused/<file>), in every line that says it. */
export const refusedKeptAt = (at: string | undefined): string => `refused content kept at ${at ?? '(not kept)'}`;

export function rejectedMessage(opts: {
  file: string;
  version: string | undefined;
  previousVersion: string | undefined;
  rolledBack: boolean;
  refusedAt: string | undefined;
  why: RejectionReason | undefined;
  /** The `validate` of this file of the ConfigMap (validate-hint.ts), said when a schema check sees the refusal. */
  validate?: string;
  /**
   * Set when the Envoy that refused does not run `previousVersion` (runsOfFile `none`): its process
   * never loaded it (it started since, and loaded the refused file from disk). `applied` says what
   * it runs instead (applied.ts appliedSentence, as for a first refusal).
   */
  notRunning?: { applied: string };
  /** Set when the Envoy that refused runs another version it accepted, published after `previousVersion` (runsOfFile `other`). */
  runsLater?: string;
}): string {
  const { file, previousVersion, rolledBack, refusedAt, why, validate, notRunning, runsLater } = opts;
  const v = versionText(opts.version);
  const last = previousVersion ?? 'the last accepted version';
  const kept = `${refusedKeptAt(refusedAt)}; fix the ConfigMap${because(why, validate)}`;
  const replaced = `${REPLACED_BY_NEWER}${refusedAt === undefined ? '' : `; ${refusedKeptAt(refusedAt)}`}${because(why, validate)}`;
  if (runsLater !== undefined) {
    const later = `it keeps running ${runsLater}, a later version it accepted (published after ${last}, before any verdict on it was recorded)`;
    return rolledBack
      ? `Envoy rejected ${file} version ${v}: ${later}; ${last}, the last version judged accepted, is put back on disk and Envoy loads it; ${kept}`
      : `Envoy rejected ${file} version ${v}; ${later}; ${replaced}`;
  }
  if (notRunning !== undefined) {
    return rolledBack
      ? `Envoy rejected ${file} version ${v}: ${notRunning.applied}, as this Envoy process never loaded the last accepted version ${last}; ${last} is put back on disk for this Envoy to load; ${kept}`
      : `Envoy rejected ${file} version ${v}: ${notRunning.applied}, as this Envoy process never loaded the last accepted version ${last}; ${replaced}`;
  }
  return rolledBack
    ? `Envoy rejected ${file} version ${v}: it keeps running ${last}, which is back on disk for the next Envoy start; ${kept}`
    : `Envoy rejected ${file} version ${v}; it keeps running ${last}; ${replaced}`;
}

/**
 * A refused version of a file no version of which was accepted before, as every form of the verdict
 * says it (log line, Event, `status`). Not "the first version": Envoy may have refused earlier ones
 * (a first start refused, then an edit refused too), and the first it saw is not this one.
 */
export const REFUSED_FIRST = 'Envoy refused it, and no version of it was accepted before, so there is nothing to put back: it stays published';
/** The same, in `status`'s CONFIGMAP column. */
export const REFUSED_FIRST_SHORT = 'refused, stays published: nothing accepted came before it';

/**
 * What a refused file that stays published means for a restarted Envoy (`read`: named-on-disk.ts):
 * it refuses it again while a published file names it; when none does (the one that named it goes
 * back to an accepted version that does not), nothing reads it. Undefined `read`: not known which
 * files name it (Envoy's bootstrap may), said as Envoy reading it. Pure.
 */
export function restartSentence(read: { named: readonly string[]; goingBack: readonly string[] } | undefined): string {
  if (read === undefined || read.named.length > 0) return 'a restarted Envoy will refuse it again';
  if (read.goingBack.length === 0) return 'no published file names it now, so a restarted Envoy does not read it';
  const back = read.goingBack.join(', ');
  return `no published file names it once ${back}, which ${read.goingBack.length === 1 ? 'names' : 'name'} it, ${read.goingBack.length === 1 ? 'goes' : 'go'} back to the last accepted version, so a restarted Envoy does not read it`;
}

/**
 * Envoy refused `version` of a file no version of which was accepted before (the watcher keeps no
 * accepted copy): nothing to roll back to. It names the version refused now, which need not be the
 * first Envoy saw (fresh-user trial: a first start refused, then a fix refused too, was said "THE
 * FIRST VERSION ... it saw" of the fix). `applied`: what Envoy runs of it (applied.ts
 * appliedSentence, read from Envoy's admin API for LDS and CDS); `read`: which published files
 * name it (restartSentence).
 */
export function firstRefusedMessage(
  file: string,
  version: string | undefined,
  why: RejectionReason | undefined,
  applied = `Envoy runs WITHOUT the resources of ${file}`,
  validate?: string,
  read?: { named: readonly string[]; goingBack: readonly string[] },
): string {
  return `Envoy REFUSED ${file} version ${versionText(version)}, and no version of ${file} was accepted before it, so there is nothing to put back: it stays published; ${applied}, and ${restartSentence(read)}; fix the ConfigMap${because(why, validate)}`;
}

export function unknownMessage(file: string, version: string | undefined, reason: string | undefined): string {
  return `Envoy's verdict on ${file} version ${versionText(version)} is unknown: ${reason ?? 'no answer'}`;
}

/**
 * Why a verdict is unknown when Envoy answered but never decided. With no `statPrefixes`, no
 * subscription of Envoy's was found reading the file (measured with Envoy 1.40: an eds.yaml named
 * by a cluster Envoy refused, an rds.yaml named by scopes it refused), which the line says rather
 * than ending on an empty list.
 */
export function undecidedReason(version: string | undefined, statPrefixes: readonly string[]): string {
  if (statPrefixes.length === 0) return `Envoy reported version ${version ?? '(none)'} nowhere, and none of its subscriptions was found reading this file (the resource naming it may be refused, or not built yet)`;
  return `Envoy reported neither version ${version ?? '(none)'} nor a failed update for ${statPrefixes.join(', ')}`;
}

/**
 * What Envoy runs of a file read through another: `accepted`, the content the watcher recorded
 * accepted with its reader (state.ts `accepted`: Envoy built the reader with it, and a later content
 * is published only with a reader Envoy builds again, or goes back), as `status` names contents
 * (`sha256:<12>`); `none`, judged but never accepted (refused with its reader, or never decided: a
 * reader Envoy did not build), so no version of it is known to run.
 */
export type WithReader = { accepted: string; at: string } | { none: true };

/** The ENVOY RUNS cell of a file read through another (status.ts runsWithReader), in the Pod's and the workload's table. */
export const withReaderText = (w: WithReader): string => ('none' in w ? '(none accepted with its reader)' : `${w.accepted} (accepted with its reader)`);
