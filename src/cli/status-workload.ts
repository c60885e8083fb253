// `status TYPE/NAME` / `status -l SELECTOR`: the workload view over the Kubernetes API (one row per
// Pod and file, a state per Pod, a summary line), and `--wait` for pipelines. docs/status.md.
import type { CliContext } from './context.js';
import { durationFlag, UsageError } from './context.js';
import { formatWorkload, formatWorkloadAs } from '../status/format.js';
import { describeTarget, gatherWorkload, parseTarget, type Target } from '../status/workload.js';
import { refusalMessage, waitForWorkload } from '../status/wait.js';

export interface WorkloadFlags {
  target?: string;
  namespace?: string;
  selector?: string;
  kubeconfig?: string;
  context?: string;
  output?: string;
  wait: boolean;
  timeout?: string;
}

export async function workloadStatus(flags: WorkloadFlags, ctx: CliContext): Promise<number> {
  let target: Target;
  if (flags.target !== undefined && flags.selector !== undefined) throw new UsageError(`give TYPE/NAME or -l SELECTOR, not both`);
  if (flags.selector !== undefined) {
    if (flags.selector === '') throw new UsageError('-l: empty selector');
    target = { kind: 'selector', name: flags.selector };
  } else {
    const parsed = parseTarget(flags.target ?? '');
    if (parsed === undefined) throw new UsageError(`'${flags.target ?? ''}': expected deployment/NAME, daemonset/NAME, statefulset/NAME or pod/NAME`);
    target = parsed;
  }
  const output = flags.output ?? 'table';
  if (output !== 'table' && output !== 'json' && output !== 'yaml') throw new UsageError(`-o: expected json or yaml, got '${output}'`);
  if (flags.timeout !== undefined && !flags.wait) throw new UsageError('--timeout without --wait: it is how long --wait waits (the Pod-local status\'s --timeout takes no TYPE/NAME)');
  const timeoutMs = durationFlag('timeout', flags.timeout ?? '2m', 1);

  // Loaded here: client-node's whole API is for the operator's CLI, never the Pods' watchers.
  const { execPodReader, kubeStatusApi, loadKube } = await import('../status/kube-api.js');
  let kube;
  try {
    kube = loadKube(flags, ctx.env);
  } catch (err) {
    ctx.stderr.write(`envoy-xds-injector status: ${(err as Error).message}\n`);
    return 1;
  }
  const gather = { api: kubeStatusApi(kube.kubeConfig), read: execPodReader(kube.kubeConfig, undefined, ctx.self), namespace: kube.namespace, target };
  try {
    if (flags.wait) {
      const result = await waitForWorkload({
        ...gather,
        timeoutMs,
        // With -o json|yaml, stdout is the document alone: progress goes to stderr.
        print: (line) => (output === 'table' ? ctx.stdout : ctx.stderr).write(`${line}\n`),
        signal: ctx.shutdownSignal,
      });
      if (output !== 'table') ctx.stdout.write(formatWorkloadAs(result.status, output));
      (result.code === 0 && output === 'table' ? ctx.stdout : ctx.stderr).write(`${result.message}\n`);
      return result.code;
    }
    const status = await gatherWorkload(gather);
    ctx.stdout.write(output === 'table' ? formatWorkload(status) : formatWorkloadAs(status, output));
    if (status.pods.length === 0) ctx.stderr.write(`envoy-xds-injector status: no Pods for ${describeTarget(target)} in namespace ${kube.namespace}\n`);
    // As --wait: a script tells a refusal from success by the exit status alone.
    const refused = refusalMessage(status);
    if (refused !== undefined) ctx.stderr.write(`${refused}\n`);
    return refused === undefined ? 0 : 1;
  } catch (err) {
    ctx.stderr.write(`envoy-xds-injector status: ${(err as Error).message}\n`);
    return 1;
  }
}
