// The last-accepted store as `copy` read it, handed to the watcher (last-accepted/handoff.ts says
// why and what it holds): `<target>/..envoy-xds-verdict/store-read.json`, written by `copy`, taken
// (read and removed) by the watcher as it starts, so that a watcher restarted later, with no `copy`
// before it, reads the store itself. Every failure here means the watcher reads the store as before.
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { formatHandoff, storeHandoff, useHandoff } from '../last-accepted/handoff.js';
import type { LastAccepted } from '../last-accepted/reader.js';
import type { LastAcceptedRecord } from '../last-accepted/record.js';
import { stateDir } from './state.js';

export const HANDOFF_FILE = 'store-read.json';

export const handoffPath = (targetDir: string): string => join(stateDir(targetDir), HANDOFF_FILE);

/** `copy`, before anything: an earlier run's handoff (the emptyDir outlives a restart) says nothing now. */
export async function removeStoreHandoff(targetDir: string): Promise<void> {
  await unlink(handoffPath(targetDir)).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  });
}

/** `copy`, after publishing: hands the store it read from `from` at `readAt` to the watcher (temp file + rename). */
export async function writeStoreHandoff(targetDir: string, store: LastAccepted, from: string, readAt: Date): Promise<void> {
  const dir = stateDir(targetDir);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${HANDOFF_FILE}.tmp`);
  await writeFile(temp, formatHandoff(storeHandoff(store, from, readAt)));
  await rename(temp, handoffPath(targetDir));
}

/**
 * The watcher of `configMap`, as it starts: the record `copy` handed over (writer.ts `known`), or
 * undefined (no handoff: `copy` ran without a store, or an older `copy`; one that cannot be used:
 * logged). Takes the file away either way. Never throws.
 */
export async function takeStoreHandoff(targetDir: string, configMap: string, logger: Logger, now = new Date()): Promise<LastAcceptedRecord | undefined> {
  const path = handoffPath(targetDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ file: path, error: (err as Error).message }, `cannot read what copy read of the last-accepted store (${(err as Error).message}): reading the store from the API at the first verdict`);
    return undefined;
  }
  await unlink(path).catch((err: unknown) => { logger.debug({ err, file: path }, 'could not remove the store handoff'); });
  const found = useHandoff(text, configMap, now);
  if (!found.use) {
    const message = `what copy read of the last-accepted store (${path}) is not used: ${found.why}; reading the store from the API at the first verdict`;
    if (found.corrupt) logger.warn({ file: path }, message);
    else logger.info({ file: path }, message);
    return undefined;
  }
  logger.info(
    { file: path, readAt: found.readAt, ageMs: Math.round(found.ageMs), files: Object.keys(found.record.files) },
    `starting from the last-accepted store as copy read it ${String(Math.round(found.ageMs / 1000))} s ago: a verdict it already holds is not written`,
  );
  return found.record;
}
