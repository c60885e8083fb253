// What `status` prints for one target (gatherStatus, status.ts): the table, then a line per file
// under headings for what the table cannot hold (why Envoy refused, why a verdict is unknown, ...). Pure.
import { refusalSentence } from '../envoy/rejection-reason.js';
import { REFUSED_FIRST_SHORT, ignoredText, validateSentence, withReaderText } from './messages.js';
import { strandedText } from './routes-stranded.js';
import { runsOfRefusedText } from './status-applied.js';
import { strandedLineNow } from './stranded-now.js';
import { readerRefusedText } from './status-readers.js';
import type { FileStatus, Status } from './status.js';
import { removedMessage } from '../publish/published-log.js';

/** What the CONFIGMAP column adds to a refused version: held back, or still published (refusedStaysPublished). */
export function refusedNote(f: Pick<FileStatus, 'held' | 'refusedPublished' | 'refusedAccepted' | 'heldWith'>): string {
  if (!f.held) return '';
  // Envoy took it: not refused, it went back with the CDS file Envoy refused (clusters-gone.ts).
  if (f.heldWith !== undefined) return ` (held back with ${f.heldWith})`;
  if (f.refusedAccepted === true) return ' (refused by an Envoy started since, stays published: the version accepted before)';
  return f.refusedPublished === true ? ` (${REFUSED_FIRST_SHORT})` : ' (refused, held back)';
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
      ? (f.readerRefused === undefined ? '-' : readerRefusedText(f.readerRefused))
      : `${f.verdictEarlier === true ? 'earlier version: ' : ''}${f.verdict.withdrawnWith === undefined ? f.verdict.outcome : 'took'} ${f.verdict.version ?? ''} at ${f.verdict.at}${f.verdict.latencyMs === undefined ? '' : ` (${String(f.verdict.latencyMs)} ms)`}${withdrawnText(f.verdict)}${ignoredText(f.verdict.ignoredFields, f.verdict.ignoredAmong, f.verdict.ignoredWhen)}${strandedText(f.verdict.strandedRoutes)}`;
    rows.push([
      f.file,
      `${f.configMap ?? '(removed)'}${refusedNote(f)}${f.invalid === undefined ? '' : ' (refused by the gate, not published)'}${f.heldBack === undefined || f.held ? '' : ' (held back, see below)'}`,
      f.published ?? '-',
      f.envoy === undefined ? (f.withReader === undefined ? '-' : withReaderText(f.withReader)) : `${f.envoy.version === '' ? '(none)' : f.envoy.version}${runsOfRefusedText(f.envoy.runs)}${f.envoy.live ? '' : ` (last seen ${f.envoy.at ?? '?'})`}`,
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
  // Accepted, but routes still name a cluster it removed: the verdict's message says what a restart would do, unless Envoy refused a route file since (stranded-now.ts).
  const stranded = status.files.flatMap((f) => (f.verdict?.outcome === 'accepted' && f.verdict.strandedRoutes !== undefined && f.verdict.strandedRoutes.length > 0 && f.verdictEarlier !== true ? [strandedLineNow(f.verdict.message, f.file, f.verdict.version ?? '', f.verdict.strandedRoutes, status.files)] : []));
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
    ...(stranded.length === 0 ? [] : ['', 'ROUTES TO CLUSTERS ENVOY NO LONGER HAS (each line says what a restarted Envoy would do)', ...stranded]),
    ...(heldBack.length === 0 ? [] : ['', 'HELD BACK (Envoy reads these only when it builds the resource reading them)', ...heldBack]),
  ];
  return `${lines.join('\n')}\n`;
}
