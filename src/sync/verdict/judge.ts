// The judgement, pure: from two readings of Envoy's subscription counters (envoy/admin.ts
// `counters`), the one taken just before the rename (the baseline) and the latest, did Envoy take
// the published version? A file subscription counts `update_attempt` on every reload and then
// exactly one of `update_success` (and sets `version_text` to the file's version_info),
// `update_rejected` or `update_failure` (FilesystemSubscriptionImpl::refresh,
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc). Versions are
// unique per content (envoy/version-stamp.ts), so `version_text` equal to the published version
// means Envoy runs exactly that content. No IO, no clock: the tracker (tracker.ts) polls and
// passes what it read.
import type { EnvoyCounters, SubscriptionCounters } from '../envoy/stat-prefixes.js';
import { ofSameProcess } from './envoy-process.js';

export type Judgement =
  /** `reread`: an SDS file taken through its Secret's re-read, its subscription counting nothing (sds-reread.ts). */
  | { outcome: 'accepted'; subscriptions: string[]; reread?: true }
  /** `created.route`: the route configuration the file lacks, which the opened subscription asks for (scope-route-missing.ts). */
  | { outcome: 'rejected'; subscription: string; kind: 'rejected' | 'failure'; created?: { file: string; route?: string } }
  /** Not decided; `waiting`: subscriptions that read the previous version and have not reloaded yet. */
  | { outcome: undefined; waiting: string[] };

export interface JudgeInput {
  /** The version published (undefined: the file carries none Envoy reports; counters alone decide). */
  version: string | undefined;
  /** The version Envoy ran for this file before (its readers then must reload it now). */
  previousVersion: string | undefined;
  /**
   * Envoy's counters just before the rename (undefined: not read; every scope counts from zero, as
   * it does when another Envoy process answered them: envoy-process.ts).
   */
  baseline: EnvoyCounters | undefined;
  now: EnvoyCounters;
  /** The scopes attributed to the file (attribution.ts). */
  subscriptions: readonly string[];
  /**
   * Scopes attributed to the files this file names (an LDS file's RDS files, ...), with their file:
   * a scope among them that did not exist before the rename was opened by this edit.
   */
  named: ReadonlyMap<string, string>;
  /** Scopes given up on: they read the previous version but did not reload (gone from Envoy's config). */
  gone?: ReadonlySet<string>;
  /**
   * Scopes of `named` that this content's first rename opened (openedScopes): when the same
   * content is renamed again (in-flight.ts), the second rename's baseline has them, yet this edit
   * opened them all the same.
   */
  opened?: ReadonlySet<string>;
  /**
   * Scopes left from a change: they ran the previous version, whose resource no published file asks
   * for any more (a listener the change replaced, still draining, keeps its subscription, which
   * refuses the renamed resource). Neither their refusals nor their waits count.
   */
  leftover?: ReadonlySet<string>;
  /**
   * Scopes of `named` that refused their RDS file for a route configuration it lacks (scope →
   * that name), which this SRDS file's scopes name (scope-route-missing.ts): without a baseline (a
   * first start), nothing tells they were opened by this publish, yet their refusal is this file's.
   */
  lacking?: ReadonlyMap<string, string>;
}

const ZERO: SubscriptionCounters = { versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0 };

/** The counters to compare with: the baseline's, or zeros when the scope counts from zero again (counters went down). */
function baseOf(baseline: EnvoyCounters | undefined, prefix: string, now: SubscriptionCounters): SubscriptionCounters {
  const base = baseline?.subscriptions.get(prefix) ?? ZERO;
  return now.attempt < base.attempt ? ZERO : base;
}

/**
 * accepted: some subscription of the file reports its version (or, without a version, counted a
 * success and no refusal since), every one that reloaded since the rename or ran the previous
 * version does too, and every subscription this edit opened on a named file took that file.
 * rejected: a subscription of the file counted a refusal since the rename and does not report the
 * version, or a subscription this edit opened refused its file. Otherwise undecided.
 */
export function judge(input: JudgeInput): Judgement {
  const { version, now } = input;
  const baseline = ofSameProcess(input.baseline, now);
  const accepted: string[] = [];
  const waiting: string[] = [];
  for (const prefix of input.subscriptions) {
    const current = now.subscriptions.get(prefix);
    if (current === undefined || input.leftover?.has(prefix) === true) continue;
    const base = baseOf(baseline, prefix, current);
    const refusedKind = current.rejected > base.rejected ? 'rejected' : current.failure > base.failure ? 'failure' : undefined;
    const runs = version === undefined ? current.success > base.success && refusedKind === undefined : current.versionText === version;
    if (runs) {
      accepted.push(prefix);
      continue;
    }
    if (refusedKind !== undefined) return { outcome: 'rejected', subscription: prefix, kind: refusedKind };
    const reloaded = current.attempt > base.attempt;
    const readPrevious = input.previousVersion !== undefined && input.previousVersion !== '' && base.versionText === input.previousVersion;
    if ((reloaded || readPrevious) && input.gone?.has(prefix) !== true) waiting.push(prefix);
  }
  if (accepted.length === 0 || waiting.length > 0) return { outcome: undefined, waiting };
  for (const [prefix, file] of input.named) {
    const current = now.subscriptions.get(prefix);
    if (baseline === undefined) {
      const route = input.lacking?.get(prefix);
      if (current !== undefined && route !== undefined) return { outcome: 'rejected', subscription: prefix, kind: current.rejected > 0 ? 'rejected' : 'failure', created: { file, route } };
      continue;
    }
    if (current === undefined || current.success > 0) continue;
    const before = baseline.subscriptions.get(prefix);
    if (before !== undefined && input.opened?.has(prefix) !== true) {
      // Older than this publish and it never took a version: Envoy keeps a subscription's stats
      // after its listener is gone, so a listener of this content that opens it again refuses
      // under the old name; its refusals since the rename are this edit's, and their kind is what moved.
      if (current.rejected + current.failure > before.rejected + before.failure) {
        return { outcome: 'rejected', subscription: prefix, kind: current.rejected > before.rejected ? 'rejected' : 'failure', created: createdOf(file, prefix, input.lacking) };
      }
      continue;
    }
    if (current.rejected + current.failure > 0) return { outcome: 'rejected', subscription: prefix, kind: current.rejected > 0 ? 'rejected' : 'failure', created: createdOf(file, prefix, input.lacking) };
    return { outcome: undefined, waiting: [prefix] }; // opened by this edit, not loaded yet
  }
  return { outcome: 'accepted', subscriptions: accepted };
}

/** The file a subscription this edit opened refused, with the route configuration it lacks when known. */
function createdOf(file: string, prefix: string, lacking: ReadonlyMap<string, string> | undefined): { file: string; route?: string } {
  const route = lacking?.get(prefix);
  return route === undefined ? { file } : { file, route };
}

/**
 * The scopes of `named` (scope → file) this edit opened: those not in `baseline` (the counters just
 * before its first rename), with `before` (those an earlier rename of the same content opened).
 * Empty without a baseline (nothing tells them apart then).
 */
export function openedScopes(baseline: EnvoyCounters | undefined, named: ReadonlyMap<string, string>, before: Iterable<string> = []): Set<string> {
  const opened = new Set(before);
  if (baseline !== undefined) for (const prefix of named.keys()) if (!baseline.subscriptions.has(prefix)) opened.add(prefix);
  return opened;
}

/** Fields Envoy ignored (server.dynamic_unknown_fields) since the baseline; 0 when none or unknown. */
export function ignoredFieldsSince(baseline: EnvoyCounters | undefined, now: EnvoyCounters): number {
  if (baseline === undefined || now.unknownFields < baseline.unknownFields) return 0;
  return now.unknownFields - baseline.unknownFields;
}

/**
 * Envoy has started loading the file: every subscription of it counted an `update_attempt`. A
 * file found at start waits for this (Envoy may still be starting, or warming clusters before it
 * starts LDS) before its usual timeout runs.
 */
export function startedLoading(subscriptions: readonly string[], now: EnvoyCounters): boolean {
  return subscriptions.length > 0 && subscriptions.every((prefix) => (now.subscriptions.get(prefix)?.attempt ?? 0) > 0);
}

/**
 * ms to wait before the next request for pending verdicts (the first one too: 0 ms since the
 * publish), by ms since the oldest pending publish.
 *
 * Envoy applies a small file within a few ms of the rename, on its main thread, which also answers
 * the admin API: a `/stats` request costs it about 1 ms (it walks every stat), so a request every
 * 3 ms from the rename on (as before) took a third of that thread while it built the listener,
 * and the new version reached a worker 5-6 ms later (bench:sync, small files: swap → served p50 17
 * against 22-25 ms for the 3 ms schedule, side by side). Hence none for the first 10 ms, one every
 * 10 ms up to 200 ms, then backing off (an unreachable admin API or a slow update should not cost a
 * request every few ms for 10 s); files found at start may wait minutes for Envoy: twice a second.
 * `lastAnswerMs`: the round trip of the last reading (ms); the wait is at least READING_SHARE times it.
 */
export function pollDelayMs(sinceOldestPublishMs: number, lastAnswerMs = 0): number {
  const scheduled = sinceOldestPublishMs < 200 ? 10 : sinceOldestPublishMs < 1000 ? 20 : sinceOldestPublishMs < 10_000 ? 100 : 500;
  return Math.max(scheduled, Math.min(SPACED_MAX_MS, Math.ceil(READING_SHARE * lastAnswerMs)));
}

/**
 * At least this many times a reading's round trip between two requests: the verdict then takes at
 * most a fifth of Envoy's main thread, however many stats Envoy has (a reading costs Envoy about
 * its round trip: 0.1 ms with one cluster, 3.6-10.3 ms with 1,000, bench:admin; every 10 ms as
 * scheduled, 1,000 clusters that serve traffic would keep that thread busy for the verdict alone).
 */
const READING_SHARE = 4;
/**
 * But no more than this: a round trip long for another reason than Envoy's work (an admin API
 * reached through a relay 300 ms away, test/envoy/plain-dir-refusal-replaced.test.ts) spaced the
 * requests 1.2 s apart, and the verdicts of versions replaced within ms came too late (0 of 9 lines).
 */
const SPACED_MAX_MS = 50;
