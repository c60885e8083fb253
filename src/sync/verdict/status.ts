// `status`: per file, what is in the ConfigMap, what is published, what Envoy runs, and Envoy's last
// verdict. Read live where possible (the ConfigMap volume, the target directory, Envoy's admin API),
// and from the watcher's state file (state.ts) for the verdicts and addresses.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAdminAddress } from '../envoy/subscriptions.js';
import { EnvoyAdmin } from '../envoy/admin.js';
import { refusalSentence } from '../envoy/rejection-reason.js';
import { readSnapshot, isReservedName } from '../volume/snapshot.js';
import { contentVersion, publishable, sha256, versionOf } from '../envoy/version-stamp.js';
import { readState, refusedLast, stateDir, STATE_FILE } from './state.js';
import type { RefusalWhy, VerdictState } from './state.js';
import { validateConfigFile } from '../envoy/gate.js';
import { REFUSED_FIRST_SHORT, ignoredText, validateSentence, withReaderText } from './messages.js';
import { strandedText } from './routes-stranded.js';
import { refusedUnused } from './unused-refused.js';
import { removedMessage } from '../publish/published-log.js';
import type { WithReader } from './messages.js';

export interface FileStatus {
  file: string;
  /** Version of the ConfigMap's content (as it would be stamped), `sha256:<12>` for other files; undefined if the key is gone. */
  configMap?: string;
  /** The ConfigMap content is what Envoy refused, held back by `watch` (see `refusedPublished`). */
  held: boolean;
  /**
   * Set with `held` when the refused content is itself what is published (refusedStaysPublished):
   * Envoy refused it and no version of the file was accepted before, so nothing accepted came before
   * it to put back, and the file stays on disk.
   */
  refusedPublished?: true;
  /** Set with `held` when Envoy took the content but it went back with this CDS file, which Envoy refused (clusters-gone.ts). */
  heldWith?: string;
  /** The ConfigMap content is a file Envoy reads only when it builds its reader, held back by `watch` until that changes: why. */
  heldBack?: string;
  /** The ConfigMap content the validation gate refuses (`watch` never publishes it): where and why. */
  invalid?: { message: string; line?: number; column?: number };
  published?: string;
  /** Envoy has a subscription on this file (a path_config_source names it). */
  subscribed?: boolean;
  /** What Envoy reports running now, or last seen (`live: false`). */
  envoy?: { version: string; live: boolean; at?: string };
  /**
   * A file Envoy reads through another (a Lua script or `direct_response` body a resource reads
   * once, a certificate a Secret reads): no subscription of its own reports a version, so what
   * Envoy runs is the version accepted with its reader (runsWithReader).
   */
  withReader?: WithReader;
  verdict?: VerdictState['files'][string]['verdict'];
  /**
   * With `held`: why Envoy refused the ConfigMap's content, as kept with the refusal (state.ts
   * RefusalWhy), when the last verdict is not that refusal (a restarted watcher judged the
   * rolled-back file since).
   */
  refusal?: RefusalWhy & { version?: string };
  /** Its key is gone, and Envoy refused it, never took it and no published file names it (unused-refused.ts): not a refusal now. */
  unused?: true;
  /** The verdict is about a version that is neither published nor in the ConfigMap now. */
  verdictEarlier?: boolean;
}

export interface Status {
  targetDir: string;
  sourceDir: string;
  admin?: string;
  /** Why Envoy's admin API was not asked or did not answer. */
  adminProblem?: string;
  /** Why the ConfigMap volume could not be read. */
  sourceProblem?: string;
  /**
   * `--source api`: the watcher reads the ConfigMap from the API (the volume may lag), so the
   * CONFIGMAP column is what it last read there: that read's resourceVersion and time.
   */
  fromApi?: { resourceVersion?: string; at: string };
  watcherPid: number;
  /** Whether a `watch` process with that pid runs (seen from this PID namespace: run status in the watcher's container). */
  watcherRunning?: boolean;
  updatedAt: string;
  files: FileStatus[];
}

/**
 * WithReader for a published file with no `version_info` (`readThrough`) from its state entry;
 * undefined for any other file, and for one nothing judged (Envoy reads it through nothing). Pure.
 */
export function runsWithReader(recorded: VerdictState['files'][string] | undefined, readThrough: boolean): WithReader | undefined {
  if (!readThrough || recorded === undefined) return undefined;
  const accepted = recorded.accepted;
  if (accepted?.sha256 !== undefined) return { accepted: accepted.version ?? contentVersion(accepted.sha256), at: accepted.at };
  return recorded.verdict === undefined ? undefined : { none: true };
}

/**
 * The one rule for a refusal that nothing was put back for: the ConfigMap's content is the one
 * Envoy refused and it is what is published (no version of the file was accepted before it; the
 * verdict's line and Event say so too, messages.ts firstRefusedMessage).
 */
export function refusedStaysPublished(f: { held: boolean; published?: string | undefined; configMap?: string | undefined }): boolean {
  return f.held && f.published !== undefined && f.published === f.configMap;
}

/** What the CONFIGMAP column adds to a refused version: held back, or still published (refusedStaysPublished). */
export function refusedNote(f: Pick<FileStatus, 'held' | 'refusedPublished'>): string {
  if (!f.held) return '';
  return f.refusedPublished === true ? ` (${REFUSED_FIRST_SHORT})` : ' (refused, held back)';
}

export class NoStateError extends Error {
  override name = 'NoStateError';
}

/** Gathers the status of `targetDir`. Throws NoStateError if no watcher ever wrote state there. */
export async function gatherStatus(targetDir: string, opts: { timeoutMs?: number } = {}): Promise<Status> {
  const state = await readState(targetDir);
  if (state === undefined) {
    throw new NoStateError(`no verdict state at ${join(stateDir(targetDir), STATE_FILE)}: is 'watch' running with --to ${targetDir}? (it writes the state as it starts)`);
  }
  const names = new Set(Object.keys(state.files));
  const source = new Map<string, Buffer>();
  let sourceProblem: string | undefined;
  // From the API, what the watcher read (and judged) is the ConfigMap; the volume may lag it.
  const fromApi = state.configMap;
  if (fromApi !== undefined) {
    for (const name of Object.keys(fromApi.files)) names.add(name);
  } else {
    try {
      for (const [name, content] of (await readSnapshot(state.sourceDir)).files) {
        source.set(name, content);
        names.add(name);
      }
    } catch (err) {
      sourceProblem = (err as Error).message;
    }
  }
  for (const name of await readdir(targetDir)) if (!isReservedName(name)) names.add(name);

  const live = new Map<string, string>();
  let answered = false;
  let adminProblem: string | undefined = state.admin === undefined ? 'the watcher has no admin address' : undefined;
  if (state.admin !== undefined) {
    const prefixes = [...new Set(Object.values(state.files).flatMap((f) => (f.subscriptions ?? []).map((s) => s.statPrefix)))];
    const admin = new EnvoyAdmin(parseAdminAddress(state.admin));
    try {
      // Asked with no prefixes too (before Envoy's first answer the state names no subscription):
      // an Envoy not up yet is said, not left as '-' everywhere.
      for (const [prefix, stats] of await admin.subscriptionStats(prefixes, opts.timeoutMs ?? 2000)) live.set(prefix, stats.versionText);
      answered = true;
    } catch (err) {
      adminProblem = `Envoy admin ${state.admin} unreachable: ${(err as Error).message}`;
    } finally {
      admin.close();
    }
  }

  const files: FileStatus[] = [];
  for (const file of [...names].sort()) {
    const recorded = state.files[file];
    const content = source.get(file);
    const wouldPublish = fromApi !== undefined ? fromApi.files[file] : content === undefined ? undefined : publishable(file, content);
    // The ConfigMap's version as it would be stamped; `sha256:<12>` for a file that carries none.
    const configMap = wouldPublish === undefined ? undefined : (wouldPublish.version ?? contentVersion(wouldPublish.sha256));
    const publishedContent = await readFile(join(targetDir, file)).catch(() => undefined);
    const publishedVersion = publishedContent === undefined ? undefined : versionOf(file, publishedContent);
    const published = publishedContent === undefined ? undefined : (publishedVersion ?? contentVersion(sha256(publishedContent)));
    const heldBack = wouldPublish !== undefined && recorded?.heldBack?.sha256 === wouldPublish.sha256 && configMap !== published ? recorded.heldBack.message : undefined;
    // Held back is refused too when Envoy refused this content with its reader (only the reader went back).
    const refusedWithReader = heldBack !== undefined && refusedLast(recorded, configMap);
    const held = wouldPublish !== undefined && (recorded?.refused?.sha256 === wouldPublish.sha256 || refusedWithReader);
    // The gate's word on content that is not published: the watcher logged it, status says it too.
    const unpublished = configMap !== published && !held;
    const gate = content === undefined || !unpublished ? undefined : await validateConfigFile(file, content);
    const invalid = fromApi !== undefined
      ? (unpublished ? fromApi.files[file]?.invalid : undefined)
      : gate?.ok === false ? { message: gate.error.message, ...(gate.error.line === undefined ? {} : { line: gate.error.line }), ...(gate.error.column === undefined ? {} : { column: gate.error.column }) } : undefined;
    const verdictVersion = recorded?.verdict?.version;
    const verdictEarlier = verdictVersion !== undefined && verdictVersion !== published && verdictVersion !== configMap;
    // The refusal holding the content back, and why Envoy refused it, when the last verdict no longer says it.
    const kept = !held ? undefined : refusedWithReader && recorded?.refusedWithReader?.version === configMap ? recorded?.refusedWithReader?.why : recorded?.refused?.why;
    const saidByVerdict = recorded?.verdict?.outcome === 'rejected' && !verdictEarlier;
    const refusal = kept === undefined || saidByVerdict ? undefined : { ...kept, ...(configMap === undefined ? {} : { version: configMap }) };
    // Envoy answered without any subscription of the file (a restarted Envoy that has not opened
    // it): it runs none of it now, whatever an earlier process ran.
    // A file with no version_info (a certificate or key a Secret reads, a Lua script) has no
    // subscription of its own: the Secret's version_text is not its version, so Envoy's column says
    // the version accepted with its reader (runsWithReader).
    const readThrough = publishedContent !== undefined && publishedVersion === undefined;
    const subscriptions = readThrough ? [] : (recorded?.subscriptions ?? []);
    const liveVersion = subscriptions.map((s) => live.get(s.statPrefix)).find((v) => v !== undefined) ?? (answered && subscriptions.length > 0 ? '' : undefined);
    const envoy = liveVersion !== undefined
      ? { version: liveVersion, live: true }
      : recorded?.envoy === undefined || readThrough ? undefined : { version: recorded.envoy.version, live: false, at: recorded.envoy.at };
    const withReader = envoy === undefined ? runsWithReader(recorded, readThrough) : undefined;
    files.push({
      file,
      held,
      ...(withReader === undefined ? {} : { withReader }),
      ...(refusedStaysPublished({ held, published, configMap }) ? { refusedPublished: true as const } : {}),
      ...(held && recorded?.refused?.withRefused !== undefined ? { heldWith: recorded.refused.withRefused } : {}),
      subscribed: subscriptions.length > 0,
      ...(invalid === undefined ? {} : { invalid }),
      ...(heldBack === undefined ? {} : { heldBack }),
      ...(configMap === undefined ? {} : { configMap }),
      ...(published === undefined ? {} : { published }),
      ...(envoy === undefined ? {} : { envoy }),
      ...(recorded?.verdict === undefined ? {} : { verdict: recorded.verdict, ...(verdictEarlier ? { verdictEarlier } : {}) }),
      ...(refusal === undefined ? {} : { refusal }),
      ...(configMap === undefined && refusedUnused(recorded) ? { unused: true as const } : {}),
    });
  }
  return {
    targetDir,
    sourceDir: state.sourceDir,
    ...(state.admin === undefined ? {} : { admin: state.admin }),
    ...(adminProblem === undefined ? {} : { adminProblem }),
    ...(sourceProblem === undefined ? {} : { sourceProblem }),
    ...(fromApi === undefined ? {} : { fromApi: { ...(fromApi.resourceVersion === undefined ? {} : { resourceVersion: fromApi.resourceVersion }), at: fromApi.at } }),
    watcherPid: state.pid,
    watcherRunning: await isWatchProcess(state.pid),
    updatedAt: state.updatedAt,
    files,
  };
}

/** Whether `pid` is a running `watch` (its /proc cmdline; without /proc, whether the pid exists). */
async function isWatchProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || cmdline.split('\0').includes('watch');
}

/** The LAST VERDICT column's tail for a rollback: a file Envoy took says it went back with the refused CDS file (verdict.ts withdrawnWith). */
function withdrawnText(v: NonNullable<FileStatus['verdict']>): string {
  if (v.withdrawnWith !== undefined) return v.rolledBack ? `, went back with ${v.withdrawnWith}, which Envoy refused` : `, but Envoy refused ${v.withdrawnWith}`;
  return v.rolledBack ? ', rolled back' : '';
}

/** The human table `status` prints. */
export function formatStatus(status: Status): string {
  const rows = [['FILE', 'CONFIGMAP', 'PUBLISHED', 'ENVOY RUNS', 'LAST VERDICT']];
  for (const f of status.files) {
    const verdict = f.verdict === undefined
      ? '-'
      : `${f.verdictEarlier === true ? 'earlier version: ' : ''}${f.verdict.withdrawnWith === undefined ? f.verdict.outcome : 'took'} ${f.verdict.version ?? ''} at ${f.verdict.at}${f.verdict.latencyMs === undefined ? '' : ` (${String(f.verdict.latencyMs)} ms)`}${withdrawnText(f.verdict)}${ignoredText(f.verdict.ignoredFields, f.verdict.ignoredAmong, f.verdict.ignoredWhen)}${strandedText(f.verdict.strandedRoutes)}`;
    rows.push([
      f.file,
      `${f.configMap ?? '(removed)'}${refusedNote(f)}${f.invalid === undefined ? '' : ' (refused by the gate, not published)'}${f.heldBack === undefined || f.held ? '' : ' (held back, see below)'}`,
      f.published ?? '-',
      f.envoy === undefined ? (f.withReader === undefined ? '-' : withReaderText(f.withReader)) : `${f.envoy.version === '' ? '(none)' : f.envoy.version}${f.envoy.live ? '' : ` (last seen ${f.envoy.at ?? '?'})`}`,
      verdict.replace(/ {2,}/g, ' '),
    ]);
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  // Why Envoy refused a file: too long for the table, one line each below it.
  const gate = status.files.flatMap((f) => (f.invalid === undefined
    ? []
    : [`${f.file}${f.invalid.line === undefined ? '' : `:${String(f.invalid.line)}${f.invalid.column === undefined ? '' : `:${String(f.invalid.column)}`}`} ${f.configMap ?? ''}: ${f.invalid.message}; the last good version stays published (${f.published ?? 'none'})`]));
  // Envoy took these; they went back with a refused CDS file: the verdict's line, or what the hold says.
  const withdrawn = status.files.flatMap((f) => (f.verdict?.withdrawnWith !== undefined && f.verdictEarlier !== true
    ? [f.verdict.message]
    : f.heldWith === undefined ? [] : [`${f.file} ${f.configMap ?? ''}: Envoy took it; held back with ${f.heldWith}, which Envoy refused`]));
  const why = status.files.flatMap((f) => {
    const v = f.verdict?.outcome === 'rejected' && f.verdict.withdrawnWith === undefined && f.verdictEarlier !== true ? f.verdict : f.refusal;
    if (v === undefined || f.unused === true) return [];
    const sentence = refusalSentence({ reason: v.reason, possiblyEarlier: v.reasonPossiblyEarlier, envoyLog: v.envoyLog, fromCounters: v.reasonFromCounters });
    // A refusal a schema check sees: the `validate` the verdict's line gave, in its words.
    const validate = v.schema === undefined || v.validate === undefined ? '' : `; ${validateSentence(v.schema, v.validate)}`;
    return sentence === undefined ? [] : [`${f.file} ${v.version ?? ''}: ${sentence}${validate}`];
  });
  // Accepted, but Envoy ignored fields it does not know: the verdict's message says which command names them.
  const ignored = status.files.flatMap((f) => (f.verdict?.outcome === 'accepted' && (f.verdict.ignoredFields ?? 0) > 0 && f.verdictEarlier !== true ? [f.verdict.message] : []));
  // Accepted, but routes still name a cluster it removed: the verdict's message says what a restart would do.
  const stranded = status.files.flatMap((f) => (f.verdict?.outcome === 'accepted' && (f.verdict.strandedRoutes?.length ?? 0) > 0 && f.verdictEarlier !== true ? [f.verdict.message] : []));
  // Unknown: the row says no more than the word; the verdict's message says why (no answer, a reader refused).
  const unknown = status.files.flatMap((f) => (f.verdict?.outcome === 'unknown' ? [f.verdict.message] : []));
  const heldBack = status.files.flatMap((f) => (f.heldBack === undefined ? [] : [f.heldBack]));
  // A refused file Envoy does not use, its key gone: kept, as the watcher's line says, and no refusal now.
  const unused = status.files.flatMap((f) => (f.unused === true ? [removedMessage(f.file, true)] : []));
  const lines = [
    `source ${status.fromApi === undefined ? status.sourceDir : `the Kubernetes API (resourceVersion ${status.fromApi.resourceVersion ?? '?'}, read ${status.fromApi.at}; volume ${status.sourceDir})`}  target ${status.targetDir}  watcher pid ${String(status.watcherPid)}${status.watcherRunning !== false ? '' : ' (not running: what follows is what it last recorded)'}  state updated ${status.updatedAt}`,
    `envoy admin ${status.admin ?? '(none)'}${status.adminProblem === undefined ? '' : `: ${status.adminProblem}`}`,
    ...(status.sourceProblem === undefined ? [] : [`ConfigMap volume unreadable: ${status.sourceProblem}`]),
    '',
    ...rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')),
    ...(gate.length === 0 ? [] : ['', 'WHY THE WATCHER\'S GATE REFUSED (never published)', ...gate]),
    ...(why.length === 0 ? [] : ['', 'WHY ENVOY REFUSED', ...why]),
    ...(unused.length === 0 ? [] : ['', 'REMOVED FROM THE CONFIGMAP', ...unused]),
    ...(withdrawn.length === 0 ? [] : ['', 'WENT BACK WITH A CDS FILE ENVOY REFUSED (Envoy took these)', ...withdrawn]),
    ...(unknown.length === 0 ? [] : ['', 'WHY THE VERDICT IS UNKNOWN', ...unknown]),
    ...(ignored.length === 0 ? [] : ['', 'ENVOY IGNORED UNKNOWN FIELDS', ...ignored]),
    ...(stranded.length === 0 ? [] : ['', 'ROUTES TO CLUSTERS ENVOY NO LONGER HAS (a restarted Envoy would refuse them)', ...stranded]),
    ...(heldBack.length === 0 ? [] : ['', 'HELD BACK (Envoy reads these only when it builds the resource reading them)', ...heldBack]),
  ];
  return `${lines.join('\n')}\n`;
}
