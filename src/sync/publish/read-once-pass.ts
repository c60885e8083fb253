// The read-once files a pass holds back (read-once.ts), with what it needs from the target: the
// content its readers' files have there now, to tell whether the pass rebuilds what reads them (IO: reads
// only the published files of readers the pass changes, and only when a read-once file changed).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileKind, Validation } from '../envoy/gate.js';
import type { Reference } from '../envoy/references.js';
import { parseConfig } from '../envoy/subscriptions.js';
import { readOnceHeldBack, readOnceReaders, rebuildsReader, refusedReadOnceMessage } from './read-once.js';
import type { ReadOnceHeld, ReadOnceReader } from './read-once.js';
import { readAgain, readersToAsk } from './read-once-again.js';
import type { ReaderQuery, Released } from './read-once-again.js';

/** Whether Envoy runs no version of each of `readers` (in order); false where it cannot tell. Never rejects. */
export type NotRunning = (readers: readonly ReaderQuery[]) => Promise<boolean[]>;

/** What the pass holds back, and what it publishes after all for readers Envoy does not run (read-once-again.ts). */
export interface ReadOncePass {
  held: ReadOnceHeld[];
  released: Released[];
  /** Unchanged files to rename again, after the released ones (the readers last). */
  again: string[];
}

/**
 * The changes of the pass to hold back (`changes`: every file that differs from the target, with
 * its content as it would be published; `references`: every file of the snapshot → what it names).
 * A reader counts as rebuilt when its file's change rebuilds the part of its resource that reads
 * the file (rebuildsReader; the bootstrap: when it changes at all, as Envoy reads it only at start). Never rejects (an unreadable published file:
 * every resource of it counts as changed). `refusedLast`: whether Envoy's last verdict on the file
 * refused that content (with its reader): then the message says so, not "restart the Pod".
 * `unchanged`: the files the target has as the ConfigMap has them (name → version), and
 * `notRunning`: Envoy's answer, for read-once-again.ts (without it nothing is released).
 */
export async function heldBackInPass(
  targetDir: string,
  changes: readonly { name: string; sha256: string; existed: boolean; content: Buffer }[],
  references: ReadonlyMap<string, readonly Reference[]>,
  bootstrap: string | undefined,
  refusedLast: (name: string, sha256: string) => boolean = () => false,
  unchanged: ReadonlyMap<string, string | undefined> = new Map(),
  notRunning?: NotRunning,
): Promise<ReadOncePass> {
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
  const held = readOnceHeldBack(changes, references, bootstrap, rebuilt).map((one) => (refusedLast(one.name, one.sha256) ? { ...one, message: refusedReadOnceMessage(one.name, one.readers) } : one));
  const kept = (one: ReadOnceHeld): ReadOnceReader[] => one.readers.filter((reader) => !rebuilt(reader, one.name));
  const asked = notRunning === undefined ? [] : readersToAsk(held, kept, unchanged, bootstrap);
  if (asked.length === 0 || notRunning === undefined) return { held, released: [], again: [] };
  const answer = await notRunning(asked);
  return readAgain(held, kept, asked.filter((_, index) => answer[index] === true), unchanged, references);
}

/** A file of a pass that differs from the target (or is renamed again), as it is published. */
export interface PassChange {
  name: string;
  content: Buffer;
  sha256: string;
  kind: FileKind;
  /** Whether the target had a copy of it. */
  existed: boolean;
  version: string | undefined;
}

/** A file the target has as the ConfigMap has it, as the pass would publish it (stamped only if renamed again). */
export interface Unchanged {
  version: string | undefined;
  sha256: string;
  content: () => Buffer;
  source: Buffer;
  sourceDigest: string;
}

/** What the read-once step reads of the syncer's options. */
export interface ReadOnceOptions {
  targetDir: string;
  bootstrapName?: string;
  refusedLast?: (name: string, sha256: string) => boolean;
  notRunning?: NotRunning;
  /** Why a held content was put back after Envoy kept its reader as it runs (verdict/reader-kept.ts), when it was: the message then. */
  keptLast?: (name: string, sha256: string) => string | undefined;
}

/**
 * A pass's read-once step: the changes it holds back (heldBackInPass), those it publishes after all
 * for readers Envoy runs no version of, and the unchanged files renamed again with them, as changes
 * (through the gate, `validate`, as every change). `unchanged`: the files the target has as the
 * ConfigMap has them. Never rejects.
 */
export async function readOnceStep(
  options: ReadOnceOptions,
  changes: readonly { name: string; sha256: string; existed: boolean; content: Buffer }[],
  references: ReadonlyMap<string, readonly Reference[]>,
  unchanged: ReadonlyMap<string, Unchanged>,
  validate: (name: string, source: Buffer, digest: string) => Promise<Validation>,
): Promise<{ held: ReadOnceHeld[]; released: Released[]; again: PassChange[] }> {
  const versions = new Map([...unchanged].map(([name, file]) => [name, file.version]));
  const pass = await heldBackInPass(options.targetDir, changes, references, options.bootstrapName, options.refusedLast, versions, options.notRunning);
  const again: PassChange[] = [];
  for (const name of pass.again) {
    const file = unchanged.get(name);
    const validation = file === undefined ? undefined : await validate(name, file.source, file.sourceDigest).catch(() => undefined);
    if (file !== undefined && validation?.ok === true) again.push({ name, content: file.content(), sha256: file.sha256, kind: validation.kind, existed: true, version: file.version });
  }
  const held = pass.held.map((one) => ({ ...one, message: options.keptLast?.(one.name, one.sha256) ?? one.message }));
  return { held, released: pass.released, again };
}
