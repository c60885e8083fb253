// The verdict on a file a resource reads once (a Lua script, a direct_response body:
// publish/read-once.ts), pure. Envoy reads it only when it builds that resource, which it does
// when the file holding the resource is applied with a change to it: the `watch` publishes the two
// together (the data file first) and Envoy's verdict on the reader is the data file's too. A Lua
// script that does not compile makes Envoy refuse the listener (`script load error`), so the
// refusal of the reader is the refusal of both, and both go back to what Envoy runs (the data file
// first, so that the reader's rollback never makes Envoy build with the refused data).
import type { Pending } from './pending.js';

/** The publish of one of `readers` (files holding resources that read the file) waiting for its verdict, to judge the file with; undefined when none is. */
export function readerPublish(readers: readonly string[], pending: ReadonlyMap<string, Pending>): { file: string; sha256: string } | undefined {
  for (const file of readers) {
    const publish = pending.get(file);
    if (publish !== undefined && publish.reader === undefined) return { file, sha256: publish.sha256 };
  }
  return undefined;
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
