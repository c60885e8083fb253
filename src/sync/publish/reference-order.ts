// The order of one pass's renames. Envoy refuses a Listener or Cluster whose path_config_source
// names a file that does not exist yet ("paths must refer to an existing path in the system",
// `Config::Utility::checkFilesystemSubscriptionBackingPath` in source/common/config/utility.cc),
// and it reads a named file the moment the naming file is applied. So a file named by another
// file of the same change is renamed first; among files with no such link, the xDS make-before-
// break rank decides (publishRank: clusters before endpoints before listeners before routes), then
// the name.

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
