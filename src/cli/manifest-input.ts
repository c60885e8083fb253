// What `inject -f` reads: a file, stdin, or a directory as `kubectl apply -f DIR` reads one (its
// .json, .yaml and .yml files in name order; subdirectories only with -R), decoded as text piece by
// piece. Binary input is refused rather than echoed: a NUL byte or bytes that are not UTF-8.
// kubectl's file visitor: staging/src/k8s.io/cli-runtime/pkg/resource/visitor.go
// (ExpandPathsToFileVisitors, FileExtensions .json/.yaml/.yml; a UTF-16 BOM is honoured).
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';

export const MANIFEST_EXTENSIONS = ['.json', '.yaml', '.yml'];

/** The input is not text: `message` says what was found and where. */
export class NotTextError extends Error {
  override name = 'NotTextError';
}

/** A path `-f` named cannot be read; `code` is the errno code (ENOENT, EACCES, ...). */
export class UnreadableInputError extends Error {
  override name = 'UnreadableInputError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`${path}: cannot read it (${code})`);
  }
}

const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * The files `-f PATH` stands for: PATH itself if it is a file, else its manifest files sorted by
 * name (as Go's filepath.Walk visits them), descending into subdirectories only if `recursive`.
 * Throws UnreadableInputError.
 */
export async function manifestFiles(path: string, recursive: boolean): Promise<string[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw new UnreadableInputError(path, errnoCode(err) ?? String(err));
  }
  if (!isDirectory) return [path];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new UnreadableInputError(dir, errnoCode(err) ?? String(err));
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (recursive) await walk(full);
      } else if (MANIFEST_EXTENSIONS.includes(extname(entry.name))) {
        files.push(full);
      }
    }
  };
  await walk(path);
  return files;
}

/** A readable over the file (errors become UnreadableInputError when read). */
export function openManifest(path: string): Readable {
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

/** UTF-8 unless the first bytes are a UTF-16 byte order mark; any BOM is dropped, as kubectl does. */
function decoderFor(first: Uint8Array): TextDecoder {
  if (first[0] === 0xff && first[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true });
  if (first[0] === 0xfe && first[1] === 0xff) return new TextDecoder('utf-16be', { fatal: true });
  return new TextDecoder('utf-8', { fatal: true });
}

/**
 * The text of `input`, piece by piece. Throws NotTextError at the first NUL character or byte
 * sequence that is not UTF-8 (a UTF-16 file with a byte order mark is decoded, as kubectl does),
 * and UnreadableInputError (with `label`) if reading fails.
 */
export async function* textPieces(input: AsyncIterable<unknown>, label: string): AsyncGenerator<string> {
  let decoder: TextDecoder | undefined;
  let offset = 0;
  const notText = (what: string): NotTextError =>
    new NotTextError(`${label}: not a YAML or JSON manifest: ${what}; inject reads text (UTF-8)`);
  try {
    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      decoder ??= decoderFor(bytes);
      let text: string;
      try {
        text = decoder.decode(bytes, { stream: true });
      } catch {
        throw notText(`bytes that are not UTF-8 text near byte ${String(offset)}`);
      }
      const nul = text.indexOf('\0');
      if (nul !== -1) throw notText(`binary data (a NUL byte near byte ${String(offset + nul)})`);
      offset += bytes.length;
      if (text !== '') yield text;
    }
    if (decoder !== undefined) {
      try {
        const rest = decoder.decode();
        if (rest !== '') yield rest;
      } catch {
        throw notText('a truncated UTF-8 sequence at the end');
      }
    }
  } catch (err) {
    if (err instanceof NotTextError || (err instanceof Error && err.name === 'AbortError')) throw err;
    const code = errnoCode(err);
    if (code === undefined) throw err;
    throw new UnreadableInputError(label, code);
  }
}
