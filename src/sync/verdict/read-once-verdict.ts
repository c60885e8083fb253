// The verdict on a file a resource reads once (a Lua script, a direct_response body:
// publish/read-once.ts), pure. Envoy reads it only when it builds that resource, which it does
// when the file holding the resource is applied with a change to it: the `watch` publishes the two
// together (the data file first) and Envoy's verdict on the reader is the data file's too. A Lua
// script that does not compile makes Envoy refuse the listener (`script load error`): a refusal of
// the reader is the data file's too when what Envoy refused reads it (riderBlame), and both go back
// to what Envoy runs (the data file first, so that the reader's rollback never makes Envoy build
// with the refused data). A data file Envoy's refusal is not about goes back too, not judged.
import type { ReadOnceReader } from '../publish/read-once.js';
import type { Pending } from './pending.js';

/** The publish of one of `readers` (files holding resources that read the file) waiting for its verdict, to judge the file with; undefined when none is. */
export function readerPublish(readers: readonly string[], pending: ReadonlyMap<string, Pending>): { file: string; sha256: string } | undefined {
  for (const file of readers) {
    const publish = pending.get(file);
    if (publish !== undefined && publish.reader === undefined) return { file, sha256: publish.sha256 };
  }
  return undefined;
}

/** `reader` with the names of its resources that read the file (`readers`: readOnceReaders), for riderBlame; none when one of them has no name (any may read it). Pure. */
export function withResources<T extends { file: string }>(reader: T, readers: readonly ReadOnceReader[]): T & { resources?: string[] } {
  const reading = readers.filter((r) => r.file === reader.file);
  const names = reading.flatMap((r) => (r.resource === undefined ? [] : [r.resource]));
  return names.length === reading.length && names.length > 0 ? { ...reader, resources: names } : reader;
}

/** The pending files judged through `reader`'s publish (reader.file, reader.sha256). */
export function ridersOf(reader: Pick<Pending, 'file' | 'sha256'>, pending: Iterable<Pending>): Pending[] {
  return [...pending].filter((p) => p.reader?.file === reader.file && p.reader.sha256 === reader.sha256);
}

/**
 * A rider whose reader's publish is no longer pending: `wait` while a newer publish of the reader
 * is (it is judged with that one, `adopt`), else `lost` (the reader's verdict came without it, or
 * it was dropped: unknown).
 */
export function riderState(rider: Pending, pending: ReadonlyMap<string, Pending>): 'wait' | { adopt: string } | 'lost' {
  const reader = rider.reader;
  if (reader === undefined) return 'lost';
  const now = pending.get(reader.file);
  if (now === undefined || now.reader !== undefined) return 'lost';
  return now.sha256 === reader.sha256 ? 'wait' : { adopt: now.sha256 };
}

/** What a verdict on a rider adds to its message: which publish judged it. */
export function riderNote(file: string, reader: string): string {
  return ` (judged with ${reader}: Envoy reads ${file} only when it builds the resource of ${reader} that names it)`;
}

/** A file judged with its reader, as `riderBlame` reads it: the resources of the reader that read it, and its content. */
export interface Rider {
  file: string;
  /** The names of the resources of the reader file that read it (listener_0); undefined when one of them has no name. */
  resources: readonly string[] | undefined;
  content: Buffer;
}

/**
 * Whether Envoy's refusal of the reader file (`why`: its reason, rejection-reason.ts) is a refusal
 * of `rider`, pure. Envoy reads the rider only when it builds a resource that names it, so:
 * - Envoy refused the file before building any resource (it did not parse, or failed proto
 *   validation: `schema: 'sees'`), or refused only listeners that do not read the rider: Envoy did
 *   not judge it (`not-judged`, with why in words);
 * - Envoy refused a listener that reads it: `refused`, unless other riders of this publish are read
 *   by a refused listener too and Envoy's reason names some of them but not this one (its path or
 *   file name, or a Lua chunk name, which quotes the first line of the script: luaO_chunkid);
 * - Envoy's admin API names no resource (a route configuration of RDS, a reason not read): the
 *   refusal may be the rider's, so it stays `refused` (a restarted Pod would start from it).
 * `others`: the other riders judged with the same publish. `notJudged` says why, after "<rider> rolled back with ".
 */
export function riderBlame(rider: Rider, others: readonly Rider[], why: { reason?: string; listeners?: readonly string[]; schema?: string } | undefined, reader: string): 'refused' | { notJudged: string } {
  if (why === undefined) return 'refused';
  if (why.schema === 'sees') return { notJudged: `${reader}, which Envoy refused before building any resource of it (it did not load the file); Envoy did not judge ${rider.file}` };
  const refused = why.listeners;
  if (refused === undefined || why.reason === undefined) return 'refused';
  const readsIt = (r: Rider): boolean => r.resources === undefined || r.resources.some((name) => refused.includes(name));
  const said = `Envoy says: ${why.reason}`;
  if (!readsIt(rider)) {
    const which = refused.map((name) => `listener ${name}`).join(', ');
    return { notJudged: `${reader}, which Envoy refused for ${which} (${said}); nothing Envoy refused reads ${rider.file}: Envoy did not judge ${rider.file}` };
  }
  const suspects = [rider, ...others].filter(readsIt);
  if (suspects.length === 1) return 'refused';
  const reason = why.reason;
  const named = suspects.filter((r) => namesRider(reason, r));
  if (named.length === 0 || named.includes(rider)) return 'refused';
  return { notJudged: `${reader}, which Envoy refused for a listener that reads it (${said}); Envoy's reason names ${named.map((r) => r.file).join(', ')}, not ${rider.file}: Envoy did not judge ${rider.file}` };
}

/** Whether Envoy's `reason` names `rider`: its file name, or (a Lua script) the chunk name Lua gives a script loaded from a string, `[string "<its first line>..."]`. */
function namesRider(reason: string, rider: Rider): boolean {
  if (reason.includes(`/${rider.file}`)) return true;
  const firstLine = rider.content.toString('utf8').split('\n', 1)[0]?.trim() ?? '';
  return firstLine.length > 0 && reason.includes(`[string "${firstLine.slice(0, 24)}`);
}
