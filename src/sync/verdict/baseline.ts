// Which reading of Envoy's counters a pass's files are judged against (the baseline, judge.ts).
// It must be Envoy's answer to a request sent after every earlier rename into the target and
// holding nothing Envoy counted for this pass's renames: then it holds everything Envoy counted for
// earlier renames, whatever order Envoy handles the inotify events and the admin request in. A
// reading kept from an earlier verdict does not qualify: Envoy's counters move without a rename of
// ours too (a subscription created by another source of config, the `update_attempt` every
// FilesystemSubscriptionImpl::updateResourceInterest adds, every rename into a `watched_directory`,
// an Envoy restart), and proving none happened costs a request of its own.
// What can be gained is when the request goes, and what waits for it. It goes as soon as the
// watcher is told of a change, so Envoy answers while the pass reads, validates and stages. A pass
// of plain xDS files need not wait for the answer: it renames at once, and the answer is its
// baseline if it reads exactly as the last reading answered before the first rename (nothing the
// verdict reads moved in between, so none of the pass's reloads is in it: Envoy counts a reload's
// `update_attempt` first thing, FilesystemSubscriptionImpl::refresh, and a cert re-read of an SDS
// secret moves `ssl_context_update_by_sds` or `key_rotation_failed`, SdsApi::onWatchUpdate; Envoy
// builds a `/stats` answer in one pass of its main thread, AdminFilter::onComplete, where reloads
// run too). Otherwise the pass's files are renamed once more, the same content, and judged against
// that answer: it came before the second rename, and every reload since reads that content.
import type { EnvoyCounters, SubscriptionCounters } from '../envoy/stat-prefixes.js';
import type { PassShape } from '../publish/pass-result.js';

/**
 * Where the pass's baseline comes from: `sent`, Envoy's answer to the request sent for this pass
 * when the watcher was told of the change, if nothing was renamed into the target since it was sent
 * (`sentAtRenames`: renames into the target then, undefined: none sent; `renamesNow`: just before
 * the pass's first rename); else `ask`: a request now, as it did not qualify.
 */
export function baselineSource(sentAtRenames: number | undefined, renamesNow: number): 'sent' | 'ask' {
  return sentAtRenames === renamesNow ? 'sent' : 'ask';
}

/**
 * Whether a pass may rename before Envoy answered its baseline request: only xDS files that name
 * no other file and wait for nothing, so that renaming them once more (lateBaseline) makes Envoy
 * judge exactly them again. A bootstrap, a file read once, a named file or a wait: the pass waits.
 */
export function mayRenameFirst(pass: PassShape): boolean {
  return pass.kinds.length > 0 && pass.kinds.every((kind) => kind === 'xds') && !pass.namesFiles && !pass.waits;
}

function sameSubscription(a: SubscriptionCounters, b: SubscriptionCounters): boolean {
  return a.attempt === b.attempt && a.success === b.success && a.rejected === b.rejected && a.failure === b.failure && a.versionText === b.versionText && a.keyRotationFailed === b.keyRotationFailed;
}

/**
 * Whether two readings of Envoy's counters read alike for the verdict: the same process (epoch),
 * the same subscriptions with the same counters and version, the same ignored-field and SDS
 * counts. Every one of them only moves when Envoy (re)loads something, and never goes back.
 */
export function readsAs(a: EnvoyCounters, b: EnvoyCounters): boolean {
  if (a.epoch !== b.epoch || a.unknownFields !== b.unknownFields || a.sslContextUpdates !== b.sslContextUpdates) return false;
  if (a.subscriptions.size !== b.subscriptions.size) return false;
  for (const [prefix, counters] of a.subscriptions) {
    const other = b.subscriptions.get(prefix);
    if (other === undefined || !sameSubscription(counters, other)) return false;
  }
  return true;
}

/** The baseline of a pass that renamed before Envoy answered, or the same files to rename once more before judging them against `answer`. */
export type LateBaseline = { use: EnvoyCounters } | { renameAgain: EnvoyCounters };

/**
 * A pass renamed before Envoy answered the request sent for it. `answer`: that answer (undefined:
 * none in time); `before`: the last reading answered before the pass's first rename. The answer
 * when it reads as `before` (readsAs: none of the pass's reloads is in it); without an answer,
 * `before` (as when an awaited request goes unanswered); else rename the pass's files once more,
 * judged against the answer, which came before that rename.
 */
export function lateBaseline(answer: EnvoyCounters | undefined, before: EnvoyCounters): LateBaseline {
  if (answer === undefined) return { use: before };
  return readsAs(answer, before) ? { use: answer } : { renameAgain: answer };
}
