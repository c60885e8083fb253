// Files published earlier that Envoy starts reading only when a later pass publishes the file
// naming them (an `srds.yaml` renamed in before the `lds.yaml` whose scoped_routes name it, a
// certificate before the Secret reading it and the listener using that Secret): nothing judged
// them when they were published, since nothing read them then. The tracker judges them with the
// pass that makes them read, against that pass's baseline: Envoy first reads them after its renames.
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import { foundAsPublished } from './envoy-restarted.js';
import { secretFileOf, secretFilesIn, type SecretFile } from './pending.js';

interface ReadMap {
  mayBeRead(name: string): boolean;
  isRead(name: string): boolean;
  secretReaders(name: string): { sdsFiles: string[] };
}

/** Whether Envoy may read `name`: through an xDS subscription, or through a Secret in a file Envoy may read. Pure. */
export function judgedNow(subscriptions: ReadMap, name: string): boolean {
  if (subscriptions.mayBeRead(name)) return true;
  return secretFileOf(subscriptions, name)?.sdsFiles.some((file) => subscriptions.mayBeRead(file)) === true;
}

/** The names of `names` Envoy may read now (judgedNow). Pure. */
export function judgedNames(subscriptions: ReadMap, names: Iterable<string>): Set<string> {
  return new Set([...names].filter((name) => judgedNow(subscriptions, name)));
}

/**
 * The files of `names` as they are in `dir`, to judge as published with the pass that made them
 * read: an xDS file's version as on disk, a file a Secret reads with none; no publish time of
 * their own (the pass's renames are when Envoy first reads them). Missing files are left out.
 * Never rejects.
 */
export async function newlyReadOnDisk(dir: string, names: readonly string[], subscriptions: ReadMap): Promise<PublishedFile[]> {
  const wanted = new Set(names);
  const config = (await configFilesIn(dir).catch(() => [])).filter((found) => wanted.has(found.name));
  const secrets = await secretFilesIn(dir, names.filter((name) => !config.some((found) => found.name === name)), subscriptions).catch(() => []);
  return [...config.map((found) => foundAsPublished(found, 'xds')), ...secrets.map((found) => foundAsPublished(found, 'data', undefined))].map(({ publishedAtMs: _, ...file }) => file);
}

/**
 * The files of `names` (every file published so far) Envoy may read now and did not before the
 * pass (`readBefore`), other than the pass's `files` and those pending: read from disk, then handed
 * to `track` with the pass's ConfigMap and, for a file a Secret reads, what judges it. Never throws.
 */
export function judgeNewlyRead(
  ctx: { targetDir: string; subscriptions: ReadMap; pending: (name: string) => boolean },
  files: readonly PublishedFile[],
  readBefore: ReadonlySet<string>,
  names: readonly string[],
  track: (file: PublishedFile, secret: SecretFile | undefined) => void,
): void {
  const newly = [...judgedNames(ctx.subscriptions, names)].filter((name) => !readBefore.has(name) && !files.some((file) => file.name === name) && !ctx.pending(name));
  if (newly.length === 0) return;
  const configMap = files[0]?.configMap;
  void newlyReadOnDisk(ctx.targetDir, newly, ctx.subscriptions).then((found) => {
    for (const file of found) if (!ctx.pending(file.name)) track({ ...file, ...(configMap === undefined ? {} : { configMap }) }, secretFileOf(ctx.subscriptions, file.name));
  }).catch(() => undefined);
}
