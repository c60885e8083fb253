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
// with other content in it too (a pass whose verdict was never tracked): then it is settled from
// what Envoy did with each content (windowFate), or said not told. A publish that waited for the
// verdict on the newer one is decided then (fateAtVerdict).
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
  | { kind: 'accepted'; count: number; counter: string; refusedBy?: RefusedBy }
  /** Envoy refused it `count` times (`counter`: the stat that counted, with its prefix). */
  | { kind: 'refused'; count: number; counter: string; refusal: 'rejected' | 'failure' }
  /** Envoy counted `count` refusals in the window, but other content of the file (`versions`) was renamed in it too. */
  | { kind: 'unattributed'; count: number; counter: string; refusal: 'rejected' | 'failure'; versions: (string | undefined)[]; refusedBy?: RefusedBy }
  /**
   * Envoy counted `count` accepted updates and no refusal in the window, but other content of the
   * file was renamed in it too and may be what it read: not told whether it read this one (no line
   * unless the newer publish's verdict tells, fateAtVerdict).
   */
  | { kind: 'untold'; count: number; counter: string }
  /** No window to read: `why`, in words. */
  | { kind: 'unread'; why: string };

/**
 * The refusals counted in a window that are another content's (the only one renamed in it that
 * Envoy may have refused, while this one it took): that content and what counted them.
 */
export interface RefusedBy {
  sha256: string;
  version: string | undefined;
  count: number;
  counter: string;
  refusal: 'rejected' | 'failure';
}

/**
 * How Envoy judged a content of the file (sha256 → judgement), as the watcher learnt it: its own
 * verdict, the last accepted version (state.ts), a replaced publish settled before. A file
 * subscription judges a content alike at each read (FilesystemSubscriptionImpl::refresh parses
 * the file and hands it to the same callbacks each time), so a content Envoy accepted once is not
 * the one it refused in a window, and one it refused is not what it took there.
 */
export type KnownContents = ReadonlyMap<string, 'accepted' | 'refused'>;

/** What Envoy counted in a window on the file's subscriptions (`successes`, `refusals`, the counters that counted them). */
export interface WindowCounts {
  successes: number;
  successCounter?: string | undefined;
  refusals: number;
  refusalCounter?: string | undefined;
  refusal: 'rejected' | 'failure';
}

/**
 * Whose Envoy's counts in a window are, pure: `old` renamed at the window's start, `others` the
 * other contents renamed onto the file in it (each read, if at all, after old's), `running` the
 * versions Envoy reports at the window's end (version_text, set only by an update it accepted),
 * `ranBefore` whether old's version was already reported at the window's start, `known` contents
 * judged elsewhere. Every read in the window reads one of these contents (Envoy reads the file as
 * it is at each rename's event) and judges it as it judges that content at every read. So:
 * refusals are old's when every other content is one Envoy took; successes are old's when every
 * other content is one it refused; a version Envoy reports at the end that it did not at the start
 * was read and accepted in the window. Otherwise not told: `unattributed` (refusals) or `untold`.
 */
export function windowFate(w: { old: { sha256: string; version: string | undefined }; others: readonly PublishRecord[]; counts: WindowCounts; running: ReadonlySet<string | undefined>; ranBefore: boolean; known: KnownContents }): SupersededFate {
  const { old, counts, running, known } = w;
  const others = w.others.filter((r) => r.sha256 !== old.sha256);
  const took = (r: { sha256: string; version: string | undefined }): boolean => (r.version !== undefined && running.has(r.version)) || known.get(r.sha256) === 'accepted';
  const refused = (r: { sha256: string }): boolean => known.get(r.sha256) === 'refused';
  const accepted = (count: number): SupersededFate => ({ kind: 'accepted', count, counter: counts.successCounter ?? '' });
  const hasSuccess = counts.successes > 0 && counts.successCounter !== undefined;
  // Envoy reports old's version now and did not before: it read old in the window and took it.
  const runs = hasSuccess && old.version !== undefined && running.has(old.version) && !w.ranBefore;
  // Every other content is one Envoy refuses: every update it took in the window was old's.
  const alone = hasSuccess && !refused(old) && others.every(refused);
  if (counts.refusals === 0 || counts.refusalCounter === undefined) {
    if (!hasSuccess || refused(old)) return { kind: 'none' };
    if (alone) return accepted(counts.successes);
    return runs ? accepted(1) : { kind: 'untold', count: counts.successes, counter: counts.successCounter ?? '' };
  }
  const { refusals: count, refusalCounter: counter, refusal } = counts;
  // Nothing else renamed: the refusals are old's (a success too is another scope of the file's).
  if (others.length === 0) return { kind: 'refused', count, counter, refusal };
  const left = [...new Map(others.filter((r) => !took(r)).map((r) => [r.sha256, r])).values()];
  if (left.length === 0 && !took(old)) return { kind: 'refused', count, counter, refusal };
  // Old is one Envoy took, and one other content is left that it did not: the refusals are that one's.
  const by = left.length === 1 && left[0] !== undefined && (alone || runs || took(old)) ? { refusedBy: { sha256: left[0].sha256, version: left[0].version, count, counter, refusal } } : {};
  if (alone) return { ...accepted(counts.successes), ...by };
  if (runs) return { ...accepted(1), ...by };
  return { kind: 'unattributed', count, counter, refusal, versions: [...new Set((left.length === 0 ? others : left).map((r) => r.version))], ...by };
}

/**
 * The fate of a replaced publish that waited for the verdict on the publish that replaced it
 * (superseded.ts `judged`), pure. `waited`: its fate when it was replaced (`unread`: no window
 * then; `unattributed`, `untold`: not told whose the counts were); `settled`: its window read again
 * now that the newer publish is judged (`outcome`: that verdict, known to the window as one more
 * content Envoy took or refused). An unread window reaches the newer verdict's reading and holds
 * the newer publish's own reads: a refusal there is old's only when Envoy accepted the newer one
 * (its reads all succeeded), and its refusals are the newer line's when Envoy refused it. Undefined:
 * no line (nothing counted for it, or not told whether Envoy read it at all).
 */
export function fateAtVerdict(waited: SupersededFate, settled: SupersededFate | undefined, outcome: string): SupersededFate | undefined {
  const told = settled?.kind === 'accepted' || settled?.kind === 'refused' ? settled : undefined;
  if (waited.kind === 'unattributed') return told ?? waited;
  if (waited.kind === 'untold') return told;
  if (waited.kind !== 'unread') return waited;
  if (settled?.kind === 'accepted') return settled;
  return outcome === 'accepted' && (settled?.kind === 'refused' || settled?.kind === 'unattributed') ? settled : undefined;
}

/**
 * The fate of `old` (its sha256, version, rename time `at` and baseline), replaced by a publish
 * whose baseline is `end`; `own`: the stats scopes of the file; `renames`: the file's publishes
 * the tracker heard of (any order); `known`: contents of the file whose judgement is known
 * (KnownContents; the last accepted one at least); `saidElsewhere`: refusals in the window that
 * other lines say (the lines of later publishes whose windows this one spans).
 */
export function supersededFate(
  old: { sha256: string; version: string | undefined; at: number; baseline: EnvoyCounters | undefined },
  end: EnvoyCounters | undefined,
  own: readonly string[],
  renames: readonly PublishRecord[],
  known: KnownContents = new Map(),
  saidElsewhere = 0,
): SupersededFate {
  if (end === undefined) return { kind: 'unread', why: "Envoy's counters were not read before the newer publish" };
  const start = ofSameProcess(old.baseline, end);
  if (start === undefined) return { kind: 'unread', why: old.baseline === undefined ? "Envoy's counters were not read before its rename" : 'Envoy restarted in between' };
  if (end.sentAt === undefined || end.sentAt < old.at) return { kind: 'unread', why: "Envoy's counters before the newer publish were read before this rename" };
  const counts: WindowCounts = { successes: 0, refusals: 0, refusal: 'rejected' };
  for (const prefix of own) {
    const now = end.subscriptions.get(prefix);
    if (now === undefined) continue;
    const before = start.subscriptions.get(prefix);
    const base = before === undefined || now.attempt < before.attempt ? { rejected: 0, failure: 0, success: 0 } : before;
    const success = now.success - base.success;
    if (success > 0) {
      counts.successes += success;
      counts.successCounter ??= `${prefix}.update_success`;
    }
    const rejected = now.rejected - base.rejected;
    const failure = now.failure - base.failure;
    if (rejected + failure === 0) continue;
    counts.refusals += rejected + failure;
    counts.refusal = rejected > 0 ? 'rejected' : 'failure';
    counts.refusalCounter ??= `${prefix}.update_${counts.refusal}`;
  }
  // Other content whose reads the window may hold: renamed after the start was asked (a baseline
  // handed to a pass that renamed first may predate the publish before it: baseline-reads.ts
  // settle's `firstRenames`) and before the end was answered. A reading without times (built
  // otherwise) is taken as asked just before this rename.
  const from = Math.min(start.sentAt ?? old.at, old.at);
  const until = end.answeredAt ?? Number.POSITIVE_INFINITY;
  const others = renames.filter((r) => r.at > from && r.at <= until && r.sha256 !== old.sha256);
  // Refusals in the window that lines of publishes after this one say (their windows inside this one).
  counts.refusals = Math.max(0, counts.refusals - saidElsewhere);
  const running = new Set(own.map((prefix) => end.subscriptions.get(prefix)?.versionText));
  const ranBefore = own.some((prefix) => old.version !== undefined && start.subscriptions.get(prefix)?.versionText === old.version);
  return windowFate({ old, others, counts, running, ranBefore, known });
}

/**
 * How many refusals Envoy counted on `own` between a publish's baseline and `end` (the reading its
 * verdict was decided on) when they are all its own: no other content of the file was renamed
 * before `end` was answered (a pass that renamed first is renamed once more, the same content,
 * baseline-reads.ts: Envoy may read it twice). Undefined when they may be another's, or not read.
 */
export function ownRefusals(p: { sha256: string; at: number; baseline: EnvoyCounters | undefined }, end: EnvoyCounters | undefined, own: readonly string[], renames: readonly PublishRecord[]): number | undefined {
  const start = end === undefined ? undefined : ofSameProcess(p.baseline, end);
  if (end === undefined || start === undefined) return undefined;
  const until = end.answeredAt ?? Number.POSITIVE_INFINITY;
  if (renames.some((r) => r.at > p.at && r.at <= until && r.sha256 !== p.sha256)) return undefined;
  let count = 0;
  for (const prefix of own) {
    const now = end.subscriptions.get(prefix);
    const before = start.subscriptions.get(prefix);
    if (now === undefined) continue;
    const base = before === undefined || now.attempt < before.attempt ? { rejected: 0, failure: 0 } : before;
    count += now.rejected + now.failure - base.rejected - base.failure;
  }
  return count;
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
