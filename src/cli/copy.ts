// `copy`: the init container. Publishes one consistent snapshot of the ConfigMap into the emptyDir
// Envoy reads, so Envoy starts with every file present and valid — or the Pod shows Init:Error
// with the reason instead of Envoy crash-looping on a missing bootstrap.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorFields, explainSyncError } from '../sync/errors.js';
import { Syncer } from '../sync/syncer.js';
import type { Command } from './context.js';
import { parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector copy --from DIR --to DIR [--bootstrap NAME]

Publish one consistent snapshot of a mounted ConfigMap (DIR with kubelet's ..data layout, or a plain
directory) into --to by temp file + fsync + rename, then exit. Exits non-zero when the ConfigMap is
empty, a file without a previous copy fails validation, or --to is not writable.

  --from DIR        the ConfigMap volume mount
  --to DIR          the writable directory Envoy reads (emptyDir)
  --bootstrap NAME  the file Envoy is started with (-c), treated as the bootstrap; exits non-zero
                    when the ConfigMap lacks it
`;

export const copy: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    bootstrap: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const { from: sourceDir, to: targetDir } = values;
  if (sourceDir === undefined || targetDir === undefined) throw new UsageError('--from and --to are required');

  const logger = ctx.logger;
  const syncer = new Syncer({
    sourceDir,
    targetDir,
    logger,
    warnOnBootstrapChange: false, // Envoy has not started yet
    ...(values.bootstrap === undefined ? {} : { bootstrapName: values.bootstrap }),
  });
  try {
    await syncer.removeStaleTempFiles();
    const result = await syncer.syncOnce();
    if (result.keys === 0) {
      logger.error(
        { source: sourceDir },
        `ConfigMap volume ${sourceDir} is empty: no keys to copy (does the ConfigMap exist and have data?)`,
      );
      return 1;
    }
    if (result.missing.length > 0) {
      logger.error(
        { source: sourceDir, files: result.missing },
        `not copied because invalid (see above): ${result.missing.join(', ')}; Envoy cannot start without them`,
      );
      return 1;
    }
    // Envoy is started with this file (-c, or its image's default command): without it Envoy exits
    // with "unable to read file"; say here, where the injector is named, what is missing.
    if (values.bootstrap !== undefined && !existsSync(join(targetDir, values.bootstrap))) {
      logger.error(
        { source: sourceDir, bootstrap: values.bootstrap },
        `Envoy's bootstrap ${values.bootstrap} is not in the ConfigMap: Envoy reads it from the injected directory, which hides whatever the image has there; add key ${values.bootstrap} to the ConfigMap, or set annotation envoy-xds-injector.io/mount-path to a directory the image does not use (see the Pod's envoy-xds-injector.io/status annotation)`,
      );
      return 1;
    }
    logger.info(
      { source: sourceDir, target: targetDir, snapshot: result.version, published: result.published.length, keys: result.keys },
      'copied',
    );
    return 0;
  } catch (err) {
    const explained = explainSyncError(err, { sourceDir, targetDir });
    logger.error({ ...errorFields(err, explained), source: sourceDir, target: targetDir }, explained.message);
    return 1;
  }
};

