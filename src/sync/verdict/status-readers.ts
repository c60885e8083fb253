// What `status` says of a file Envoy reads through another (a certificate or key a Secret reads, a
// file a resource reads once) that has no verdict yet while Envoy refuses the file reading it. Its
// verdict waits for Envoy to take a Secret or resource reading it, which a refused reader never
// builds (measured on 1.40: a new Pod's sds.yaml whose cert.pem and key.pem do not match is refused
// at start, update_rejected 1, and no TLS context reads the pair), so its row said `-` twice
// (fresh-user trial) while the reader's row said the refusal. The row says what is known: nothing
// of it was accepted with its reader, and which refused file reads it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findReferences } from '../envoy/references.js';
import { parseConfig } from '../envoy/subscriptions.js';
import type { WithReader } from './messages.js';

/** What these rules read of a `status` row (status.ts FileStatus), and what they set on it. */
export interface ReaderRow {
  file: string;
  published?: string;
  verdict?: { outcome: 'accepted' | 'rejected' | 'unknown' };
  verdictEarlier?: boolean;
  refusedPublished?: true;
  envoy?: unknown;
  withReader?: WithReader;
  readerRefused?: string[];
}

/** Whether `row` says Envoy refuses its file now: its last verdict refused the version published or in the ConfigMap, or a refusal keeps it published. */
export function refusedNow(row: Pick<ReaderRow, 'verdict' | 'verdictEarlier' | 'refusedPublished'>): boolean {
  return (row.verdict?.outcome === 'rejected' && row.verdictEarlier !== true) || row.refusedPublished === true;
}

/**
 * For each row of `rows` with no verdict and nothing known of what Envoy runs of it, the refused
 * files of `reads` (refused file → the files it reads through a Secret or a resource, as published)
 * that read it, in `rows` order. Pure.
 */
export function refusedReadersOf(rows: readonly ReaderRow[], reads: ReadonlyMap<string, ReadonlySet<string>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const row of rows) {
    if (row.verdict !== undefined || row.envoy !== undefined || row.withReader !== undefined || row.published === undefined) continue;
    const readers = [...reads].filter(([, files]) => files.has(row.file)).map(([reader]) => reader);
    if (readers.length > 0) out.set(row.file, readers);
  }
  return out;
}

/**
 * Sets `readerRefused` (and `withReader: none`) on the rows refusedReadersOf finds, reading the
 * published bytes of the files Envoy refuses now (refusedNow) from `targetDir`. Never rejects: a
 * file that cannot be read or parsed reads nothing.
 */
export async function markRefusedReaders(targetDir: string, rows: ReaderRow[]): Promise<void> {
  const reads = new Map<string, Set<string>>();
  for (const row of rows.filter(refusedNow)) {
    const bytes = await readFile(join(targetDir, row.file)).catch(() => undefined);
    if (bytes === undefined) continue;
    const files = findReferences(parseConfig(bytes)).filter((ref) => ref.type === 'secret-file' || ref.type === 'read-once').map((ref) => ref.file);
    if (files.length > 0) reads.set(row.file, new Set(files));
  }
  if (reads.size === 0) return;
  const found = refusedReadersOf(rows, reads);
  for (const row of rows) {
    const readers = found.get(row.file);
    if (readers === undefined) continue;
    row.readerRefused = readers;
    row.withReader = { none: true };
  }
}

/** The LAST VERDICT cell of a row with `readerRefused` and no verdict. */
export const readerRefusedText = (readers: readonly string[]): string =>
  `none yet: Envoy refused ${readers.join(', ')}, which ${readers.length === 1 ? 'reads' : 'read'} it`;
