// A Pod in miniature for `watch --source api` against the e2e control plane: a namespace, a
// ServiceAccount with a real token (TokenRequest), optionally the Role/RoleBinding the `rbac`
// command prints (applied with kubectl), the ConfigMap, a ConfigMap volume written the way the
// kubelet's AtomicWriter does (the fallback), `watch` as a process, and real Envoy reading LDS from
// the watcher's target directory. Shared by the e2e tests of the API source (api-source*.test.ts,
// api-faults.test.ts, store-handoff.test.ts) and bench/api-source.ts; a namespace without a Pod:
// setupApiNamespace.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy, type EnvoyProcess } from '../envoy/envoy.js';
import { AtomicWriter, CliProcess, runCli } from '../sync/harness.js';
import { kubectl, type Cluster } from './cluster.js';
import { plain } from './objects.js';

export const READY = '..envoy-xds-watch.ready';
/** The watcher's line once it follows the ConfigMap through the API (not the volume). */
export const API_IN_USE = 'following the ConfigMap through the Kubernetes API';

export interface ApiPodOptions {
  namespace: string;
  serviceAccount: string;
  configMap: string;
  podName: string;
  /** Apply the Role/RoleBinding printed by `envoy-xds-injector rbac` (default true). */
  bind?: boolean;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** How to start the CLI (default `--import tsx src/cli/main.ts`); the bench runs the tsc output. */
  entry?: string[];
  /** The API server URL in the watcher's kubeconfig (default the cluster's): a fault proxy in front of it. */
  server?: string;
  /** The kubeconfig names a token file (`tokenFile`) instead of holding the token: see ApiPod.refreshToken. */
  tokenFile?: boolean;
  /** Envoy's listener port (default a free one): Pods of one workload share the ConfigMap's content, port included. */
  port?: number;
  /** Leave the ConfigMap as it is (another Pod of the workload created it) instead of creating it with v0. */
  keepConfigMap?: boolean;
  /**
   * `copy --accepted` with the last-accepted store (`CONFIGMAP-envoy-xds-accepted`) projected as the
   * kubelet does (AtomicWriter layout; empty when it does not exist), as an injected `source: api` Pod.
   */
  acceptedStore?: boolean;
  /** What Envoy serves once the watcher is ready (default v0; another when the workload moved on meanwhile). */
  body?: string;
  /** Runs after `copy`, before the watcher starts (the Pod's init container done, its containers not yet started). */
  beforeWatch?: (dirs: { root: string; source: string; target: string }) => Promise<void>;
}

export interface ApiPod {
  readonly port: number;
  readonly dirs: { root: string; source: string; target: string };
  readonly volume: AtomicWriter;
  readonly envoy: EnvoyProcess;
  readonly watcher: CliProcess;
  readonly podUid: string;
  /** Writes a fresh token for the ServiceAccount into the token file (with `tokenFile`), as the kubelet rotates it. */
  refreshToken(): Promise<void>;
  /** Replace the ConfigMap's lds.yaml with a listener answering `body`; resolves with the response's resourceVersion. */
  setBody(body: string): Promise<string>;
  /** Put raw lds.yaml text (e.g. invalid YAML) into the ConfigMap. */
  setLds(text: string): Promise<string>;
  stop(): Promise<void>;
}

/** A fresh bound token for `namespace/serviceAccount` (TokenRequest API, 1 h). */
export async function serviceAccountToken(cluster: Cluster, namespace: string, serviceAccount: string): Promise<string> {
  const request = await cluster.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: plain<k8s.AuthenticationV1TokenRequest>({ spec: { expirationSeconds: 3600, audiences: [] } }),
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error('TokenRequest returned no token');
  return token;
}

/**
 * A kubeconfig for `namespace/serviceAccount` with a fresh bound token (TokenRequest API), for
 * `server` (default the cluster's). With `tokenFile`, the token is written there and the kubeconfig
 * names the file (`tokenFile`), as a projected token is read: a test can rotate it.
 */
export async function serviceAccountKubeconfig(cluster: Cluster, namespace: string, serviceAccount: string, dir: string, server = cluster.server, tokenFile?: string): Promise<string> {
  const token = await serviceAccountToken(cluster, namespace, serviceAccount);
  if (tokenFile !== undefined) await writeFile(tokenFile, token, { mode: 0o600 });
  const path = join(dir, `${serviceAccount}.kubeconfig`);
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': b64(cluster.ca.cert) } }],
      users: [{ name: serviceAccount, user: tokenFile === undefined ? { token } : { tokenFile } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: serviceAccount, namespace } }],
      'current-context': 'e2e',
    }),
    { mode: 0o600 },
  );
  return path;
}

/** `envoy-xds-injector rbac ... | kubectl apply -f -`, as the README says. */
export async function applyRbac(cluster: Cluster, namespace: string, serviceAccount: string, configMap: string): Promise<void> {
  const printed = await runCli(['rbac', '--namespace', namespace, '--service-account', serviceAccount, '--configmap', configMap]);
  if (printed.code !== 0) throw new Error(`rbac failed: ${printed.stderr}`);
  const applied = await kubectl(cluster, ['apply', '-f', '-'], { input: printed.stdout });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
}

export async function ensureNamespace(cluster: Cluster, namespace: string, serviceAccount: string): Promise<void> {
  await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name: namespace } }) }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  await cluster.core.createNamespacedServiceAccount({ namespace, body: plain<k8s.V1ServiceAccount>({ metadata: { name: serviceAccount } }) }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
}

/**
 * A namespace for a test of the API source without a Pod: the ServiceAccount `serviceAccount`
 * (default envoy), the Role/RoleBinding the `rbac` command prints for the ConfigMap `configMap`
 * (default envoy-xds), that ConfigMap holding `data` (not created when undefined). Resolves with
 * the path of a kubeconfig for the ServiceAccount (a fresh token) in the cluster's work directory.
 */
export async function setupApiNamespace(cluster: Cluster, namespace: string, options: { data?: Record<string, string>; serviceAccount?: string; configMap?: string } = {}): Promise<string> {
  const { serviceAccount = 'envoy', configMap = 'envoy-xds', data } = options;
  await ensureNamespace(cluster, namespace, serviceAccount);
  await applyRbac(cluster, namespace, serviceAccount, configMap);
  if (data !== undefined) await cluster.core.createNamespacedConfigMap({ namespace, body: plain<k8s.V1ConfigMap>({ metadata: { name: configMap }, data }) });
  return serviceAccountKubeconfig(cluster, namespace, serviceAccount, cluster.workDir);
}

/**
 * startApiPod in `namespace` with the ServiceAccount envoy, the ConfigMap envoy-xds and the Pod
 * envoy-0 (`options` may change any), resolved once the watcher said API_IN_USE; stopped if it never does.
 */
export async function startApiPodInUse(cluster: Cluster, namespace: string, options: Partial<ApiPodOptions> = {}): Promise<ApiPod> {
  const pod = await startApiPod(cluster, { namespace, serviceAccount: 'envoy', configMap: 'envoy-xds', podName: 'envoy-0', ...options });
  try {
    await pod.watcher.waitForLog((l) => l.msg === API_IN_USE, 'API in use');
  } catch (err) {
    await pod.stop();
    throw err;
  }
  return pod;
}

export async function startApiPod(cluster: Cluster, options: ApiPodOptions): Promise<ApiPod> {
  const { namespace, serviceAccount, configMap, podName } = options;
  await ensureNamespace(cluster, namespace, serviceAccount);
  if (options.bind !== false) await applyRbac(cluster, namespace, serviceAccount, configMap);
  const port = options.port ?? ((await freePorts(1)) as [number])[0];

  const lds = (body: string): string => ldsYaml({ port, body });
  const cmBody = (text: string): k8s.V1ConfigMap => plain<k8s.V1ConfigMap>({ metadata: { name: configMap, namespace }, data: { 'lds.yaml': text } });
  if (options.keepConfigMap !== true) {
    await cluster.core.deleteNamespacedConfigMap({ name: configMap, namespace }).catch(() => undefined);
    await cluster.core.createNamespacedConfigMap({ namespace, body: cmBody(lds('v0')) });
  }
  // A Pod object for the Events to regard (Pending: there is no kubelet; the watcher runs here).
  await cluster.core.deleteNamespacedPod({ name: podName, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  const pod = await cluster.core.createNamespacedPod({
    namespace,
    body: plain<k8s.V1Pod>({ metadata: { name: podName }, spec: { serviceAccountName: serviceAccount, containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.40.0' }] } }),
  });

  const root = await mkdtemp(join(tmpdir(), 'envoy-xds-api-'));
  const dirs = { root, source: join(root, 'source'), target: join(root, 'target') };
  await mkdir(dirs.source);
  await mkdir(dirs.target);
  const volume = new AtomicWriter(dirs.source);
  await volume.write({ 'lds.yaml': lds('v0') });
  const accepted = join(root, 'accepted');
  if (options.acceptedStore === true) {
    await mkdir(accepted);
    const store = await cluster.core.readNamespacedConfigMap({ namespace, name: `${configMap}-envoy-xds-accepted` }).catch(() => undefined);
    await new AtomicWriter(accepted).write(store?.data ?? {});
  }
  const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, ...(options.acceptedStore === true ? ['--accepted', accepted] : [])]);
  if (copy.code !== 0) throw new Error(`copy failed: ${copy.stdout}${copy.stderr}`);
  await options.beforeWatch?.(dirs);
  const tokenPath = join(root, 'token');
  const kubeconfig = await serviceAccountKubeconfig(cluster, namespace, serviceAccount, root, options.server, options.tokenFile === true ? tokenPath : undefined);

  const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(dirs.target, 'lds.yaml') }) }, workDir: root, logLevel: 'warning' });
  const watcher = new CliProcess(
    [
      'watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY),
      '--source', 'api', '--configmap', configMap, '--namespace', namespace, '--pod', podName, '--kubeconfig', kubeconfig,
      // Envoy's verdict on each publish (its bootstrap is not in the ConfigMap here).
      '--admin', envoy.adminUrl.replace(/^http:\/\//, ''),
      ...(options.extraArgs ?? []),
    ],
    {
      env: { POD_UID: pod.metadata?.uid ?? '', POD_SERVICE_ACCOUNT: serviceAccount, ...options.env },
      ...(options.entry === undefined ? {} : { entry: options.entry }),
    },
  );
  try {
    await watcher.waitForLog((line) => line.msg === 'watching', 'watcher ready', 120_000);
    await envoy.waitForBody(port, options.body ?? 'v0', 60_000);
  } catch (err) {
    await watcher.stop();
    await envoy.stop();
    throw err;
  }

  const setLds = async (text: string): Promise<string> => {
    const updated = await cluster.core.replaceNamespacedConfigMap({ name: configMap, namespace, body: cmBody(text) });
    return updated.metadata?.resourceVersion ?? '';
  };
  return {
    port,
    dirs,
    volume,
    envoy,
    watcher,
    podUid: pod.metadata?.uid ?? '',
    async refreshToken() {
      await writeFile(tokenPath, await serviceAccountToken(cluster, namespace, serviceAccount), { mode: 0o600 });
    },
    setBody: (body) => setLds(lds(body)),
    setLds,
    async stop() {
      await watcher.stop();
      await envoy.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Sum of apiserver_request_total for events writes (POST/PATCH) from the apiserver's /metrics. */
export async function eventWritesTotal(cluster: Cluster): Promise<number> {
  const { body } = await cluster.apiGet('/metrics');
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (!line.includes('resource="events"') || !/verb="(POST|PATCH)"/.test(line)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
