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
import { mentions } from './refusal-cause.js';

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
 * What Envoy's refusal of the reader file says of one file read with it (riderBlame): `refused`;
 * `unproven` (refused, but Envoy's reason does not tell which of the riders); `notJudged` (not the
 * rider's doing: it goes back with the reader, or stays published with a first version); or
 * `acceptedWith` (Envoy runs every resource reading the rider from this version: judged by them).
 */
export type Blame = 'refused' | { unproven: string } | { notJudged: string } | { acceptedWith: string };

/**
 * Envoy's error for a listener whose address it could not bind (`ListenSocketImpl::bind`,
 * source/common/network/listen_socket_impl.cc: "cannot bind '{address}': {strerror}"). Envoy binds
 * only after it built the listener's filter chains (measured on 1.40: a listener on a port already
 * taken with a Lua script that does not compile is refused for the script, `script load error`), so
 * a read-once file of that listener is read and built without error: never the cause.
 */
const BIND_ERROR = "cannot bind '";

/**
 * Whether Envoy's refusal of the reader file (`why`: its reason, rejection-reason.ts) is a refusal
 * of `rider`, pure. Envoy reads the rider only when it builds a resource that names it, so:
 * - Envoy refused the file before building any resource (it did not parse, or failed proto
 *   validation: `schema: 'sees'`), or refused only listeners that do not read the rider: Envoy did
 *   not judge it (`not-judged`, with why in words); but when the reader file stays published (its
 *   first version: `running` is given, the names of its resources Envoy runs from this version) and
 *   Envoy runs every listener reading the rider, those listeners judged it: `acceptedWith`
 *   (fresh-user trial: a script of the served listener stayed `unknown` after a first start that
 *   refused another listener of the file);
 * - Envoy refused the listeners reading it only for an address it could not bind (BIND_ERROR):
 *   not the rider's doing (`notJudged`, saying so);
 * - Envoy refused a listener that reads it: `refused`, unless other riders of this publish are read
 *   by a refused listener too and Envoy's reason names some of them but not this one (its path or
 *   file name, or the Lua chunk name of a script: luaChunkName); when it names none of them, or
 *   names this one and another alike (two scripts whose chunk names are the same), each stays
 *   refused and `unproven` says that Envoy's reason does not tell which one it refused;
 * - Envoy's admin API names no resource (a route configuration of RDS, a reason not read): the
 *   refusal may be the rider's, so it stays `refused` (a restarted Pod would start from it).
 * `others`: the other riders judged with the same publish. `notJudged` says why, after "<rider> rolled back with ".
 */
export function riderBlame(
  rider: Rider,
  others: readonly Rider[],
  why: { reason?: string; listeners?: readonly string[]; details?: Readonly<Record<string, string>>; schema?: string } | undefined,
  reader: string,
  running?: readonly string[],
): Blame {
  if (why === undefined) return 'refused';
  if (why.schema === 'sees') return { notJudged: `${reader}, which Envoy refused before building any resource of it (it did not load the file); Envoy did not judge ${rider.file}` };
  const refused = why.listeners;
  if (refused === undefined || why.reason === undefined) return 'refused';
  const readsIt = (r: Rider): boolean => r.resources === undefined || r.resources.some((name) => refused.includes(name));
  const said = `Envoy says: ${why.reason}`;
  const listeners = (names: readonly string[]): string => names.map((name) => `listener ${name}`).join(', ');
  if (!readsIt(rider)) {
    const which = listeners(refused);
    const readers = rider.resources ?? [];
    if (running !== undefined && readers.length > 0 && readers.every((name) => running.includes(name))) {
      return { acceptedWith: `Envoy runs ${listeners(readers)} of ${reader}, which ${readers.length === 1 ? 'reads' : 'read'} ${rider.file}, from this version of ${reader}; it refused only ${which} (${said})` };
    }
    return { notJudged: `${reader}, which Envoy refused for ${which} (${said}); nothing Envoy refused reads ${rider.file}: Envoy did not judge ${rider.file}` };
  }
  const reading = refused.filter((name) => rider.resources === undefined || rider.resources.includes(name));
  const details = why.details;
  if (details !== undefined && reading.length > 0 && reading.every((name) => (details[name] ?? '').startsWith(BIND_ERROR))) {
    const one = reading.length === 1;
    return { notJudged: `${reader}, which Envoy refused for ${listeners(reading)} (${said}): Envoy built ${one ? 'it' : 'them'} with ${rider.file}, then could not bind ${one ? 'its' : 'their'} address, which ${rider.file} does not cause; fix the address in ${reader}: Envoy did not judge ${rider.file}` };
  }
  const suspects = [rider, ...others].filter(readsIt);
  if (suspects.length === 1) return 'refused';
  const reason = why.reason;
  const named = suspects.filter((r) => namesRider(reason, r));
  const files = (list: readonly Rider[]): string => list.map((r) => r.file).join(', ');
  if (named.length === 0) return { unproven: `Envoy's reason names none of ${files(suspects)}, read with ${reader}: any of them may be what it refused, so each stays refused` };
  if (!named.includes(rider)) return { notJudged: `${reader}, which Envoy refused for a listener that reads it (${said}); Envoy's reason names ${files(named)}, not ${rider.file}: Envoy did not judge ${rider.file}` };
  if (named.length === 1) return 'refused';
  return { unproven: `Envoy's reason fits each of ${files(named)} alike (a Lua script is quoted by its first line, up to 45 bytes): it does not prove which one Envoy refused, so each stays refused` };
}

/**
 * The name LuaJIT gives a script loaded from a string, as its errors quote it. Envoy loads a Lua
 * filter's code with `luaL_dostring` (source/extensions/filters/common/lua/lua.cc), whose chunk
 * name is the code itself; LuaJIT shortens it in `lj_debug_shortname` (src/lj_debug.c, LUA_IDSIZE
 * 60): the bytes before the first control character (a newline, a tab) or the end, at most 48,
 * as `[string "..."]`; when the code goes on after them, at most 45 of them and `...`. A name
 * starting `=` or `@` is shown as it is (`=`: without it, at most 59 bytes; `@`: its last 56 bytes
 * after `...`). Pure.
 */
export function luaChunkName(script: Buffer): string {
  const nul = script.indexOf(0);
  const src = nul === -1 ? script : script.subarray(0, nul);
  if (src[0] === 0x3d) return src.subarray(1, 60).toString('utf8');
  if (src[0] === 0x40) return src.length - 1 >= 60 ? `...${src.subarray(src.length - 56).toString('utf8')}` : src.subarray(1).toString('utf8');
  let len = 0;
  while (len < 48 && len < src.length && (src[len] ?? 0) >= 0x20) len++;
  const cut = len < src.length;
  return `[string "${src.subarray(0, cut ? Math.min(len, 45) : len).toString('utf8')}${cut ? '...' : ''}"]`;
}

/** Whether Envoy's `reason` names `rider`: its path, or (a Lua script) the chunk name LuaJIT gives it (luaChunkName). */
function namesRider(reason: string, rider: Rider): boolean {
  if (mentions(reason, rider.file, true)) return true;
  return reason.includes(luaChunkName(rider.content));
}
