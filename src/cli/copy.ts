// `copy`: the init container. Publishes one consistent snapshot of the ConfigMap into the emptyDir
// Envoy reads, so Envoy starts with every file present and valid — or the Pod shows Init:Error
// with the reason instead of Envoy crash-looping on a missing bootstrap.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorFields, explainSyncError } from '../sync/publish/explain-error.js';
import { loadLastAccepted } from '../sync/last-accepted/reader.js';
import { applySubstitutions, substitutions } from '../sync/last-accepted/substitutions.js';
import type { Substitution } from '../sync/last-accepted/substitutions.js';
import { recordSubstitutions } from '../sync/verdict/store-seed.js';
import { removeStoreHandoff, writeStoreHandoff } from '../sync/verdict/store-handoff.js';
import { readSnapshot } from '../sync/volume/snapshot.js';
import { Syncer } from '../sync/publish/syncer.js';
import type { Command } from './context.js';
import { parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector copy --from DIR --to DIR [--bootstrap NAME] [--accepted DIR]

Publish one consistent snapshot of a mounted ConfigMap (DIR with kubelet's ..data layout, or a plain
directory) into --to by temp file + fsync + rename, then exit. Exits non-zero when the ConfigMap
is empty or lacks the bootstrap (then nothing is published), when a file without a previous copy
fails validation, or when --to is not writable. Files already in --to that the ConfigMap lacks are
taken for keys an earlier run published (an emptyDir outlives a container restart) and kept, with a
warning each; anything else there (a directory, a symlink) is refused: --to is not an emptyDir that
only copy and watch write.

  --from DIR        the ConfigMap volume mount
  --to DIR          the writable directory Envoy reads (emptyDir)
  --bootstrap NAME  the file Envoy is started with (-c), treated as the bootstrap; exits non-zero
                    when the ConfigMap lacks it
  --accepted DIR    the last-accepted ConfigMap's volume (source: api, docs/api-source.md): a file
                    whose ConfigMap content Envoy refused in another Pod starts from the version
                    Envoy last accepted; once this Envoy runs it, the watcher publishes the
                    ConfigMap's version for this Envoy to judge; what was read is handed to the
                    watcher (--to/..envoy-xds-verdict/store-read.json), which then does not read
                    the store again for verdicts it already holds
`;

/**
 * Entries of `dir` that copy and watch never create: anything but a regular file, outside our
 * `..`-prefixed names. [] if `dir` cannot be listed (the sync reports that with its own words).
 */
async function foreignEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.name.startsWith('..') && !entry.isFile()).map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name));
}

export const copy: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    bootstrap: { type: 'string' },
    accepted: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const { from: sourceDir, to: targetDir } = values;
  if (sourceDir === undefined || targetDir === undefined) throw new UsageError(`--from and --to are required`);

  const logger = ctx.logger;
  const syncer = new Syncer({
    sourceDir,
    targetDir,
    logger,
    warnOnBootstrapChange: false, // Envoy has not started yet
    ...(values.bootstrap === undefined ? {} : { bootstrapName: values.bootstrap }),
  });
  try {
    const foreign = await foreignEntries(targetDir);
    if (foreign.length > 0) {
      logger.error(
        { target: targetDir, entries: foreign },
        `--to ${targetDir} holds ${foreign.join(', ')}, which copy and watch never write (not regular files): --to must be a directory only they use, the Pod's emptyDir; nothing copied`,
      );
      return 1;
    }
    await syncer.removeStaleTempFiles();
    await removeStoreHandoff(targetDir);
    const snapshot = await readSnapshot(sourceDir);
    if (snapshot.files.size === 0) {
      logger.error(
        { source: sourceDir },
        `ConfigMap volume ${sourceDir} is empty: no keys to copy (does the ConfigMap exist and have data?)`,
      );
      return 1;
    }
    // Envoy is started with this file (-c, or its image's default command): without it Envoy exits
    // with "unable to read file"; say here, where the injector is named, what is missing. Checked
    // before anything is published: the Pod cannot start on the other files alone.
    if (values.bootstrap !== undefined && !snapshot.files.has(values.bootstrap) && !existsSync(join(targetDir, values.bootstrap))) {
      logger.error(
        { source: sourceDir, bootstrap: values.bootstrap, keys: [...snapshot.files.keys()] },
        `Envoy's bootstrap ${values.bootstrap} is not in the ConfigMap (nothing copied): Envoy reads it from the injected directory, which hides whatever the image has there; add key ${values.bootstrap} to the ConfigMap, or set annotation envoy-xds-injector.io/mount-path to a directory the image does not use (see the Pod's envoy-xds-injector.io/status annotation)`,
      );
      return 1;
    }
    let subs: Substitution[] = [];
    let store: Awaited<ReturnType<typeof loadLastAccepted>>;
    const readAt = new Date();
    if (values.accepted !== undefined) {
      store = await loadLastAccepted(values.accepted, logger);
      if (store !== undefined) {
        const found = substitutions(snapshot, store);
        subs = found.substitutions;
        for (const { name, refused, why } of found.unusable) {
          logger.warn(
            { file: name, refusedXdsVersion: refused.version, refusedIn: refused.pod },
            `${name}: the ConfigMap holds version ${refused.version ?? '(no version_info)'}, which Envoy refused in Pod ${refused.pod ?? '(unknown)'}, but the last-accepted store cannot replace it (${why}): Envoy starts from the ConfigMap's; fix the ConfigMap`,
          );
        }
      }
    }
    const result = await syncer.syncSnapshot(applySubstitutions(snapshot, subs));
    if (result.missing.length > 0) {
      logger.error(
        { source: sourceDir, files: result.missing },
        `not copied because invalid (see above): ${result.missing.join(', ')}; Envoy cannot start without them`,
      );
      return 1;
    }
    await recordSubstitutions(targetDir, sourceDir, subs);
    // The watcher starts from what was read here instead of reading the store again (a request per Pod).
    if (store !== undefined && values.accepted !== undefined) {
      await writeStoreHandoff(targetDir, store, values.accepted, readAt).catch((err: unknown) => {
        logger.warn({ error: (err as Error).message }, `cannot hand the last-accepted store to the watcher (${(err as Error).message}): it reads the store itself`);
      });
    }
    for (const sub of subs) {
      logger.warn(
        { file: sub.name, xdsVersion: sub.accepted.version, refusedXdsVersion: sub.refused.version, refusedIn: sub.refused.pod, refusedAt: sub.refused.at },
        `${sub.name}: the ConfigMap holds version ${sub.refused.version ?? '(no version_info)'}, which Envoy refused in Pod ${sub.refused.pod ?? '(unknown)'} at ${sub.refused.at}; Envoy starts from version ${sub.accepted.version ?? '(no version_info)'}, the last it accepted (from ${values.accepted ?? ''}); fix the ConfigMap`,
      );
    }
    logger.info(
      { source: sourceDir, target: targetDir, snapshot: result.dataDir, published: result.published.length, keys: result.keys, fromLastAccepted: subs.map((s) => s.name) },
      'copied',
    );
    return 0;
  } catch (err) {
    const explained = explainSyncError(err, { sourceDir, targetDir });
    logger.error({ ...errorFields(err, explained), source: sourceDir, target: targetDir }, explained.message);
    return 1;
  }
};
