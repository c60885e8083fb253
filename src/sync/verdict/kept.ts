// The versions kept under the state directory (state.ts): `accepted/<file>`, what a rollback puts
// back, and `refused/<file>`, what Envoy refused, for the operator. One step keeps either: a hard
// link to the published file while it is still that version (no copy), else the bytes published.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { stateDir } from './state.js';
import { stateFs } from './state-fs.js';
import type { StateFs } from './state-fs.js';

export type KeptKind = 'accepted' | 'refused';

// Each write has a temp name of its own (pid, counter), renamed onto `<kind>/<file>`: a refusal's
// copy (conclude.ts) and a replaced publish's (superseded.ts) of one file may be on their way at
// once, and with one shared name each replaced the other's temp (the rename moved a mix, or failed).
// Readers read `<kind>/<file>` by name only, so a temp is never read.
const TEMP = /^\..+\.tmp-\d+-\d+$/;
let temps = 0;

function tempPath(dir: string, name: string): string {
  temps += 1;
  return join(dir, `.${name}.tmp-${String(process.pid)}-${String(temps)}`);
}

/** Per directory: the sweep of temps a process that stopped mid-write left (one per process, before its first write there). */
const swept = new Map<string, Promise<void>>();

async function prepare(fs: StateFs, dir: string): Promise<void> {
  await fs.mkdir(dir);
  let sweep = swept.get(dir);
  if (sweep === undefined) {
    sweep = fs.list(dir).then(async (names) => {
      for (const name of names.filter((n) => TEMP.test(n))) await fs.unlink(join(dir, name)).catch(() => undefined);
    }, () => undefined);
    swept.set(dir, sweep);
  }
  await sweep;
}

/**
 * Keeps the file now published as `name` as `<kind>/<name>`, by hard link (same filesystem; the
 * published file is never written in place, so the link keeps that version). Only if the published
 * file is still inode `ino` (undefined: whatever is published); returns whether it was kept.
 * Rejects when the link cannot be made (no such file, another filesystem).
 */
export async function keepCopy(targetDir: string, kind: KeptKind, name: string, ino: number | undefined): Promise<boolean> {
  const fs = stateFs(targetDir);
  const dir = join(stateDir(targetDir), kind);
  await prepare(fs, dir);
  const temp = tempPath(dir, name);
  try {
    await fs.link(join(targetDir, name), temp);
    if (ino !== undefined && (await fs.ino(temp)) !== ino) return false;
    await fs.rename(temp, join(dir, name));
    return true;
  } finally {
    // Not kept, or kept: rename() between two links of one inode does nothing and leaves the temp.
    await fs.unlink(temp).catch(() => undefined);
  }
}

/** Writes `content` as `<kind>/<name>` (the bytes published), by a temp of its own and a rename. */
export async function keepContent(targetDir: string, kind: KeptKind, name: string, content: Buffer): Promise<void> {
  const fs = stateFs(targetDir);
  const dir = join(stateDir(targetDir), kind);
  await prepare(fs, dir);
  const temp = tempPath(dir, name);
  try {
    await fs.writeFile(temp, content);
    await fs.rename(temp, join(dir, name));
  } catch (err) {
    await fs.unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Keeps a published version of `name` as `<kind>/<name>`, for an accepted and a refused one alike:
 * a hard link to the published file while it is still inode `ino`, else its bytes `content`
 * written (a newer publish or the rollback replaced the file, it was removed, or no link can be
 * made). `ino` undefined: the file published now is another version, the bytes are written.
 * Resolves to how it was kept; rejects only when the bytes cannot be written either.
 */
export async function keepVersion(targetDir: string, kind: KeptKind, name: string, version: { ino?: number | undefined; content: Buffer }): Promise<'linked' | 'written'> {
  if (version.ino !== undefined && (await keepCopy(targetDir, kind, name, version.ino).catch(() => false))) return 'linked';
  await keepContent(targetDir, kind, name, version.content);
  return 'written';
}

/** Keeps a judged publish (its file, inode and bytes) under `kind`/ (keepVersion); whether it was kept. Logs a failure. */
export function keepJudged(targetDir: string, kind: KeptKind, judged: { file: string; ino: number; content: Buffer }, logger: Logger): Promise<boolean> {
  return keepVersion(targetDir, kind, judged.file, { ino: judged.ino, content: judged.content }).then(
    () => true,
    (err: unknown) => {
      logger.warn({ err, file: judged.file }, `could not keep a copy of the ${kind} version`);
      return false;
    },
  );
}
