// The user's path on the test node, as README.md tells it: a copy of the repo's manifests/ and
// certs/ (so `certs/generate.sh` writes certs/out there, never in the work tree), kubectl run from
// it, and helpers to look at what the kubelet runs (Pod IPs, container PIDs, Envoy's answers).
import { cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { kubectl, kubectlPath, repoRoot, type Cluster } from '../e2e/cluster.js';
import { httpGet } from '../e2e/http.js';
import { freePort, run, startProcess, waitFor, type RunResult } from '../e2e/proc.js';
import type { TestNode } from './node.js';

export const INJECTOR_NS = 'envoy-xds-injector';
export const DEMO_NS = 'envoy-xds-demo';
export const DEMO_CONFIGMAP = 'envoy-xds-example';
export const DEMO_SELECTOR = 'app.kubernetes.io/name=envoy';
export const WEBHOOK_SELECTOR = 'app.kubernetes.io/name=envoy-xds-injector,app.kubernetes.io/component=webhook';
/** The body manifests/examples/configmap.yaml's listener answers with. */
export const DEMO_BODY_V1 = 'hello from envoy-xds-injector (config v1)\n';

/** A copy of manifests/ and certs/ in `dir`: where the user's commands run. */
export async function userCheckout(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(
    ['manifests', 'certs'].map((d) =>
      cp(join(repoRoot, d), join(dir, d), { recursive: true, filter: (src) => !src.includes(join('certs', 'out')) }),
    ),
  );
  return dir;
}

/** Run a command of README's (`certs/generate.sh`, `kubectl ...`) in the checkout; throws on failure. */
export async function sh(cluster: Cluster, cwd: string, cmd: string, args: string[]): Promise<RunResult> {
  const r =
    cmd === 'kubectl'
      ? await kubectl(cluster, args, { cwd })
      : await run(join(cwd, cmd), args, { cwd, env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath } });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** GET http://<ip>:<port><path> (a Pod IP: the host reaches it through the bridge). */
export async function podGet(ip: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return httpGet(`http://${ip}:${port}${path}`, { timeoutMs: 3_000 });
}

/** Poll until the Pod at `ip` answers `body` on `port`; returns the seconds it took. */
export async function waitForBody(ip: string, port: number, body: string, timeoutMs = 120_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    `http://${ip}:${port}/ to answer ${JSON.stringify(body)}`,
    async () => {
      const r = await podGet(ip, port);
      return r.status === 200 && r.body === body ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return (Date.now() - t0) / 1000;
}

/** `kubectl port-forward` (README's way to reach the demo) on a free local port; call close(). */
export async function portForward(
  cluster: Cluster,
  namespace: string,
  target: string,
  remotePort: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const port = await freePort();
  const proc = startProcess(
    'kubectl port-forward',
    await kubectlPath(),
    ['-n', namespace, 'port-forward', target, `${port}:${remotePort}`],
    { logFile: join(cluster.logDir, `port-forward-${port}.log`), env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath } },
  );
  await proc.waitForLog(/Forwarding from 127\.0\.0\.1/, 60_000);
  return { port, close: async () => { await proc.stop(2_000); } };
}

/** Replace `from` with `to` in ConfigMap key `key` (what `kubectl edit configmap` does). */
export async function editConfigMap(cluster: Cluster, namespace: string, name: string, key: string, edit: (text: string) => string): Promise<void> {
  const cm = await cluster.core.readNamespacedConfigMap({ namespace, name });
  const before = cm.data?.[key];
  if (before === undefined) throw new Error(`ConfigMap ${namespace}/${name} has no key ${key}`);
  const after = edit(before);
  if (after === before) throw new Error(`the edit of ${key} changed nothing`);
  cm.data = { ...cm.data, [key]: after };
  await cluster.core.replaceNamespacedConfigMap({ namespace, name, body: cm });
}

/** The demo's lds.yaml with its direct_response body replaced. */
export function withBody(lds: string, body: string): string {
  const re = /inline_string: "[^"]*"/;
  if (!re.test(lds)) throw new Error('no inline_string body in lds.yaml');
  return lds.replace(re, `inline_string: ${JSON.stringify(body)}`);
}

/** containerd container id from a status' containerID (containerd://ID). */
export function containerId(status: k8s.V1ContainerStatus | undefined): string {
  const id = status?.containerID?.replace(/^containerd:\/\//, '');
  if (id === undefined || id === '') throw new Error(`container ${status?.name ?? '?'} has no containerID yet`);
  return id;
}

/** Host PID of a running container's init process (from `ctr tasks ls`). */
export async function containerPid(node: TestNode, id: string): Promise<number> {
  const r = await node.ctr(['tasks', 'ls']);
  for (const line of r.stdout.split('\n')) {
    const [task, pid, status] = line.trim().split(/\s+/);
    if (task === id && status === 'RUNNING') return Number(pid);
  }
  throw new Error(`no running task ${id} in:\n${r.stdout}`);
}

/** Selected fields of /proc/<pid>/status (Seccomp, NoNewPrivs, CapEff, Uid...). */
export async function procStatus(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.split(':\t'))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k, v.trim()]),
  );
}

/** Whether the container's root filesystem (mount point `/` seen by `pid`) is mounted read-only. */
export async function rootIsReadOnly(pid: number): Promise<boolean> {
  const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  const root = info.split('\n').find((l) => l.split(' ')[4] === '/');
  if (root === undefined) throw new Error(`no / in /proc/${pid}/mountinfo`);
  return (root.split(' ')[5] ?? '').split(',').includes('ro');
}

/** `kubectl logs` of one container (the user's way to read the watcher's log). */
export async function containerLogs(cluster: Cluster, namespace: string, pod: string, container: string): Promise<string> {
  const r = await kubectl(cluster, ['-n', namespace, 'logs', pod, '-c', container]);
  if (r.code !== 0) throw new Error(`kubectl logs ${pod} -c ${container}: ${r.stderr}`);
  return r.stdout;
}

/** `kubectl exec POD -c CONTAINER -- ARGS...` (the user's way into a container); throws on failure. */
export async function execIn(cluster: Cluster, namespace: string, pod: string, container: string, args: string[]): Promise<string> {
  const r = await kubectl(cluster, ['-n', namespace, 'exec', pod, '-c', container, '--', ...args]);
  if (r.code !== 0) throw new Error(`kubectl exec ${pod} -c ${container} -- ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The Pod-local `envoy-xds-injector status ARGS` in a Pod's watcher container: exit 0 (nothing
 * refused) or 1 (a file's ConfigMap version refused; the status is on stdout all the same). Throws on
 * any other exit.
 */
export async function podLocalStatus(cluster: Cluster, namespace: string, pod: string, args: string[] = []): Promise<{ code: 0 | 1; stdout: string; stderr: string }> {
  const r = await kubectl(cluster, ['-n', namespace, 'exec', pod, '-c', 'envoy-xds-watch', '--', 'envoy-xds-injector', 'status', ...args]);
  if (r.code !== 0 && r.code !== 1) throw new Error(`kubectl exec ${pod} -c envoy-xds-watch -- envoy-xds-injector status ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
  return { code: r.code, stdout: r.stdout, stderr: withoutKubectlLog(r.stderr) };
}

/**
 * stderr of `kubectl exec` without kubectl's own klog lines (`E1204 23:06:00.222716    7276
 * websocket.go:297] Unknown stream id 1, discarding message`: its WebSocket exec client logs a late
 * frame after the command ended), so what is left is the command's stderr and kubectl's `command
 * terminated with exit code N`.
 */
export function withoutKubectlLog(stderr: string): string {
  return stderr.split('\n').filter((l) => !/^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+ +\d+ [\w.-]+:\d+\] /.test(l)).join('\n');
}

/** A line of the watcher's log (pino JSON) with `event: "verdict"` (docs/sync.md). */
export interface VerdictLine {
  level: number;
  event: 'verdict';
  file: string;
  outcome: 'accepted' | 'rejected' | 'unknown';
  xdsVersion?: string;
  previousXdsVersion?: string;
  rolledBack: boolean;
  refused?: string;
  /** rejected: Envoy's reason from its admin API, when it has one. */
  reason?: string;
  /** rejected: the start of the line in Envoy's log with the full error. */
  envoyLog?: string;
  msg: string;
}

/** The verdict lines of a watcher's log, in order (other lines are skipped). */
export function verdictLines(log: string): VerdictLine[] {
  const out: VerdictLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof parsed === 'object' && parsed !== null && (parsed as { event?: unknown }).event === 'verdict') out.push(parsed as VerdictLine);
  }
  return out;
}

/** Envoy's admin /stats lines matching `filter`, read inside the Pod (`kubectl exec`, busybox wget). */
export async function envoyStats(cluster: Cluster, namespace: string, pod: string, filter: string): Promise<Record<string, number>> {
  const r = await kubectl(cluster, [
    '-n', namespace, 'exec', pod, '-c', 'envoy', '--',
    '/bin/busybox', 'wget', '-qO-', `http://127.0.0.1:9901/stats?filter=${encodeURIComponent(filter)}`,
  ]);
  if (r.code !== 0) throw new Error(`kubectl exec ${pod} wget stats: ${r.stderr}`);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .map((l) => l.split(': '))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k, Number(v)]),
  );
}

export type { k8s };

/**
 * README's install with a plain certificate, in the checkout `repo`: `certs/generate.sh`,
 * `kubectl apply -k manifests/overlays/plain-certificate`, `kubectl rollout status`. On a rollout
 * timeout the error describes the injector's Pods.
 */
export async function installPlainCertificate(cluster: Cluster, repo: string, describe: (ns: string) => Promise<string>): Promise<void> {
  await sh(cluster, repo, 'certs/generate.sh', []);
  await sh(cluster, repo, 'kubectl', ['apply', '-k', 'manifests/overlays/plain-certificate']);
  try {
    await sh(cluster, repo, 'kubectl', ['-n', INJECTOR_NS, 'rollout', 'status', 'deployment/envoy-xds-injector', '--timeout=300s']);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await describe(INJECTOR_NS)}`, { cause: err });
  }
}
