// The order of one pass's renames. Envoy refuses a Listener or Cluster whose path_config_source
// names a file that does not exist yet ("paths must refer to an existing path in the system",
// `Config::Utility::checkFilesystemSubscriptionBackingPath` in source/common/config/utility.cc),
// and it reads a named file the moment the naming file is applied. So a file named by another
// file of the same change is renamed first; among files with no such link, the xDS make-before-
// break rank decides (publishRank: clusters before endpoints before listeners before routes), then
// the name.
import { publishRank, resourceTypes } from '../envoy/gate.js';
import type { FileKind } from '../envoy/gate.js';
import { findReferences } from '../envoy/references.js';
import type { Reference, ReferenceType } from '../envoy/references.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { renameWaits } from './rename-waits.js';

export interface Ordered {
  name: string;
  /** publishRank of the file's kind (lower first). */
  rank: number;
  /** Base names of the files this one names (references.ts), whether or not they change. */
  names: readonly string[];
}

/**
 * The files in rename order: every file after the files of the same list it names; a cycle (two
 * files naming each other) is broken by rank, then name. Pure; O(n²) for the few files of a ConfigMap.
 */
export function referenceOrder<T extends Ordered>(files: readonly T[]): T[] {
  const byName = new Map(files.map((file) => [file.name, file]));
  // before.get(x): the files of this list that must be renamed before x (those x names).
  const before = new Map(files.map((file) => [file.name, new Set(file.names.filter((named) => named !== file.name && byName.has(named)))]));
  const done = new Set<string>();
  const order: T[] = [];
  const byRank = (a: T, b: T): number => a.rank - b.rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  while (order.length < files.length) {
    const left = files.filter((file) => !done.has(file.name));
    const ready = left.filter((file) => [...(before.get(file.name) ?? [])].every((named) => done.has(named)));
    const next = (ready.length > 0 ? ready : left).sort(byRank)[0];
    if (next === undefined) break;
    done.add(next.name);
    order.push(next);
  }
  return order;
}

/**
 * `changes` in rename order, each ranked by publishRank with the subscriptions that read it, from
 * `references`: every file of the ConfigMap (changed or not: the bootstrap names cds.yaml) → the
 * files it names (fileReferences). Pure.
 */
export function publishOrder<T extends { name: string; kind: FileKind }>(changes: readonly T[], references: ReadonlyMap<string, readonly Reference[]>): T[] {
  const readAs = readAsByFile(references);
  const ranked = changes.map((change) => ({
    change,
    name: change.name,
    rank: publishRank(change.kind, readAs.get(change.name)),
    names: (references.get(change.name) ?? []).map((ref) => ref.file),
  }));
  return referenceOrder(ranked).map((entry) => entry.change);
}

/**
 * `changes` in rename order (publishOrder), each with the files renamed before it that Envoy must
 * have read before it is renamed (rename-waits.ts; mostly none). `adds`: whether a change brings
 * resource names its published version lacks (undefined: not known). Pure.
 */
export function publishPlan<T extends { name: string; kind: FileKind }>(
  changes: readonly T[],
  references: ReadonlyMap<string, readonly Reference[]>,
  adds: (change: T) => boolean | undefined = () => undefined,
): { change: T; waitFor: string[] }[] {
  const readAs = readAsByFile(references);
  const ordered = publishOrder(changes, references);
  const waits = renameWaits(ordered.map((change) => {
    const added = adds(change);
    return { name: change.name, types: resourceTypes(change.kind, readAs.get(change.name)), ...(added === undefined ? {} : { adds: added }) };
  }));
  return ordered.map((change, index) => ({ change, waitFor: waits[index] ?? [] }));
}

/** File → the subscription types that read it, from every file's references. */
function readAsByFile(references: ReadonlyMap<string, readonly Reference[]>): Map<string, ReferenceType[]> {
  const readAs = new Map<string, ReferenceType[]>();
  for (const list of references.values()) for (const ref of list) readAs.set(ref.file, [...(readAs.get(ref.file) ?? []), ref.type]);
  return readAs;
}

/** The files `content` names (path_config_source paths, a secret's files); parsed only when it may name any. */
export function fileReferences(content: Buffer): Reference[] {
  const text = content.toString('utf8');
  if (!text.includes('path') && !text.includes('filename')) return [];
  return findReferences(parseConfig(text));
}
