// The writes the watcher makes to the last-accepted store (writer.ts does the requests), pure:
// - one change per verdict (accepted content and mark, or a refusal mark), applied to the record
//   and the ConfigMap's data;
// - `unkept`: accepted content the store cannot hold (a ConfigMap holds at most 1 MiB of data, the
//   store holds the files plus the record): the mark names the version and why it is not kept, and
//   the older accepted content goes, so that `copy` never presents it as the last accepted;
// - `refill`: what puts this watcher's own last verdicts back into a store that lost them (deleted
//   and re-created empty by `rbac | kubectl apply`, a GitOps prune, a hand edit). An intact
//   accepted version of another Pod's Envoy stays (which is newer is not knowable here; each Pod
//   writes its own next verdict anyway), and so does a mark the store could not hold;
// - `holdsRefusal`: whether the store matters now (its --store-check reads run only then).
import type { LastAcceptedRecord, Mark } from './record.js';

export type Change =
  /** `content` undefined: the store cannot hold it (`accepted.unkept` says why). */
  | { file: string; accepted: Mark; content: string | undefined }
  | { file: string; refused: Mark };

/** One pending change per file and kind: a newer verdict of the same kind replaces the older. */
export const keyOf = (change: Change): string => `${'refused' in change ? 'refused' : 'accepted'}:${change.file}`;

/** Applies one change to `record` (and the accepted content to `body`'s data); returns whether anything changed. */
export function apply(record: LastAcceptedRecord, body: { data?: Record<string, string> } | undefined, change: Change): boolean {
  const entry = (record.files[change.file] ??= {});
  if ('refused' in change) {
    if (entry.refused?.sha256 === change.refused.sha256) return false;
    entry.refused = change.refused;
    return true;
  }
  const contentChanged = body !== undefined && body.data?.[change.file] !== change.content;
  if (body !== undefined) {
    const data = Object.entries(body.data ?? {}).filter(([key]) => key !== change.file);
    if (change.content !== undefined) data.push([change.file, change.content]);
    body.data = Object.fromEntries(data);
  }
  if (entry.accepted?.sha256 === change.accepted.sha256 && entry.accepted.unkept === change.accepted.unkept && !contentChanged) return false;
  entry.accepted = change.accepted;
  // Envoy now runs this content: a refusal of the same content (another Envoy's) no longer holds.
  if (entry.refused?.sha256 === change.accepted.sha256) delete entry.refused;
  return true;
}

/** Whether `known` (a record as read, without its data) already says all of `changes`: then nothing is sent. */
export function alreadyHeld(known: LastAcceptedRecord | undefined, changes: readonly Change[]): boolean {
  return known !== undefined && !changes.some((c) => apply(structuredClone(known), undefined, c));
}

/** `changes` with every accepted content dropped and marked unkept for `why` (the store refused it). */
export function unkept(changes: readonly Change[], why: string): Change[] {
  return changes.map((c) => ('accepted' in c && c.content !== undefined ? { file: c.file, accepted: { ...c.accepted, unkept: why }, content: undefined } : c));
}

export function formatRecord(record: LastAcceptedRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** The last verdicts this watcher's Envoy gave for one file. */
export interface OwnVerdicts {
  accepted?: { mark: Mark; content: string | undefined };
  refused?: Mark;
}

/**
 * The changes that make the store (its record, undefined when it has none or it does not parse,
 * and its data) hold this watcher's own verdicts again; empty when it does. `sha256`: hex of UTF-8 text.
 */
export function refill(record: LastAcceptedRecord | undefined, data: Readonly<Record<string, string>>, own: ReadonlyMap<string, OwnVerdicts>, sha256: (text: string) => string): Change[] {
  const out: Change[] = [];
  for (const [file, mine] of own) {
    const entry = record?.files[file];
    const stored = entry?.accepted;
    const content = data[file];
    const intact = stored !== undefined && (stored.unkept !== undefined || (content !== undefined && sha256(content) === stored.sha256));
    if (mine.accepted !== undefined && !intact) out.push({ file, accepted: mine.accepted.mark, content: mine.accepted.content });
    if (mine.refused !== undefined && entry?.refused === undefined && (mine.accepted === undefined || mine.refused.at > mine.accepted.mark.at)) out.push({ file, refused: mine.refused });
  }
  return out;
}

/**
 * Whether this watcher's Envoy refused the last version it judged of some file (a refusal newer
 * than its last acceptance). Only then does the store matter to a new Pod: its `copy` starts from
 * the store's accepted content only when the ConfigMap's is refused (reader.ts); while Envoy
 * accepted every file's last version, a new Pod starts from the ConfigMap, store or not, and a
 * store lost meanwhile is refilled by the next write (writer.ts puts back what it lacks).
 */
export function holdsRefusal(own: ReadonlyMap<string, OwnVerdicts>): boolean {
  for (const mine of own.values()) {
    if (mine.refused !== undefined && (mine.accepted === undefined || mine.refused.at > mine.accepted.mark.at)) return true;
  }
  return false;
}
