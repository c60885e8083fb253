// The state of one Pod after a ConfigMap edit, from facts read elsewhere (workload.ts): the
// ConfigMap's content now (from the API) and what the Pod-local `status --json` says inside the
// Pod (what the watcher published, what Envoy runs, Envoy's last verdict). Pure: table-tested.
//
//   SYNCED    every file of the ConfigMap runs in Envoy (or, for a file Envoy does not subscribe
//             to such as the bootstrap, is published)
//   PENDING   not there yet: the kubelet's volume sync, the watcher, or Envoy's verdict
//   REJECTED  Envoy refused the ConfigMap's version of a file, or the watcher's gate did
//   FAILED    the Pod cannot start: its init container envoy-xds-copy failed (exit code not 0)
//   UNKNOWN   no answer: the Pod could not be read, Envoy's admin API did not answer, a verdict
//             that could not be had; always with why
import { cliThroughPod } from '../sync/kube/rbac-hint.js';
import { ignoredAmongWhere, ignoredText, validateSentence, withReaderText } from '../sync/verdict/messages.js';
import { strandedText } from '../sync/verdict/routes-stranded.js';
import { runsOfRefusedText } from '../sync/verdict/status-applied.js';
import { strandedNow } from '../sync/verdict/stranded-now.js';
import type { IgnoredWhen } from '../sync/verdict/messages.js';
import { configMapValidateHint, sourceValidateHint } from '../sync/verdict/validate-hint.js';
import type { ValidateHint } from '../sync/verdict/validate-hint.js';
import type { PodLocalStatus, PodLocalFile } from './pod-local.js';

export type PodState = 'SYNCED' | 'PENDING' | 'REJECTED' | 'FAILED' | 'UNKNOWN';
export const POD_STATES: readonly PodState[] = ['SYNCED', 'PENDING', 'REJECTED', 'FAILED', 'UNKNOWN'];
/** The states `status` exits 1 on (with or without --wait): the Pod refused the ConfigMap, or cannot start on it. */
export const REFUSED_STATES: readonly PodState[] = ['REJECTED', 'FAILED'];

/** A file of the ConfigMap now: its key and the version Envoy reports once it runs it (as `watch` stamps it). */
export interface WantedFile {
  file: string;
  version: string;
  /** The watcher's validation gate refuses this content (it never publishes it): where and why. */
  invalid?: { where: string; message: string };
}

/** What is known of one Pod before its files are judged. */
export interface PodFacts {
  pod: string;
  /** The Pod's namespace, for the commands a warning suggests. */
  namespace?: string;
  /** The Pod's ConfigMap (its envoy-xds-injector.io/configmap), for the `validate` a warning suggests. */
  configMap?: string;
  /** `volume` or `api` (the Pod's envoy-xds-injector.io/source), for the words of a PENDING reason. */
  source: 'volume' | 'api';
  /** The ConfigMap's files now, or why they could not be read (not found, forbidden). */
  wanted: WantedFile[] | { problem: string };
  /** The init container envoy-xds-copy failed: its exit, its last log lines and the command to read them. */
  copyFailed?: string;
  /** The Pod is still starting (its watcher has not run yet): why, e.g. `Pod is Pending (Init:0/2)`. */
  starting?: string;
  /** Why the Pod-local status could not be read (watcher not running, exec refused, timeout...). */
  unreadable?: string;
  /** Why the Pod's Envoy container cannot be serving (not running, waiting: CrashLoopBackOff...). */
  envoyProblem?: string;
  local?: PodLocalStatus;
}

export interface FileVerdict {
  file: string;
  /** The ConfigMap's version now. */
  configMap: string;
  published?: string;
  /** What Envoy runs (live), or last seen. */
  envoy?: string;
  /** What the ENVOY RUNS cell adds for a refused LDS or CDS file Envoy runs in part (status-applied.ts runsOfRefusedText). */
  envoyRuns?: string;
  /** `outcome version` of Envoy's last verdict, as the Pod-local status has it. */
  lastVerdict?: string;
  state: PodState;
  /** Why the file is not SYNCED. */
  why?: string;
  /** Envoy accepted the ConfigMap's version but ignored this many unknown fields in it (a misspelt or unsupported setting is not applied). */
  ignoredFields?: number;
  /** The files Envoy loaded together (at start, or one change: ignoredWhen), any of which holds those fields (its count does not say which). */
  ignoredAmong?: string[];
  /** With ignoredAmong: loaded at start or as one change. */
  ignoredWhen?: IgnoredWhen;
  /** Envoy accepted the ConfigMap's CDS version, and these route files still name clusters it removed (routes-stranded.ts). */
  strandedRoutes?: { file: string; clusters: string[] }[];
  /** What that means and the command that names the fields (set with ignoredFields), or what a restart would refuse (with strandedRoutes). */
  warning?: string;
}

export interface PodJudgement {
  pod: string;
  state: PodState;
  /** Why the Pod is not SYNCED: the first file's (or the Pod's) reason. */
  reason?: string;
  files: FileVerdict[];
}

/** Envoy's (or the gate's) words for a refusal, as the Pod-local status records them. */
export function refusalReason(f: PodLocalFile): string {
  const v = f.verdict;
  if (v?.withdrawnWith !== undefined) return `Envoy took it; it went back with ${v.withdrawnWith}, which Envoy refused`;
  if (v?.reason !== undefined && v.reasonFromCounters === true) return `From Envoy's counters: ${v.reason}`;
  if (v?.reason !== undefined) return `Envoy says${v.reasonPossiblyEarlier === true ? ' (about this or an earlier refused version)' : ''}: ${v.reason}`;
  if (v?.envoyLog !== undefined) return `Envoy refused it; its admin API does not say why, its log does: grep -A 60 "${v.envoyLog}"`;
  return 'Envoy refused it';
}

/** One file of one Pod. `local` is the Pod-local status, `want` the ConfigMap's version now. */
export function judgeFile(want: WantedFile, f: PodLocalFile | undefined, source: PodFacts['source']): FileVerdict {
  const row: FileVerdict = { file: want.file, configMap: want.version, state: 'PENDING' };
  if (f?.published !== undefined) row.published = f.published;
  if (f?.envoy !== undefined) row.envoy = f.envoy.live ? f.envoy.version : `${f.envoy.version === '' ? '(none)' : f.envoy.version} (last seen)`;
  if (f?.envoy?.live === true && f.envoy.runs !== undefined) row.envoyRuns = runsOfRefusedText(f.envoy.runs);
  else if (f?.withReader !== undefined) row.envoy = withReaderText(f.withReader);
  if (f?.verdict !== undefined) row.lastVerdict = `${f.verdict.outcome}${f.verdict.version === undefined ? '' : ` ${f.verdict.version}`}`;
  // Envoy's warning about the ConfigMap's version (not an earlier one): accepted, fields ignored.
  const ignored = f?.verdict?.outcome === 'accepted' && f.verdict.version === want.version ? (f.verdict.ignoredFields ?? 0) : 0;
  if (ignored > 0) {
    row.ignoredFields = ignored;
    const among = f?.verdict?.ignoredAmong;
    const when = f?.verdict?.ignoredWhen;
    if (among !== undefined) row.ignoredAmong = [...among];
    if (among !== undefined && when !== undefined) row.ignoredWhen = when;
    row.lastVerdict = `${row.lastVerdict ?? ''}${ignoredText(ignored, among, when)}`;
  }
  const stranded = f?.verdict?.outcome === 'accepted' && f.verdict.version === want.version ? f.verdict.strandedRoutes : undefined;
  if (stranded !== undefined && stranded.length > 0) {
    row.strandedRoutes = stranded.map((x) => ({ file: x.file, clusters: [...x.clusters] }));
    row.lastVerdict = `${row.lastVerdict ?? ''}${strandedText(stranded)}`;
  }
  const done = (state: PodState, why?: string): FileVerdict => ({ ...row, state, ...(why === undefined ? {} : { why }) });

  if (want.invalid !== undefined) {
    return done('REJECTED', `the watcher's gate refuses version ${want.version} (${want.invalid.where}: ${want.invalid.message}); the last good version stays published`);
  }
  if (f === undefined) return done('PENDING', source === 'volume' ? 'not in the Pod\'s ConfigMap volume yet (the kubelet\'s sync)' : 'not published yet');
  const refusedNow = (f.verdict?.outcome === 'rejected' && f.verdict.version === want.version) || (f.held && f.configMap === want.version);
  if (refusedNow) return done('REJECTED', `version ${want.version}: ${refusalReason(f)}`);
  if (f.envoy?.live === true && f.envoy.version === want.version) return done('SYNCED');
  // A file Envoy has no subscription on (the bootstrap, a file no path_config_source names): published is all there is.
  if (f.envoy === undefined && f.subscribed !== true && f.published === want.version) return done('SYNCED');
  if (f.verdict?.outcome === 'unknown' && f.verdict.version === want.version && f.published === want.version) {
    return done('UNKNOWN', `Envoy's verdict on version ${want.version} is unknown: ${f.verdict.message}`);
  }
  if (f.published !== want.version) {
    // Not on its way: the watcher keeps it back until its reader changes (or the Pod restarts).
    if (f.heldBack !== undefined && f.configMap === want.version) return done('PENDING', f.heldBack);
    if (source === 'volume' && f.configMap !== want.version) {
      return done('PENDING', `the kubelet has not updated the Pod's ConfigMap volume yet (it holds ${f.configMap ?? 'no such key'})`);
    }
    return done('PENDING', `the watcher has not published version ${want.version} yet (published: ${f.published ?? 'nothing'})`);
  }
  return done('PENDING', `published; Envoy runs ${f.envoy?.version === undefined || f.envoy.version === '' ? 'no version yet' : f.envoy.version}, its verdict is pending`);
}

/**
 * The sentence for a file Envoy accepted with unknown fields ignored, with the command that names
 * them: the ConfigMap now (what this row compares with) piped into the Pod's watcher's `validate`,
 * so the lines are those of the ConfigMap's keys (validate-hint.ts); the published copy only for
 * facts without the ConfigMap's name.
 */
function withWarning(row: FileVerdict, facts: PodFacts, local: PodLocalStatus): FileVerdict {
  const stranded = row.strandedRoutes === undefined ? undefined : `Envoy runs version ${row.configMap}${strandedNow(row.file, row.configMap, row.strandedRoutes, local.files, ', but ')}`;
  const n = row.ignoredFields;
  if (n === undefined) return stranded === undefined ? row : { ...row, warning: stranded };
  const also = stranded === undefined ? '' : `; ${stranded}`;
  const hint = validateHintOf(facts, local);
  const counted = `Envoy counted ${String(n)}; a misspelt or unsupported setting is not applied`;
  // Counted while Envoy loaded several files (at start, or one change): validate of them all finds the one.
  if (row.ignoredAmong !== undefined) {
    return { ...row, warning: `Envoy runs version ${row.configMap} but ignored unknown fields in ${ignoredAmongWhere(row.ignoredWhen)} (${row.ignoredAmong.join(', ')}; ${counted}); ${hint()} names them all${also}` };
  }
  return { ...row, warning: `Envoy runs version ${row.configMap} but ignored unknown fields in it (${counted}); ${hint(row.file)} names them all${also}` };
}

/** The `validate` this view suggests for a Pod's files: the ConfigMap now through its watcher (see withWarning). */
function validateHintOf(facts: PodFacts, local: PodLocalStatus): ValidateHint {
  return facts.namespace !== undefined && facts.configMap !== undefined
    ? configMapValidateHint(cliThroughPod(facts.namespace, facts.pod, { stdin: true }), facts.namespace, facts.configMap)
    : sourceValidateHint(cliThroughPod(facts.namespace, facts.pod), local.targetDir === '' ? '.' : local.targetDir);
}

/**
 * A REJECTED row whose refusal a schema check sees (the Pod's verdict on the ConfigMap's version
 * says so): its why ends with the `validate` that names the field, in the words of the verdict's
 * line (messages.ts validateSentence), with this view's command.
 */
function withValidateHint(row: FileVerdict, f: PodLocalFile | undefined, facts: PodFacts, local: PodLocalStatus): FileVerdict {
  const schema = f?.verdict?.outcome === 'rejected' && f.verdict.version === row.configMap ? f.verdict.schema : undefined;
  if (row.state !== 'REJECTED' || row.why === undefined || schema === undefined) return row;
  return { ...row, why: `${row.why}; ${validateSentence(schema, validateHintOf(facts, local)(row.file))}` };
}

const PRECEDENCE: Record<PodState, number> = { FAILED: 4, REJECTED: 3, UNKNOWN: 2, PENDING: 1, SYNCED: 0 };

/**
 * One Pod: FAILED if its copy init container failed (it cannot start), else REJECTED if any file
 * of the ConfigMap is refused (a recorded verdict stands even when Envoy is down now), else UNKNOWN if the Pod or Envoy cannot answer or a verdict is unknown, else
 * PENDING if a file is not there yet (or the Pod is starting), else SYNCED.
 */
export function judgePod(facts: PodFacts): PodJudgement {
  const out = (state: PodState, reason: string | undefined, files: FileVerdict[]): PodJudgement => ({
    pod: facts.pod,
    state,
    ...(reason === undefined ? {} : { reason }),
    files,
  });
  if (facts.copyFailed !== undefined) return out('FAILED', facts.copyFailed, []);
  if (!Array.isArray(facts.wanted)) return out('UNKNOWN', facts.wanted.problem, []);
  if (facts.starting !== undefined) return out('PENDING', facts.starting, []);
  if (facts.local === undefined) return out('UNKNOWN', facts.unreadable ?? 'the Pod-local status was not read', []);
  const local = facts.local;
  const byName = new Map(local.files.map((f) => [f.file, f]));
  const files = facts.wanted.map((w) => withValidateHint(withWarning(judgeFile(w, byName.get(w.file), facts.source), facts, local), byName.get(w.file), facts, local));
  const worst = (state: PodState): FileVerdict | undefined => files.find((f) => f.state === state);
  const fileReason = (f: FileVerdict): string => `${f.file}: ${f.why ?? f.state}`;

  const rejected = worst('REJECTED');
  if (rejected !== undefined) return out('REJECTED', fileReason(rejected), files);
  if (facts.envoyProblem !== undefined) return out('UNKNOWN', facts.envoyProblem, files);
  if (local.adminProblem !== undefined) return out('UNKNOWN', `what Envoy runs is unknown: ${local.adminProblem}`, files);
  if (local.watcherRunning === false) return out('UNKNOWN', `the watcher (pid ${String(local.watcherPid)}) is not running`, files);
  const unknown = worst('UNKNOWN');
  if (unknown !== undefined) return out('UNKNOWN', fileReason(unknown), files);
  const pending = worst('PENDING');
  if (pending !== undefined) return out('PENDING', fileReason(pending), files);
  return out('SYNCED', undefined, files);
}

/** Counts per state, in POD_STATES order. */
export function countStates(pods: readonly { state: PodState }[]): Record<PodState, number> {
  const counts: Record<PodState, number> = { SYNCED: 0, PENDING: 0, REJECTED: 0, FAILED: 0, UNKNOWN: 0 };
  for (const p of pods) counts[p.state]++;
  return counts;
}

/** The workload's state: the worst of its Pods' (FAILED > REJECTED > UNKNOWN > PENDING > SYNCED); no Pods is UNKNOWN. */
export function workloadState(pods: readonly { state: PodState }[]): PodState {
  if (pods.length === 0) return 'UNKNOWN';
  return pods.reduce<PodState>((acc, p) => (PRECEDENCE[p.state] > PRECEDENCE[acc] ? p.state : acc), 'SYNCED');
}
