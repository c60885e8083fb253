// What a verdict says of the fields Envoy ignored, pure: Envoy's `server.dynamic_unknown_fields`,
// attributed to the loads that made it count.
//
// Envoy's facts it relies on (1.40):
// - a parse that meets an unknown field calls `WarningValidationVisitorImpl::onUnknownField` once
//   with a description (`type <message> reason <protobuf's parse error>`): the first unknown field
//   of the file, not all of them (source/common/protobuf/message_validator_impl.cc);
// - that visitor counts a description only the first time it sees it (a set of hashes), but
//   protobuf's parse error carries runs of spaces that differ from one parse to the next (measured:
//   "invalid JSON  in  envoy.service.discovery.v3.DiscoveryResponse @  resources[0]..." then
//   "invalid JSON in  ..."), so in practice every load of a file with an unknown field counts 1
//   again: an accepted load, a refused one, a load of content retried, and the watcher's own
//   rollback of the last accepted version (measured: 1 → 2 → 3 over a misspelt file's acceptance,
//   a refused edit of it and the rollback; 41 loads of one file gave 41 distinct descriptions and
//   41 counts). A load whose description happened to repeat would count 0;
// - the counter is global: it does not say which file of a pass (or which reload) counted.
// So the count a verdict gives is what Envoy counted between the publish's baseline and the answer
// the verdict was decided on, less what earlier verdicts of the same process already gave and what
// the watcher's own reloads counted (a rollback, read right after it): the count of this version's
// load, or of the files loaded with it, never a running total.
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { ofSameProcess } from './envoy-process.js';
import type { IgnoredWhen } from './messages.js';

/** server.dynamic_unknown_fields already said in a verdict, in the process `epoch`. */
export interface Reported {
  epoch: number | undefined;
  count: number;
}

/**
 * What Envoy counted for a reload the watcher made itself (a rollback of a refused file to the last
 * accepted version): in the process `epoch`, the counter went from `from` to `to` (the answers just
 * before and just after the rename).
 */
export interface OwnReload {
  epoch: number | undefined;
  from: number;
  to: number;
}

export interface IgnoredFields {
  /** What the verdict says Envoy ignored (Envoy's count). */
  ignored: number;
  /**
   * The count is what the process counted since it started (Envoy restarted after the baseline was
   * read): it may hold fields of the files it loaded at start too.
   */
  sinceStart: boolean;
  /** What is reported after this verdict. */
  reported: Reported | undefined;
}

/**
 * The unknown fields an accepted verdict says Envoy ignored, from `now` (undefined: Envoy did not
 * answer) and the publish's `baseline`. What moved since the baseline, or, for a file found at the
 * watcher's start (`atStart`) or when Envoy restarted after the baseline, what the process counted
 * since it started; less what the watcher's own reloads of the same process counted in that span
 * (`ownReloads`); never more than the process counted beyond what earlier verdicts of the same
 * process said (`reported`), so a count is said once. A restarted Envoy's count starts from zero,
 * and so does what was said of it.
 */
export function ignoredUnknownFields(input: {
  baseline: EnvoyCounters | undefined;
  now: EnvoyCounters | undefined;
  atStart: boolean;
  reported: Reported | undefined;
  ownReloads?: readonly OwnReload[];
}): IgnoredFields {
  const { now, reported } = input;
  if (now === undefined) return { ignored: 0, sinceStart: false, reported };
  const count = Math.max(now.unknownFields, 0);
  const already = reported !== undefined && reported.epoch === now.epoch ? reported.count : 0;
  const baseline = ofSameProcess(input.baseline, now);
  const restarted = input.baseline !== undefined && baseline === undefined;
  const from = input.atStart || restarted ? 0 : baseline?.unknownFields;
  if (from === undefined) return { ignored: 0, sinceStart: false, reported: { epoch: now.epoch, count: Math.max(already, count) } };
  const own = covered((input.ownReloads ?? []).filter((reload) => reload.epoch === now.epoch), from, count);
  const moved = Math.max(0, count - from - own);
  const ignored = Math.min(moved, Math.max(0, count - already));
  return { ignored, sinceStart: restarted && ignored > 0, reported: { epoch: now.epoch, count: Math.max(already, count) } };
}

/** How much of the counter span (`from`, `to`] the reloads' spans cover (their union: two rollbacks read against one answer overlap). */
function covered(reloads: readonly OwnReload[], from: number, to: number): number {
  const spans = reloads
    .map((reload) => [Math.max(reload.from, from), Math.min(reload.to, to)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = from;
  for (const [a, b] of spans) {
    const start = Math.max(a, end);
    if (b > start) total += b - start;
    end = Math.max(end, b);
  }
  return total;
}

/**
 * Whose the count an accepted verdict of `file` gives is (`ignored`, from ignoredUnknownFields):
 * undefined when it is the file's own (Envoy loaded no other file in the span), else the files Envoy
 * loaded in that span, any of which may hold the fields, and when: `start` for the files found at
 * the watcher's start (`atStart`) or loaded by an Envoy that restarted after the baseline
 * (`sinceStart`: `atRestart`), `change` for the files of its change (`inFlight`: renamed in the same
 * pass or still on their way). A file Envoy refused counts too (its parse counts the unknown field
 * before Envoy judges the file), and the counter is one for the process: the count is never
 * given to one file when another was loaded in the span.
 */
export function ignoredAmong(input: {
  file: string;
  ignored: number;
  atStart: boolean;
  sinceStart: boolean;
  startFiles: readonly string[];
  restartFiles: readonly string[];
  inFlight: Iterable<string>;
}): { files: string[]; when: IgnoredWhen } | undefined {
  if (input.ignored <= 0) return undefined;
  const when: IgnoredWhen = input.sinceStart || input.atStart ? 'start' : 'change';
  const loaded = input.sinceStart ? [input.file, ...input.restartFiles] : input.atStart ? [input.file, ...input.startFiles] : [input.file, ...[...input.inFlight].sort()];
  const files = [...new Set(loaded)];
  return files.length > 1 ? { files, when } : undefined;
}
