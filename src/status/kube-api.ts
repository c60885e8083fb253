// The operator's side of `status` over the API: client-node's KubeConfig (kubeconfig files,
// contexts, exec credential plugins, in-cluster, as kubectl reads them), its typed clients for the
// read-only calls, and its Exec (WebSocket, v5.channel.k8s.io) to run the Pod-local
// `status --json` in the watcher container. Loaded by the CLI only: never in a Pod's watcher.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type { PodReader, StatusApi } from './workload.js';

export interface KubeTarget {
  kubeConfig: k8s.KubeConfig;
  /** -n, else the context's namespace, else `default` (kubectl's order). */
  namespace: string;
  context: string;
}

/**
 * Loads credentials as kubectl does: `--kubeconfig FILE`, else $KUBECONFIG (a list of files,
 * merged), else ~/.kube/config, else in-cluster; `--context` picks another context.
 * Throws an Error saying what is missing. `env` is the CLI's environment (HOME, KUBECONFIG,
 * KUBERNETES_SERVICE_HOST), read to tell "no configuration at all" apart.
 */
export function loadKube(flags: { kubeconfig?: string; context?: string; namespace?: string }, env: NodeJS.ProcessEnv = process.env): KubeTarget {
  const kc = new k8s.KubeConfig();
  // client-node's own error names only the file (`ENOENT: ... open '/x'`): say it is the kubeconfig, and from where.
  const loading = (from: string, load: () => void): void => {
    try {
      load();
    } catch (err) {
      throw new Error(`cannot read the kubeconfig (${from}): ${(err as Error).message}`, { cause: err });
    }
  };
  if (flags.kubeconfig !== undefined && flags.kubeconfig !== '') loading(`--kubeconfig ${flags.kubeconfig}`, () => { kc.loadFromFile(flags.kubeconfig ?? ''); });
  else {
    // With nothing found, client-node falls back to http://localhost:8080 and then fails with a
    // TLS message that hides the cause; kubectl says instead that no configuration was provided.
    const home = env.HOME !== undefined && env.HOME !== '' ? join(env.HOME, '.kube', 'config') : undefined;
    if ((env.KUBECONFIG ?? '') === '' && (home === undefined || !existsSync(home)) && (env.KUBERNETES_SERVICE_HOST ?? '') === '') {
      throw new Error(`no configuration has been provided: no --kubeconfig, KUBECONFIG unset, ${home === undefined ? 'HOME unset' : `no ${home}`}, not in a cluster (KUBERNETES_SERVICE_HOST unset); set --kubeconfig or KUBECONFIG`);
    }
    loading((env.KUBECONFIG ?? '') !== '' ? `KUBECONFIG=${env.KUBECONFIG ?? ''}` : home ?? 'in-cluster', () => { kc.loadFromDefault(); });
  }
  if (flags.context !== undefined && flags.context !== '') {
    if (kc.getContextObject(flags.context) === null) throw new Error(`context "${flags.context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(flags.context);
  }
  if (kc.getCurrentCluster() === null) throw new Error('no cluster in the kubeconfig\'s current context (set KUBECONFIG or pass --kubeconfig)');
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespace = flags.namespace !== undefined && flags.namespace !== '' ? flags.namespace : contextNamespace !== undefined && contextNamespace !== '' ? contextNamespace : 'default';
  return { kubeConfig: kc, namespace, context: kc.getCurrentContext() };
}

export function kubeStatusApi(kc: k8s.KubeConfig): StatusApi {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  return {
    async workloadSelector(kind, namespace, name) {
      if (kind === 'deployment') return (await apps.readNamespacedDeployment({ namespace, name })).spec?.selector;
      if (kind === 'daemonset') return (await apps.readNamespacedDaemonSet({ namespace, name })).spec?.selector;
      return (await apps.readNamespacedStatefulSet({ namespace, name })).spec?.selector;
    },
    async listPods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, labelSelector })).items;
    },
    readPod: (namespace, name) => core.readNamespacedPod({ namespace, name }),
    readConfigMap: (namespace, name) => core.readNamespacedConfigMap({ namespace, name }),
  };
}

/** The CLI in the watcher image (its ENTRYPOINT, also on its PATH). */
export const POD_CLI = 'envoy-xds-injector';

/**
 * Runs `envoy-xds-injector status --json --to DIR` in the container through the API's exec
 * (RBAC: `get` and `create` on pods/exec: a WebSocket exec is a GET, authorized as `get` before
 * Kubernetes 1.35 and as `create` too from 1.35). Resolves with its stdout when it exits 0, or 1
 * with output (a refused file: the status is still whole).
 * `cli`: how the operator runs the CLI, for the hint on a 403 (src/cli/self-command.ts).
 */
export function execPodReader(kc: k8s.KubeConfig, timeoutMs = 30_000, cli = POD_CLI): PodReader {
  const exec = new k8s.Exec(kc);
  return (namespace, pod, container, dir) =>
    new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const sink = (into: Buffer[]): Writable => new Writable({ write(chunk: Buffer, _enc, cb) { into.push(chunk); cb(); } });
      let socket: { close(): void } | undefined;
      let settled = false;
      const settle = (error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket?.close();
        if (error === undefined) resolve(Buffer.concat(out).toString('utf8'));
        else reject(error);
      };
      const timer = setTimeout(() => { settle(new Error(`exec into ${container}: no answer within ${String(timeoutMs)} ms`)); }, timeoutMs);
      exec.exec(namespace, pod, container, [POD_CLI, 'status', '--json', '--to', dir], sink(out), sink(err), null, false, (status) => {
        if (status.status === 'Success') { settle(undefined); return; }
        // `status --json` exits 1 when a file is refused, with the whole status on stdout.
        const exitCode = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
        if (status.reason === 'NonZeroExitCode' && exitCode === '1' && out.length > 0) { settle(undefined); return; }
        const stderr = Buffer.concat(err).toString('utf8').trim().replace(/^envoy-xds-injector status: /, '');
        settle(new Error(stderr !== '' ? stderr : `exec into ${container}: ${status.message ?? 'failed'}`));
      }).then(
        (ws: unknown) => {
          // isomorphic-ws's types do not resolve under NodeNext: the two calls used, typed here.
          const conn = ws as { close(): void; on(event: 'close', listener: () => void): unknown };
          socket = conn;
          if (settled) conn.close();
          conn.on('close', () => { settle(new Error(`exec into ${container}: the connection closed without an exit status`)); });
        },
        (e: unknown) => {
          const message = e instanceof Error ? e.message : String(e);
          const hint = /\b403\b/.test(message) ? ` (forbidden: needs get and create on pods/exec, see \`${cli} rbac --status-reader --help\`)` : '';
          settle(new Error(`exec into ${container}: ${message}${hint}`));
        },
      );
    });
}
