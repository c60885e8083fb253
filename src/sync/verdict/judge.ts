// The judgement, pure: from the counters Envoy's admin API reports for the subscriptions a file
// feeds (envoy/admin.ts), did Envoy take the published version? Envoy counts every update of a
// file subscription in `<prefix>.update_attempt|update_success|update_rejected|update_failure`
// and reports the accepted `version_info` as `<prefix>.version_text`; a refused update leaves
// `version_text` at the previous version (envoy/version-stamp.ts). No IO, no clock: the tracker
// (tracker.ts) polls and passes what it read.
import type { SubscriptionStats } from '../envoy/admin.js';
import type { Subscription } from '../envoy/subscriptions.js';
import type { Outcome } from './verdict.js';

/** What is judged: the published version and the counters seen before the publish, per stat prefix. */
export interface Judged {
  /** The version Envoy will report for the file; undefined if it carries none. */
  version: string | undefined;
  /** Stats seen before the publish, per stat prefix (undefined: never seen, counters from 0). */
  baseline: ReadonlyMap<string, SubscriptionStats | undefined>;
}

export type Judgement = 'accepted' | 'rejected' | undefined;

export const emptyStats = (): SubscriptionStats => ({ versionText: '', success: 0, rejected: 0, failure: 0, attempt: 0 });

/** The counters to compare `now` with: `base`, or zeros when Envoy restarted since (counters went down). */
export function baseFor(base: SubscriptionStats | undefined, now: SubscriptionStats): SubscriptionStats {
  const b = base ?? emptyStats();
  return now.success + now.rejected + now.failure < b.success + b.rejected + b.failure ? emptyStats() : b;
}

/**
 * accepted: every subscription fed by the file reports its version (and, if Envoy already ran
 * that version before, counted a successful update since). rejected: some subscription counted
 * a failed or rejected update since the publish and does not report the version. undefined:
 * not decided yet (a subscription Envoy has no stats for counts as undecided).
 */
export function judge(judged: Judged, subscriptions: readonly Pick<Subscription, 'statPrefix'>[], stats: ReadonlyMap<string, SubscriptionStats>): Judgement {
  let all = true;
  for (const s of subscriptions) {
    const now = stats.get(s.statPrefix);
    if (now === undefined) {
      all = false;
      continue;
    }
    const base = baseFor(judged.baseline.get(s.statPrefix), now);
    const successMoved = now.success > base.success;
    const failMoved = now.rejected + now.failure > base.rejected + base.failure;
    const ambiguous = judged.version === undefined || base.versionText === judged.version;
    const accepted = judged.version === undefined ? successMoved && !failMoved : now.versionText === judged.version && (!ambiguous || successMoved);
    if (!accepted && failMoved) return 'rejected';
    if (!accepted) all = false;
  }
  return all ? 'accepted' : undefined;
}

/** Which counter of a refusal moved since `base`: `rejected` before `failure`; undefined when neither did. */
export function refusalKind(base: SubscriptionStats, now: SubscriptionStats): 'rejected' | 'failure' | undefined {
  return now.rejected > base.rejected ? 'rejected' : now.failure > base.failure ? 'failure' : undefined;
}

/**
 * Envoy has started loading the file: every subscription counted an `update_attempt`. A file found
 * at start waits for this (Envoy may still be starting, or warming clusters before it starts LDS)
 * before its usual timeout runs.
 */
export function startedLoading(subscriptions: readonly Pick<Subscription, 'statPrefix'>[], stats: ReadonlyMap<string, SubscriptionStats>): boolean {
  return subscriptions.every((sub) => (stats.get(sub.statPrefix)?.attempt ?? 0) > 0);
}

/** A publish waiting for its verdict: `deadline` (ms, the tracker's clock) ends the wait with `unknown`. */
export interface Waiting extends Judged {
  /** Found at start: the deadline moves to `timeoutMs` after Envoy's first `update_attempt`. */
  initial: boolean;
  deadline: number;
}

/**
 * One poll's step for one waiting publish, at `now`: the judgement, or `unknown` once its deadline
 * passed or without an admin API to ask (`stats` undefined: not asked or no answer), or undefined
 * to wait. A file found at start gets the usual `timeoutMs` once Envoy starts loading it (its
 * `initial` and `deadline` are updated in place).
 */
export function step(
  waiting: Waiting,
  subscriptions: readonly Pick<Subscription, 'statPrefix'>[],
  stats: ReadonlyMap<string, SubscriptionStats> | undefined,
  now: number,
  timeoutMs: number,
  hasAdmin: boolean,
): Outcome | undefined {
  const decided = stats === undefined ? undefined : judge(waiting, subscriptions, stats);
  if (decided === undefined && waiting.initial && stats !== undefined && startedLoading(subscriptions, stats)) {
    // Envoy has started loading the file (update_attempt): from now on it has the usual time.
    // Until then it may still be starting, or warming clusters (DNS) before it starts LDS.
    waiting.initial = false;
    waiting.deadline = now + timeoutMs;
  }
  if (decided !== undefined) return decided;
  return now >= waiting.deadline || !hasAdmin ? 'unknown' : undefined;
}

// Envoy applies a file within milliseconds of the rename: poll often at first, then back off (an
// unreachable admin API or a slow update should not cost a request every few ms for 10 s).
// Files found at start may wait minutes for Envoy to start: then twice a second.
export function pollDelayMs(sinceOldestPublishMs: number): number {
  return sinceOldestPublishMs < 200 ? 3 : sinceOldestPublishMs < 1000 ? 20 : sinceOldestPublishMs < 10_000 ? 100 : 500;
}
