// `status`: run in the watcher container (`kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector
// status`) to see, per file, the ConfigMap, the published file, what Envoy runs and its last verdict.
import { CONFIG_DIR } from '../inject/names.js';
import { formatStatus, gatherStatus, NoStateError } from '../sync/verdict/status.js';
import type { Command } from './context.js';
import { durationFlag, parseFlags } from './context.js';

const USAGE = `Usage: envoy-xds-injector status [--to DIR] [--json] [--timeout 2s]

Per file: the version in the ConfigMap, the version published in DIR, the version Envoy runs (asked
live from Envoy's admin API) and Envoy's last verdict (accepted, rejected, unknown) with its time.
Reads the state 'watch' keeps in DIR/..envoy-xds-verdict/ (refused content: .../refused/FILE).

  --to DIR        the directory 'watch' publishes into (default ${CONFIG_DIR}, the injected one)
  --json          print the status as JSON
  --timeout DURATION  how long to wait for Envoy's admin API (default 2s)
`;

export const status: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    to: { type: 'string', default: CONFIG_DIR },
    json: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '2s' },
    help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const timeoutMs = durationFlag('timeout', values.timeout, 1);
  try {
    const result = await gatherStatus(values.to, { timeoutMs });
    ctx.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
    return 0;
  } catch (err) {
    if (!(err instanceof NoStateError)) throw err;
    ctx.stderr.write(`envoy-xds-injector status: ${err.message}\n`);
    return 1;
  }
};
