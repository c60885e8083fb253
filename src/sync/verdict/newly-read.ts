// Files published earlier that Envoy starts reading only when a later pass publishes the file
// naming them (an `srds.yaml` renamed in before the `lds.yaml` whose scoped_routes name it, a
// certificate before the Secret reading it and the listener using that Secret): nothing judged
// them when they were published, since nothing read them then. The tracker judges them with the
// pass that makes them read, against that pass's baseline: Envoy first reads them after its renames.
// Which files Envoy may read, and through what, is judged-by.ts's rule.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import { foundAsPublished } from './envoy-restarted.js';
import { judgedBy, judgedNames, type JudgedBy, type ReadMap } from './judged-by.js';
import { dataFilesIn } from './pending.js';

/**
 * The files of `names` as they are in `dir`, to judge as published with the pass that made them
 * read: an xDS file's version as on disk, a file a Secret or a resource reads with none; no publish
 * time of their own (the pass's renames are when Envoy first reads them). Missing files are left
 * out. Never rejects.
 */
export async function newlyReadOnDisk(dir: string, names: readonly string[], subscriptions: ReadMap): Promise<PublishedFile[]> {
  const wanted = new Set(names);
  const config = (await configFilesIn(dir).catch(() => [])).filter((found) => wanted.has(found.name));
  const others = names.filter((name) => !config.some((found) => found.name === name));
  const data = await dataFilesIn(dir, others, (name) => judgedBy(subscriptions, name)?.by !== 'subscription').catch(() => []);
  return [...config.map((found) => foundAsPublished(found, 'xds')), ...data.map((found) => foundAsPublished(found, 'data', undefined))].map(({ publishedAtMs: _, ...file }) => file);
}

/**
 * The files of `names` (every file published so far) Envoy may read now and did not before the
 * pass (`readBefore`), or that are in `again` (refused-kept.ts: a refused content kept published
 * that the pass may make Envoy take), other than the pass's `files` and those pending: read from
 * disk, then handed to `track` with the pass's ConfigMap and what judges it (judged-by.ts). Never throws.
 */
export function judgeNewlyRead(
  ctx: { targetDir: string; subscriptions: ReadMap; pending: (name: string) => boolean },
  files: readonly PublishedFile[],
  readBefore: ReadonlySet<string>,
  names: readonly string[],
  track: (file: PublishedFile, by: JudgedBy | undefined) => void,
  again: ReadonlySet<string> = new Set(),
): void {
  const newly = [...judgedNames(ctx.subscriptions, names)].filter((name) => (!readBefore.has(name) || again.has(name)) && !files.some((file) => file.name === name) && !ctx.pending(name));
  if (newly.length === 0) return;
  const configMap = files[0]?.configMap;
  void newlyReadOnDisk(ctx.targetDir, newly, ctx.subscriptions).then((found) => {
    for (const file of found) if (!ctx.pending(file.name)) track({ ...file, ...(configMap === undefined ? {} : { configMap }) }, judgedBy(ctx.subscriptions, file.name));
  }).catch(() => undefined);
}

/**
 * Files a resource reads once (judged-by.ts `reader`) that a pass renaming their reader left as
 * they were, and whose last verdict did not judge them (`unjudged`: `unknown`, e.g. rolled back or
 * kept with a reader Envoy refused for another file it reads): Envoy's verdict on the reader is
 * theirs too, as on disk (a listener Envoy builds reads every file it names; one it runs read the
 * published file, since a change of such a file alone is held back). Handed to `track` with the
 * pass's ConfigMap. Never throws.
 */
export function judgeUnjudgedRiders(
  ctx: { targetDir: string; subscriptions: ReadMap; pending: (name: string) => boolean },
  files: readonly PublishedFile[],
  names: readonly string[],
  unjudged: (name: string) => boolean,
  track: (file: PublishedFile, by: JudgedBy | undefined) => void,
): void {
  const renamed = new Set(files.map((file) => file.name));
  const riders = names.filter((name) => {
    if (renamed.has(name) || ctx.pending(name) || !unjudged(name)) return false;
    const by = judgedBy(ctx.subscriptions, name);
    return by?.by === 'reader' && by.readers.some((reader) => renamed.has(reader));
  });
  const configMap = files[0]?.configMap;
  // Read now, while the reader's publish is certainly pending (its verdict may come 10 ms after the
  // rename): a few small files, read synchronously.
  for (const name of riders) {
    try {
      const path = join(ctx.targetDir, name);
      const info = statSync(path);
      if (!info.isFile()) continue;
      const { publishedAtMs: _, ...file } = foundAsPublished({ name, content: readFileSync(path), ino: info.ino, mtimeMs: info.mtimeMs }, 'data', undefined);
      track({ ...file, ...(configMap === undefined ? {} : { configMap }) }, judgedBy(ctx.subscriptions, name));
    } catch {
      // gone from the target: nothing to judge
    }
  }
}
