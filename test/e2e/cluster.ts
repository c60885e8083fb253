// A real, throw-away Kubernetes control plane for the e2e suite: etcd + kube-apiserver +
// kube-controller-manager on 127.0.0.1 with free ports and a temp dir. No scheduler and no
// kubelet, so Pods stay Pending - which is all a mutating admission webhook needs.
//
//   const cluster = await startCluster();
//   try { ... cluster.core.createNamespace(...) ... } finally { await cluster.stop(); }
//
// With KUBECONFIG set and E2E_USE_EXISTING_CLUSTER=1 it uses that cluster instead.
//
// Env knobs:
//   E2E_K8S_BIN_DIR       dir with kube-apiserver + kube-controller-manager (skips the build script)
//   E2E_KUBECTL           kubectl binary for kubectl() (default: built next to the control plane)
//   E2E_ETCD_BIN          etcd binary (default: `etcd` on PATH, /usr/bin/etcd, /usr/local/bin/etcd,
//                         else etcd v3.5 built once by build-control-plane.sh etcd)
//   E2E_KEEP_WORKDIR=1    keep the temp dir (certs, kubeconfig, logs) after stop()
//   E2E_LOG_DIR           copy component logs there on stop() (e.g. a CI artifact dir)
//   E2E_VERBOSE=1         print progress to stderr
import { spawn } from 'node:child_process';
import { existsSync, accessSync, constants as fsConstants } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { httpGet } from './http.js';
import { createCA, createSigningKey, type CertAuthority, type KeyPair } from './pki.js';
import { describeExit, freePorts, removeOnExit, run, startProcess, waitFor, type ManagedProcess, type RunResult } from './proc.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');

export const DEFAULT_CONTROLLERS = [
  'deployment',
  'replicaset',
  'serviceaccount',
  'serviceaccount-token',
  'namespace',
  'garbagecollector',
];

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';

export interface ClusterOptions {
  /** kube-controller-manager --controllers (default DEFAULT_CONTROLLERS). */
  controllers?: string[];
  extraApiServerArgs?: string[];
  /** Environment added to kube-apiserver's (e.g. GODEBUG=memprofilerate=4096 for a finer heap profile). */
  apiServerEnv?: Record<string, string>;
  extraControllerManagerArgs?: string[];
  /** Overall start timeout (default 120s; the binaries build is not counted). */
  startTimeoutMs?: number;
  /** Ignore E2E_USE_EXISTING_CLUSTER and always start a fresh control plane. */
  forceLocal?: boolean;
  /** kube-apiserver --authorization-mode (default ['RBAC']; a kubelet needs ['Node', 'RBAC']). */
  authorizationModes?: string[];
  /** kube-apiserver --enable-admission-plugins, on top of the defaults (e.g. ['NodeRestriction']). */
  admissionPlugins?: string[];
  /**
   * Issue the apiserver a kubelet client certificate (--kubelet-client-certificate/-key, in
   * system:masters) so `kubectl logs/exec` and the node proxy reach a kubelet (test/node).
   */
  kubeletClient?: boolean;
}

export interface Cluster {
  /** true when started by us, false for E2E_USE_EXISTING_CLUSTER. */
  readonly local: boolean;
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  /** https://127.0.0.1:PORT (local) or the current context's server. */
  readonly server: string;
  /** Temp dir for this run (certs, kubeconfig, logs); removed by stop() unless E2E_KEEP_WORKDIR=1. */
  readonly workDir: string;
  /** Where component logs go (inside workDir); put child-process logs here too. */
  readonly logDir: string;
  /** A CA tests can issue webhook serving certs from (the cluster CA when local). */
  readonly ca: CertAuthority;
  /** Admin client cert (local only). */
  readonly adminCert: KeyPair | undefined;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly admissionregistration: k8s.AdmissionregistrationV1Api;
  readonly processes: readonly ManagedProcess[];
  /** Seconds it took from startCluster() to ready (excluding the binaries build). */
  readonly startSeconds: number;
  /** Have stop() also stop `p` (first, before the control plane), e.g. a webhook child process. */
  adopt(p: ManagedProcess): void;
  /** GET a raw API path (e.g. '/metrics', '/readyz?verbose') as admin. */
  apiGet(path: string): Promise<{ status: number; body: string }>;
  /**
   * Stop kube-apiserver (SIGTERM, SIGKILL after `graceMs`, default 10 s; 0: killed at once, as by
   * an OOM kill or a lost node, its connections reset) and start it again with the same flags and
   * port; resolves once /readyz answers 200 again. Local clusters only. Clients see their
   * connections (watches) end.
   */
  restartApiServer(graceMs?: number): Promise<void>;
  /** Kill all processes (process groups), copy logs if E2E_LOG_DIR, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function log(msg: string): void {
  if (process.env.E2E_VERBOSE === '1') process.stderr.write(`[e2e cluster] ${msg}\n`);
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The etcd binary: $E2E_ETCD_BIN, `etcd` on PATH, /usr/bin/etcd, /usr/local/bin/etcd, else
 * etcd v3.5 built from the Go module proxy by build-control-plane.sh (once, then cached).
 */
export async function findEtcd(): Promise<string> {
  const explicit = process.env.E2E_ETCD_BIN;
  if (explicit !== undefined && explicit !== '') return explicit;
  const found = which('etcd') ?? ['/usr/bin/etcd', '/usr/local/bin/etcd'].find(isExecutable);
  if (found !== undefined) return found;
  return join((await runBuildScript(['etcd'])).dir, 'etcd');
}

/** What build-control-plane.sh reported: the bin dir, and whether it only found cached binaries. */
export interface BinariesInfo {
  dir: string;
  /** true when nothing had to be built (the script printed "cached:"). */
  cached: boolean;
  /** Wall time of the script run (the build itself on a cold cache). */
  seconds: number;
}

function runBuildScript(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<BinariesInfo> {
  return new Promise<BinariesInfo>((resolve, reject) => {
    const t0 = Date.now();
    const script = join(here, 'build-control-plane.sh');
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    // Pass the build's progress through (a cold build takes minutes) and keep it to read "cached:".
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      process.stderr.write(c);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const dir = out.trim().split('\n').pop() ?? '';
      if (code === 0 && dir !== '') {
        resolve({ dir, cached: /^\[build-control-plane\] cached: /m.test(err), seconds: (Date.now() - t0) / 1000 });
      } else {
        reject(new Error(`${[script, ...args].join(' ')} failed (${describeExit({ code, signal })}): ${err.trim().split('\n').pop() ?? ''}`));
      }
    });
  });
}

const binDirPromises = new Map<string, Promise<BinariesInfo>>();

/**
 * Build (first run) or reuse the cached kube-apiserver/kube-controller-manager (and kubectl when
 * `withKubectl`). Runs the build script once per process and kind.
 */
export function controlPlaneBinaries(withKubectl = false): Promise<BinariesInfo> {
  const explicit = process.env.E2E_K8S_BIN_DIR;
  if (explicit !== undefined && explicit !== '') return Promise.resolve({ dir: explicit, cached: true, seconds: 0 });
  const key = withKubectl ? 'kubectl' : 'control-plane';
  let p = binDirPromises.get(key);
  if (p === undefined) {
    p = runBuildScript([], withKubectl ? { ...process.env, E2E_BUILD_KUBECTL: '1' } : process.env);
    binDirPromises.set(key, p);
  }
  return p;
}

/** The dir of kube-apiserver/kube-controller-manager (and kubectl when `withKubectl`); see controlPlaneBinaries. */
export async function controlPlaneBinDir(withKubectl = false): Promise<string> {
  return (await controlPlaneBinaries(withKubectl)).dir;
}

/** Path of a kubectl v1.33: $E2E_KUBECTL, else built next to the control plane (seconds once it is built). */
export async function kubectlPath(): Promise<string> {
  const explicit = process.env.E2E_KUBECTL;
  if (explicit !== undefined && explicit !== '') return explicit;
  return join(await controlPlaneBinDir(true), 'kubectl');
}

/** Run kubectl against `cluster` (KUBECONFIG=cluster.kubeconfigPath); never throws on a non-zero exit. */
export async function kubectl(
  cluster: Pick<Cluster, 'kubeconfigPath'>,
  args: string[],
  opts: { input?: string; cwd?: string } = {},
): Promise<RunResult> {
  return run(await kubectlPath(), args, {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

/** First non-internal IPv4 address of this host (webhook Endpoints may not be loopback). */
export function hostIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}

interface KubeconfigUser {
  name: string;
  cert?: KeyPair;
  token?: string;
}

function kubeconfigYaml(server: string, caPem: string, user: KubeconfigUser): string {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const u: Record<string, string> = {};
  if (user.cert !== undefined) {
    u['client-certificate-data'] = b64(user.cert.cert);
    u['client-key-data'] = b64(user.cert.key);
  }
  if (user.token !== undefined) u.token = user.token;
  // JSON is valid YAML, and every kubeconfig loader accepts it.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
      users: [{ name: user.name, user: u }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: user.name, namespace: 'default' } }],
      'current-context': 'e2e',
    },
    null,
    2,
  )}\n`;
}

function makeClients(kc: k8s.KubeConfig): Pick<Cluster, 'core' | 'apps' | 'admissionregistration'> {
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    admissionregistration: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
  };
}

/** Start a control plane (or attach to E2E_USE_EXISTING_CLUSTER). Always pair with stop(). */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const kubeconfigEnv = process.env.KUBECONFIG;
  if (!opts.forceLocal && process.env.E2E_USE_EXISTING_CLUSTER === '1') {
    if (kubeconfigEnv === undefined || kubeconfigEnv === '') {
      throw new Error('E2E_USE_EXISTING_CLUSTER=1 needs KUBECONFIG');
    }
    return attachExisting(kubeconfigEnv);
  }
  const binDir = await controlPlaneBinDir();
  const etcdBin = await findEtcd();
  const t0 = Date.now();
  const workDir = await mkdtemp(join(tmpdir(), 'envoy-xds-e2e-'));
  const forgetWorkDir = removeOnExit(workDir);
  const processes: ManagedProcess[] = [];
  const adopted: ManagedProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(adopted.map((p) => p.stop(5_000)));
    // Reverse start order: controller-manager, apiserver, etcd.
    for (const p of [...processes].reverse()) await p.stop(10_000);
    await saveLogs(join(workDir, 'logs'));
    if (process.env.E2E_KEEP_WORKDIR === '1') {
      process.stderr.write(`[e2e cluster] kept ${workDir}\n`);
    } else {
      await rm(workDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
    forgetWorkDir();
  };

  try {
    const deadline = t0 + (opts.startTimeoutMs ?? 120_000);
    const remaining = (): number => Math.max(1_000, deadline - Date.now());
    const logs = join(workDir, 'logs');
    const pkiDir = join(workDir, 'pki');
    await mkdir(logs, { recursive: true });
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = (await freePorts(4)) as [number, number, number, number];
    const server = `https://127.0.0.1:${apiPort}`;

    // --- PKI ---------------------------------------------------------------------------------
    const ca = await createCA(pkiDir);
    const [serving, admin, kcm, frontProxy, sa, kubeletClient] = await Promise.all([
      ca.issue('apiserver', {
        commonName: 'kube-apiserver',
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ipAddresses: ['127.0.0.1', KUBERNETES_SERVICE_IP],
        usages: ['server'],
      }),
      ca.issue('admin', { commonName: 'e2e-admin', organizations: ['system:masters'], usages: ['client'] }),
      // system:masters keeps the controller-manager independent of per-controller RBAC
      // (it runs without --use-service-account-credentials).
      ca.issue('kube-controller-manager', {
        commonName: 'system:kube-controller-manager',
        organizations: ['system:masters'],
        usages: ['client'],
      }),
      // Aggregation-layer (front-proxy) client; also gives kube-controller-manager's delegated
      // authentication the requestheader CA it looks up (it logs errors every second without).
      ca.issue('front-proxy-client', { commonName: 'front-proxy-client', usages: ['client'] }),
      createSigningKey(pkiDir, 'service-account'),
      opts.kubeletClient === true
        ? ca.issue('apiserver-kubelet-client', {
            commonName: 'kube-apiserver-kubelet-client',
            organizations: ['system:masters'],
            usages: ['client'],
          })
        : Promise.resolve(undefined),
    ]);
    const adminKubeconfig = join(workDir, 'kubeconfig');
    const kcmKubeconfig = join(workDir, 'kube-controller-manager.kubeconfig');
    await writeFile(adminKubeconfig, kubeconfigYaml(server, ca.cert, { name: 'e2e-admin', cert: admin }), { mode: 0o600 });
    await writeFile(kcmKubeconfig, kubeconfigYaml(server, ca.cert, { name: 'kube-controller-manager', cert: kcm }), {
      mode: 0o600,
    });
    log(`pki ready in ${Date.now() - t0}ms`);

    // --- etcd --------------------------------------------------------------------------------
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startProcess(
      'etcd',
      etcdBin,
      [
        '--name=e2e',
        `--data-dir=${join(workDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=e2e=${peerUrl}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
      ],
      {
        logFile: join(logs, 'etcd.log'),
        cwd: workDir,
        env: process.arch === 'arm64' ? { ...process.env, ETCD_UNSUPPORTED_ARCH: 'arm64' } : process.env,
      },
    );
    processes.push(etcd);
    await waitFor(
      'etcd /health',
      async () => {
        const r = await httpGet(`${etcdUrl}/health`, { timeoutMs: 2_000 });
        return r.status === 200 && r.body.includes('true') ? true : undefined;
      },
      { timeoutMs: remaining(), abortIf: exitedReason(etcd) },
    );
    log(`etcd ready in ${Date.now() - t0}ms`);

    // --- kube-apiserver ----------------------------------------------------------------------
    const apiserverArgs = [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        '--advertise-address=127.0.0.1',
        // No kubelets/nodes: do not maintain the `kubernetes` Endpoints (a loopback IP is invalid there).
        '--endpoint-reconciler-type=none',
        `--cert-dir=${join(workDir, 'apiserver')}`,
        `--tls-cert-file=${serving.certFile}`,
        `--tls-private-key-file=${serving.keyFile}`,
        `--client-ca-file=${ca.certFile}`,
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${sa.pubFile}`,
        `--service-account-signing-key-file=${sa.keyFile}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        `--authorization-mode=${(opts.authorizationModes ?? ['RBAC']).join(',')}`,
        ...(opts.admissionPlugins !== undefined && opts.admissionPlugins.length > 0
          ? [`--enable-admission-plugins=${opts.admissionPlugins.join(',')}`]
          : []),
        ...(kubeletClient !== undefined
          ? [
              `--kubelet-client-certificate=${kubeletClient.certFile}`,
              `--kubelet-client-key=${kubeletClient.keyFile}`,
              '--kubelet-preferred-address-types=InternalIP,Hostname',
            ]
          : []),
        '--allow-privileged=true',
        // Resolve webhook/aggregated-API Services through their Endpoints, so a webhook running on
        // this host is reachable through a selector-less Service + manual Endpoints (no kube-proxy).
        '--enable-aggregator-routing=true',
        `--requestheader-client-ca-file=${ca.certFile}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${frontProxy.certFile}`,
        `--proxy-client-key-file=${frontProxy.keyFile}`,
        '--profiling=false',
        '--v=1',
        ...(opts.extraApiServerArgs ?? []),
      ];
    const startApiServer = (): ManagedProcess =>
      startProcess('kube-apiserver', join(binDir, 'kube-apiserver'), apiserverArgs, { logFile: join(logs, 'kube-apiserver.log'), cwd: workDir, ...(opts.apiServerEnv === undefined ? {} : { env: { ...process.env, ...opts.apiServerEnv } }) });
    let apiserver = startApiServer();
    processes.push(apiserver);
    const apiGet = async (path: string): Promise<{ status: number; body: string }> =>
      httpGet(`${server}${path}`, { ca: ca.cert, cert: admin.cert, key: admin.key, timeoutMs: 10_000 });
    await waitFor(
      'kube-apiserver /readyz',
      async () => ((await apiGet('/readyz')).status === 200 ? true : undefined),
      { timeoutMs: remaining(), abortIf: exitedReason(apiserver, etcd) },
    );
    log(`kube-apiserver ready in ${Date.now() - t0}ms`);

    // --- kube-controller-manager -------------------------------------------------------------
    const controllers = opts.controllers ?? DEFAULT_CONTROLLERS;
    const kcmProc = startProcess(
      'kube-controller-manager',
      join(binDir, 'kube-controller-manager'),
      [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(workDir, 'kube-controller-manager')}`,
        `--controllers=${controllers.join(',')}`,
        `--service-account-private-key-file=${sa.keyFile}`,
        `--root-ca-file=${ca.certFile}`,
        '--leader-elect=false',
        '--profiling=false',
        '--v=1',
        ...(opts.extraControllerManagerArgs ?? []),
      ],
      { logFile: join(logs, 'kube-controller-manager.log'), cwd: workDir },
    );
    processes.push(kcmProc);
    await waitFor(
      'kube-controller-manager /healthz',
      async () =>
        (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true, timeoutMs: 2_000 })).status === 200
          ? true
          : undefined,
      { timeoutMs: remaining(), abortIf: exitedReason(kcmProc, apiserver, etcd) },
    );

    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(adminKubeconfig);
    const clients = makeClients(kubeConfig);
    if (controllers.includes('serviceaccount')) {
      // The serviceaccount controller creates `default` in every namespace; Pods need it.
      await waitFor(
        'ServiceAccount default/default',
        () => clients.core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }),
        { timeoutMs: remaining(), abortIf: exitedReason(kcmProc, apiserver, etcd) },
      );
    }
    const startSeconds = (Date.now() - t0) / 1000;
    log(`control plane ready in ${startSeconds.toFixed(1)}s at ${server} (kubeconfig ${adminKubeconfig})`);

    return {
      local: true,
      kubeconfigPath: adminKubeconfig,
      kubeConfig,
      server,
      workDir,
      logDir: logs,
      ca,
      adminCert: admin,
      ...clients,
      processes,
      startSeconds,
      adopt: (p) => adopted.push(p),
      apiGet,
      async restartApiServer(graceMs = 10_000) {
        const index = processes.indexOf(apiserver);
        await apiserver.stop(graceMs);
        apiserver = startApiServer();
        processes[index] = apiserver;
        await waitFor(
          'kube-apiserver /readyz after a restart',
          async () => ((await apiGet('/readyz')).status === 200 ? true : undefined),
          { timeoutMs: 120_000, abortIf: exitedReason(apiserver, etcd) },
        );
      },
      stop,
    };
  } catch (err) {
    const tails = processes
      .map((p) => {
        const info = p.exitInfo();
        const state = info === undefined ? 'running' : describeExit(info);
        return `--- ${p.name} (${state}), last lines of ${p.logFile}:\n${p.tail(30)}`;
      })
      .join('\n');
    await stop();
    throw new Error(`control plane failed to start: ${err instanceof Error ? err.message : String(err)}\n${tails}`, {
      cause: err,
    });
  }
}

/** Copy a run's logs to $E2E_LOG_DIR/cluster-<time>/ when set (CI artifacts). */
async function saveLogs(from: string): Promise<void> {
  const logDir = process.env.E2E_LOG_DIR;
  if (logDir === undefined || logDir === '') return;
  const dest = join(logDir, `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  await mkdir(dest, { recursive: true });
  await cp(from, dest, { recursive: true }).catch(() => undefined);
}

function exitedReason(...procs: ManagedProcess[]): () => string | undefined {
  return () => {
    for (const p of procs) {
      const info = p.exitInfo();
      if (info !== undefined) return `${p.name} exited (${describeExit(info)})`;
    }
    return undefined;
  };
}

async function attachExisting(kubeconfigPath: string): Promise<Cluster> {
  const t0 = Date.now();
  const workDir = await mkdtemp(join(tmpdir(), 'envoy-xds-e2e-'));
  const forgetWorkDir = removeOnExit(workDir);
  try {
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromDefault(); // honours a ':'-separated KUBECONFIG
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error(`no current cluster in KUBECONFIG=${kubeconfigPath}`);
    const ca = await createCA(join(workDir, 'pki'));
    const logDir = join(workDir, 'logs');
    await mkdir(logDir, { recursive: true });
    const clients = makeClients(kubeConfig);
    const apiGet = async (path: string): Promise<{ status: number; body: string }> => {
      const extra: HttpsRequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(extra);
      return httpGet(`${cluster.server}${path}`, { extra, timeoutMs: 10_000 });
    };
    let stopped = false;
    const adopted: ManagedProcess[] = [];
    return {
      local: false,
      kubeconfigPath: existsSync(kubeconfigPath) ? kubeconfigPath : kubeconfigPath.split(delimiter)[0] ?? kubeconfigPath,
      kubeConfig,
      server: cluster.server,
      workDir,
      logDir,
      ca,
      adminCert: undefined,
      ...clients,
      processes: [],
      startSeconds: (Date.now() - t0) / 1000,
      adopt: (p) => adopted.push(p),
      apiGet,
      restartApiServer: () => Promise.reject(new Error('restartApiServer: only for a local control plane')),
      async stop() {
        if (stopped) return;
        stopped = true;
        await Promise.all(adopted.map((p) => p.stop(5_000)));
        await saveLogs(logDir);
        await rm(workDir, { recursive: true, force: true });
        forgetWorkDir();
      },
    };
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    forgetWorkDir();
    throw err;
  }
}

/** Run `fn` against a cluster and always stop it afterwards. */
export async function withCluster<T>(fn: (c: Cluster) => Promise<T>, opts: ClusterOptions = {}): Promise<T> {
  const cluster = await startCluster(opts);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}
