// What Envoy did with a publish that a newer publish of the same file replaced before its verdict,
// pure: read from Envoy's counters alone, never guessed. A file subscription reloads the file on
// every IN_MOVED_TO of its name, one `refresh` per inotify event, and each `refresh` reads the file
// as it is then and counts `update_attempt` and one of `update_success`, `update_rejected` or
// `update_failure` (`WatcherImpl::onInotifyEvent` reads every queued event and calls the callback
// for each, source/common/filesystem/inotify/watcher_impl.cc; `FilesystemSubscriptionImpl::refresh`,
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc). So two renames
// Envoy handles after both landed are two reads of the newer content; the older one was refused
// only if Envoy read it before the newer rename, and that read is counted between the older
// publish's baseline and the newer one's (the newer publish's baseline is read after the older
// rename and answered before the newer one: pending.ts says why such an answer reflects the
// renames before it). What that window holds is the older publish's, unless the file was renamed
// with other content in it too (a pass whose verdict was never tracked): then the counters do not
// tell which content Envoy refused.
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { ofSameProcess } from './envoy-process.js';
import { REPLACED_BY_NEWER, refusedKeptAt } from './messages.js';

/** A publish of the file (a pass's rename), as the tracker heard of it. */
export interface PublishRecord {
  sha256: string;
  version: string | undefined;
  /** performance.now() just after the rename. */
  at: number;
}

export type SupersededFate =
  /** Envoy counted no refusal on the file's subscriptions between the two baselines, and no update it could be credited with. */
  | { kind: 'none' }
  /**
   * Envoy counted no refusal and `count` accepted updates (`counter`) between the two baselines,
   * and no other content of the file was renamed in between: it accepted this publish.
   */
  | { kind: 'accepted'; count: number; counter: string }
  /** Envoy refused it `count` times (`counter`: the stat that counted, with its prefix). */
  | { kind: 'refused'; count: number; counter: string; refusal: 'rejected' | 'failure' }
  /** Envoy counted `count` refusals in the window, but other content of the file (`versions`) was renamed in it too. */
  | { kind: 'unattributed'; count: number; counter: string; refusal: 'rejected' | 'failure'; versions: (string | undefined)[] }
  /** No window to read: `why`, in words. */
  | { kind: 'unread'; why: string };

/**
 * The fate of `old` (its sha256, version, rename time `at` and baseline), replaced by a publish
 * whose baseline is `end`; `own`: the stats scopes of the file; `renames`: the file's publishes
 * the tracker heard of (any order); `accepted`: the sha256 of contents of the file Envoy accepted
 * (state.ts `accepted`).
 */
export function supersededFate(
  old: { sha256: string; version: string | undefined; at: number; baseline: EnvoyCounters | undefined },
  end: EnvoyCounters | undefined,
  own: readonly string[],
  renames: readonly PublishRecord[],
  accepted: readonly string[] = [],
): SupersededFate {
  if (end === undefined) return { kind: 'unread', why: "Envoy's counters were not read before the newer publish" };
  const start = ofSameProcess(old.baseline, end);
  if (start === undefined) return { kind: 'unread', why: old.baseline === undefined ? "Envoy's counters were not read before its rename" : 'Envoy restarted in between' };
  if (end.sentAt === undefined || end.sentAt < old.at) return { kind: 'unread', why: "Envoy's counters before the newer publish were read before this rename" };
  let count = 0;
  let counter: string | undefined;
  let refusal: 'rejected' | 'failure' = 'rejected';
  let successes = 0;
  let successCounter: string | undefined;
  for (const prefix of own) {
    const now = end.subscriptions.get(prefix);
    if (now === undefined) continue;
    const before = start.subscriptions.get(prefix);
    const base = before === undefined || now.attempt < before.attempt ? { rejected: 0, failure: 0, success: 0 } : before;
    const success = now.success - base.success;
    if (success > 0) {
      successes += success;
      successCounter ??= `${prefix}.update_success`;
    }
    const rejected = now.rejected - base.rejected;
    const failure = now.failure - base.failure;
    if (rejected + failure === 0) continue;
    count += rejected + failure;
    refusal = rejected > 0 ? 'rejected' : 'failure';
    counter ??= `${prefix}.update_${refusal}`;
  }
  // Renames of other content after this one that the window's end may reflect (answered after them).
  const until = end.answeredAt ?? Number.POSITIVE_INFINITY;
  if (count === 0 || counter === undefined) {
    // An update Envoy took in the window is this publish's only when no other content was renamed
    // onto the file in it (a file subscription reads the file as it is at each rename's event).
    const renamedOther = renames.some((r) => r.at > old.at && r.at <= until && r.sha256 !== old.sha256);
    return successes > 0 && successCounter !== undefined && !renamedOther ? { kind: 'accepted', count: successes, counter: successCounter } : { kind: 'none' };
  }
  // Content Envoy took (its version reported running at the window's end, or recorded accepted) is
  // not what it refused there: the file subscription judges a content the same way at each read.
  // With none other left, the refusals are this publish's (an edit and its undo, renamed back to back).
  const running = new Set(own.map((prefix) => end.subscriptions.get(prefix)?.versionText));
  const took = (r: PublishRecord): boolean => (r.version !== undefined && running.has(r.version)) || accepted.includes(r.sha256);
  const others = renames.filter((r) => r.at > old.at && r.at <= until && r.sha256 !== old.sha256 && !took(r));
  if (others.length > 0) return { kind: 'unattributed', count, counter, refusal, versions: [...new Set(others.map((r) => r.version))] };
  return { kind: 'refused', count, counter, refusal };
}

/**
 * Envoy's listener errors as they stood for an older publish, read once a newer one was renamed
 * (`nextAtMs`: the newer publish, epoch ms): they are replaced at each update the LDS API sees
 * (envoy/rejection-reason.ts), so they are the older publish's or earlier only when every named one
 * is older than the newer publish. Undefined when they may be the newer one's, or none is named
 * (no time to tell; none at all: the newer publish may have been accepted and cleared them).
 */
export function errorsBefore<E extends { name?: string; at?: number }>(errors: readonly E[] | undefined, nextAtMs: number): readonly E[] | undefined {
  const named = errors?.filter((e) => e.name !== undefined && e.at !== undefined) ?? [];
  if (named.length === 0 || named.some((e) => (e.at ?? 0) >= nextAtMs)) return undefined;
  return errors;
}

/**
 * The verdict line's message for a publish a newer one (`by`) replaced before its verdict, when
 * Envoy's counters show a refusal in its window (`fate`), or it carried refusals from before
 * (`before`: refusal-cause.ts refusedBeforeNote's words). `because`: why Envoy refused it, a
 * sentence; `keptAt`: where the refused content is kept.
 */
export function supersededMessage(p: { file: string; version: string; by: string; fate: SupersededFate; because?: string | undefined; keptAt?: string | undefined; before?: string }): string {
  const { file, version, by, fate } = p;
  const before = p.before ?? '';
  const next = `; version ${by}, which replaced it, is judged on its own`;
  if (fate.kind === 'refused') {
    const times = fate.count === 1 ? '' : ` ${String(fate.count)} times`;
    return `Envoy rejected ${file} version ${version}${times} (${fate.counter} counted it); ${REPLACED_BY_NEWER}${p.keptAt === undefined ? '' : `; ${refusedKeptAt(p.keptAt)}`}${p.because === undefined ? '' : `. ${p.because}`}${next}${before}`;
  }
  if (fate.kind === 'accepted') {
    return `Envoy accepted ${file} version ${version} (${fate.counter} counted it); a newer publish replaced it on disk before its verdict was read${next}${before}`;
  }
  if (fate.kind === 'unattributed') {
    const others = fate.versions.map((v) => v ?? '(no version_info)').join(', ');
    return `Envoy counted ${String(fate.count)} refusal${fate.count === 1 ? '' : 's'} of ${file} (${fate.counter}) after version ${version} was published; other content (${others}) was renamed onto it too before Envoy's counters for the newer publish were read, so they do not tell which of these versions Envoy refused${next}${before}`;
  }
  return `${file} version ${version} was replaced by a newer publish before Envoy's verdict${next}${before}`;
}
