// `status`: two views.
// - Over the API, for a workload (`status -n NS deployment/NAME`, daemonset/, statefulset/, pod/,
//   `-l SELECTOR`): one row per Pod and file and a state per Pod (status-workload.ts); `--wait`.
// - Pod-local, in the watcher container (`kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector
//   status`): per file, the ConfigMap, the published file, what Envoy runs and its last verdict.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_DIR } from '../inject/names.js';
import { gatherStatus, NoStateError } from '../sync/verdict/status.js';
import { formatStatus } from '../sync/verdict/status-format.js';
import { REFUSED_FIRST } from '../sync/verdict/messages.js';
import type { Command } from './context.js';
import { argsProblem, durationFlag, UsageError } from './context.js';
import { workloadStatus } from './status-workload.js';

const USAGE = `Usage: envoy-xds-injector status [-n NS] (TYPE/NAME | -l SELECTOR) [-o json|yaml] [--wait [--timeout 2m]]
                                  [--kubeconfig FILE] [--context NAME]
       envoy-xds-injector status [--to DIR] [--json | -o json] [--timeout 2s]     (in the watcher container)

Over the Kubernetes API, for every Pod of a workload (TYPE: deployment, daemonset, statefulset,
pod; or Pods by label selector): per Pod and file, the version the ConfigMap holds now, the version
published in the Pod, what Envoy runs and its last verdict, and one of five states per Pod: SYNCED
(Envoy runs the ConfigMap's version), PENDING (not there yet), REJECTED (Envoy or the watcher's gate
refused it; why), FAILED (the init container envoy-xds-copy failed, so the Pod cannot start; its
words and the kubectl logs command), UNKNOWN (no answer, or Envoy's verdict is unknown; why). Each
Pod is read by running the Pod-local status in its watcher container (exec): RBAC in
'envoy-xds-injector rbac --status-reader --help'.

  -n, --namespace NS   the namespace (default: the kubeconfig context's, else default)
  -l, --selector SEL   Pods by label selector instead of TYPE/NAME
  -o, --output FORMAT  json or yaml instead of the table
  --wait               wait until every Pod is SYNCED (exit 0); exit 1 as soon as one is REJECTED or
                       FAILED (naming the Pod and why) or at the timeout; progress lines meanwhile
  --timeout DURATION   how long --wait waits (default 2m)
  --kubeconfig FILE    credentials (default $KUBECONFIG, else ~/.kube/config, as kubectl)
  --context NAME       the kubeconfig context to use

In the watcher container (kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector status):
reads the state 'watch' keeps in DIR/..envoy-xds-verdict/ (refused content: .../refused/FILE): per
file, no Pod state, but its last verdict: accepted, rejected or unknown.

  --to DIR             the directory 'watch' publishes into (default ${CONFIG_DIR}, the injected one)
  --json, -o json      print the status as JSON
  --timeout DURATION   how long to wait for Envoy's admin API (default 2s)

Exit status: 0 the status was read and nothing is refused (every Pod SYNCED, PENDING or UNKNOWN: the
output says which; in the watcher container, no file's ConfigMap version refused); 1 a Pod is
REJECTED or FAILED (in the watcher container, a file's ConfigMap version is refused), named on
stderr, or the status could not be read; with --wait also 1 at the timeout; 2 usage.
`;

export const status: Command = async (args, ctx) => {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        to: { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        selector: { type: 'string', short: 'l' },
        output: { type: 'string', short: 'o' },
        wait: { type: 'boolean', default: false },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(argsProblem(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`one TYPE/NAME at a time, got ${positionals.join(' ')}`);
  const workload = positionals.length === 1 || values.selector !== undefined;
  // `-o json` reads as --json in the Pod-local view too, as in the workload view and `validate`.
  const podJson = !workload && values.output === 'json';
  const apiOnly = (['namespace', 'output', 'wait', 'kubeconfig', 'context'] as const).filter((k) => values[k] !== undefined && values[k] !== false && !(k === 'output' && podJson));
  if (workload) {
    if (values.to !== undefined) throw new UsageError(`--to is the Pod-local view's: it takes no TYPE/NAME or -l`);
    return workloadStatus({
      wait: values.wait,
      ...(positionals[0] === undefined ? {} : { target: positionals[0] }),
      ...(values.selector === undefined ? {} : { selector: values.selector }),
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
      ...(values.context === undefined ? {} : { context: values.context }),
      ...(values.json ? { output: 'json' } : values.output === undefined ? {} : { output: values.output }),
      ...(values.timeout === undefined ? {} : { timeout: values.timeout }),
    }, ctx);
  }
  if (apiOnly.length > 0) {
    const yaml = values.output !== undefined && values.output !== 'json' ? ` (the Pod-local view prints a table, or JSON with -o json)` : '';
    throw new UsageError(`--${apiOnly.join(', --')} ${apiOnly.length === 1 ? 'needs' : 'need'} a workload: TYPE/NAME (e.g. deployment/envoy) or -l SELECTOR${yaml}`);
  }

  // Absolute, as the watcher records its source: the header names both the same way.
  const targetDir = resolve(values.to ?? CONFIG_DIR);
  const timeoutMs = durationFlag('timeout', values.timeout ?? '2s', 1);
  try {
    const result = await gatherStatus(targetDir, { timeoutMs });
    ctx.stdout.write(values.json || podJson ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
    // As the workload view: a refusal of the ConfigMap's version is exit 1, so a script can tell it from success.
    const refused = result.files.filter((f) => f.held || f.invalid !== undefined);
    if (refused.length === 0) return 0;
    // A refused FIRST version is itself what is published (there was nothing accepted to go back to).
    const first = (f: (typeof refused)[number]): boolean => f.refusedPublished === true;
    const which = refused
      .map((f) => `${f.file} (${f.refusedAccepted === true ? 'an Envoy started since refused the version accepted before; it stays published' : first(f) ? REFUSED_FIRST : f.heldWith !== undefined ? `Envoy took it; held back with ${f.heldWith}, which Envoy refused` : f.held ? 'Envoy refused it' : 'the watcher\'s gate refuses it'})`)
      .join(', ');
    const tail = refused.every(first) ? '' : `; the last accepted version stays published${refused.some(first) ? ' where there is one' : ''}`;
    ctx.stderr.write(`envoy-xds-injector status: the ConfigMap's version is refused: ${which}${tail}\n`);
    return 1;
  } catch (err) {
    if (!(err instanceof NoStateError)) throw err;
    // The Pod-local view's default directory exists in an injected Pod only: outside one, the workload view is meant.
    const outsidePod = values.to === undefined && !existsSync(CONFIG_DIR) ? `; outside a Pod, ask the cluster: envoy-xds-injector status -n NAMESPACE deployment/NAME` : '';
    ctx.stderr.write(`envoy-xds-injector status: ${err.message}${outsidePod}\n`);
    return 1;
  }
};
