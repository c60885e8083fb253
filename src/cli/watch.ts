// `watch`: the sidecar. Republishes every ConfigMap change into the emptyDir by atomic rename so
// Envoy's path_config_source reloads it. See docs/sync.md.
import { errorFields, explainSyncError } from '../sync/errors.js';
import { parseAdminAddress } from '../sync/bootstrap-sources.js';
import { runWatch } from '../sync/watcher.js';
import type { Command } from './context.js';
import { durationFlag, parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector watch --from DIR --to DIR [--resync 60s] [--ready-file PATH] [--bootstrap NAME]
       [--admin HOST:PORT|PATH] [--verdict-timeout 10s]

Watch a mounted ConfigMap and republish changed files into --to by temp file + fsync + rename, so
Envoy (which reloads a path_config_source file only on a rename onto its name) picks them up.
Invalid YAML/JSON is never published; the last good version stays. After each publish, Envoy's
admin API tells whether Envoy accepted the file's version; a refused file is replaced by the last
accepted version (kept under --to/..envoy-xds-verdict/, see 'status'). Exits 0 on SIGTERM.

  --from DIR          the ConfigMap volume mount
  --to DIR            the writable directory Envoy reads (emptyDir)
  --resync DURATION   full resync interval, a safety net for lost events (default 60s)
  --ready-file PATH   created once the first sync is done and the watch is established
  --bootstrap NAME    the file Envoy is started with (-c): changes to it log a restart warning;
                      its admin address and xDS file sources are used for Envoy's verdict
  --admin ADDRESS     Envoy's admin API (HOST:PORT or a unix socket path), instead of the bootstrap's
  --verdict-timeout DURATION
                      how long after a publish Envoy's verdict may take before it is 'unknown' (default 10s)
`;

const MIN_RESYNC_MS = 100;

export const watch: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    resync: { type: 'string', default: '60s' },
    'ready-file': { type: 'string' },
    bootstrap: { type: 'string' },
    admin: { type: 'string' },
    'verdict-timeout': { type: 'string', default: '10s' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const { from: sourceDir, to: targetDir } = values;
  if (sourceDir === undefined || targetDir === undefined) throw new UsageError('--from and --to are required');
  const resyncMs = durationFlag('resync', values.resync, MIN_RESYNC_MS);
  const verdictTimeoutMs = durationFlag('verdict-timeout', values['verdict-timeout'], 100);
  let admin;
  try {
    admin = values.admin === undefined ? undefined : parseAdminAddress(values.admin);
  } catch (err) {
    throw new UsageError(`--admin: ${(err as Error).message}`);
  }

  try {
    return await runWatch({
      sourceDir,
      targetDir,
      logger: ctx.logger,
      resyncMs,
      verdictTimeoutMs,
      ...(admin === undefined ? {} : { admin }),
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

