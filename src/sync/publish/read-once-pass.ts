// The read-once files a pass holds back (read-once.ts), with what it needs from the target: the
// content its readers' files have there now, to tell whether the pass rebuilds what reads them (IO: reads
// only the published files of readers the pass changes, and only when a read-once file changed).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Reference } from '../envoy/references.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { readOnceHeldBack, readOnceReaders, rebuildsReader, refusedReadOnceMessage } from './read-once.js';
import type { ReadOnceHeld, ReadOnceReader } from './read-once.js';

/**
 * The changes of the pass to hold back (`changes`: every file that differs from the target, with
 * its content as it would be published; `references`: every file of the snapshot → what it names).
 * A reader counts as rebuilt when its file's change rebuilds the part of its resource that reads
 * the file (rebuildsReader; the bootstrap: when it changes at all, as Envoy reads it only at start). Never rejects (an unreadable published file:
 * every resource of it counts as changed). `refusedLast`: whether Envoy's last verdict on the file
 * refused that content (with its reader): then the message says so, not "restart the Pod".
 */
export async function heldBackInPass(
  targetDir: string,
  changes: readonly { name: string; sha256: string; existed: boolean; content: Buffer }[],
  references: ReadonlyMap<string, readonly Reference[]>,
  bootstrap: string | undefined,
  refusedLast: (name: string, sha256: string) => boolean = () => false,
): Promise<ReadOnceHeld[]> {
  const byName = new Map(changes.map((change) => [change.name, change]));
  const readers = new Set(changes.flatMap((change) => readOnceReaders(change.name, references).map((reader) => reader.file)).filter((file) => byName.has(file)));
  // Each reader's file as published and as it would be (undefined: every part of it counts as rebuilt).
  const parsed = new Map<string, { before: unknown; after: unknown } | undefined>();
  for (const file of readers) {
    const now = byName.get(file);
    if (now === undefined) continue;
    const published = file === bootstrap || !now.existed ? undefined : await readFile(join(targetDir, file)).catch(() => undefined);
    parsed.set(file, published === undefined ? undefined : { before: parseConfig(published), after: parseConfig(now.content) });
  }
  const rebuilt = (reader: ReadOnceReader, file: string): boolean => {
    if (!parsed.has(reader.file)) return false;
    const both = parsed.get(reader.file);
    return both === undefined || rebuildsReader(both.before, both.after, reader.resource, file);
  };
  return readOnceHeldBack(changes, references, bootstrap, rebuilt).map((held) => (refusedLast(held.name, held.sha256) ? { ...held, message: refusedReadOnceMessage(held.name, held.readers) } : held));
}
