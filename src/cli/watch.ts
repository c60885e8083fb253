// `watch`: the sidecar. Republishes every ConfigMap change into the emptyDir by atomic rename so
// Envoy's path_config_source reloads it. See docs/sync.md.
import { errorFields, explainSyncError } from '../sync/errors.js';
import { runWatch } from '../sync/watcher.js';
import type { Command } from './context.js';
import { durationFlag, parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector watch --from DIR --to DIR [--resync 60s] [--ready-file PATH] [--bootstrap NAME]

Watch a mounted ConfigMap and republish changed files into --to by temp file + fsync + rename, so
Envoy (which reloads a path_config_source file only on a rename onto its name) picks them up.
Invalid YAML/JSON is never published; the last good version stays. Exits 0 on SIGTERM.

  --from DIR          the ConfigMap volume mount
  --to DIR            the writable directory Envoy reads (emptyDir)
  --resync DURATION   full resync interval, a safety net for lost events (default 60s)
  --ready-file PATH   created once the first sync is done and the watch is established
  --bootstrap NAME    the file Envoy is started with (-c): changes to it log a restart warning
`;

const MIN_RESYNC_MS = 100;

export const watch: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    resync: { type: 'string', default: '60s' },
    'ready-file': { type: 'string' },
    bootstrap: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const { from: sourceDir, to: targetDir } = values;
  if (sourceDir === undefined || targetDir === undefined) throw new UsageError('--from and --to are required');
  const resyncMs = durationFlag('resync', values.resync, MIN_RESYNC_MS);

  try {
    return await runWatch({
      sourceDir,
      targetDir,
      logger: ctx.logger,
      resyncMs,
      signal: ctx.shutdownSignal,
      ...(values['ready-file'] === undefined ? {} : { readyFile: values['ready-file'] }),
      ...(values.bootstrap === undefined ? {} : { bootstrapName: values.bootstrap }),
    });
  } catch (err) {
    const explained = explainSyncError(err, { sourceDir, targetDir });
    ctx.logger.error({ ...errorFields(err, explained), source: sourceDir, target: targetDir }, explained.message);
    return 1;
  }
};

