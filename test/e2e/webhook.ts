// Helpers for running the webhook under test against the e2e control plane:
//  - startServe(): `envoy-xds-injector serve` as a real child process with a given cert/port
//  - exposeWebhook(): a selector-less Service + manual Endpoints pointing at this host, so the
//    apiserver (started with --enable-aggregator-routing) calls the webhook through a normal
//    `clientConfig.service` reference, exactly like in a real cluster
//  - installShippedWebhook()/waitForWebhook(): manifests/base's MutatingWebhookConfiguration,
//    routed to a startServe() process, and a probe that tells when the apiserver (no longer) calls it
//  - runCli(): any other CLI command (e.g. `inject -f -`) as a child process
//  - scrapeMetrics()/metricValue(), reviewLogs(), listEvents()/waitForEvent(), applyObjects()
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { hostIPv4, repoRoot, type Cluster } from './cluster.js';
import { httpGet } from './http.js';
import { plain } from './objects.js';
import type { KeyPair } from './pki.js';
import { freePort, run, startProcess, waitFor, type ManagedProcess, type RunResult } from './proc.js';

/** Namespace and Service of the injector in manifests/base (excluded by its namespaceSelector). */
export const INJECTOR_NAMESPACE = 'envoy-xds-injector';
export const INJECTOR_SERVICE = 'envoy-xds-injector';
/** The injector config the manifests ship (what `serve --config` reads in a cluster). */
export const SHIPPED_CONFIG = join(repoRoot, 'manifests', 'base', 'config.yaml');
export const STATUS_ANNOTATION = 'envoy-xds-injector.io/status';
export const REQUESTS_METRIC = 'envoy_xds_injector_admission_requests_total';
/** README: the namespaceSelector keeps the control plane's namespaces and the injector's own out. */
export const EXCLUDED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease', INJECTOR_NAMESPACE];
/** Label on what the suite installs cluster-wide, so a shared cluster's real objects are never replaced. */
export const E2E_LABEL = 'envoy-xds-injector.io/e2e';

/** The command that runs the CLI: $E2E_CLI (space-separated) or `node --import tsx src/cli/main.ts`. */
export function cliCommand(): string[] {
  const fromEnv = process.env.E2E_CLI;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim().split(/\s+/);
  return [process.execPath, '--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts')];
}

/** Run a CLI command (e.g. `['inject', '-f', '-']`) to completion; never throws on a non-zero exit. */
export function runCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const [cmd, ...cmdArgs] = cliCommand() as [string, ...string[]];
  return run(cmd, [...cmdArgs, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

export interface ServeOptions {
  /** Serving cert; default: issued by cluster.ca for `dnsNames` + 127.0.0.1 + the host IP. */
  tls?: KeyPair;
  /** Service DNS names for the default cert, e.g. ['envoy-xds-injector.e2e.svc']. */
  dnsNames?: string[];
  /** Listen address (default 0.0.0.0: the apiserver reaches it via the host IP). */
  host?: string;
  /** Listen port (default: a free one). */
  port?: number;
  /** --config file. */
  config?: string;
  /** Extra CLI flags after `serve ...`. */
  args?: string[];
  env?: Record<string, string>;
  /** Path polled until it answers `readyStatus` (default GET /readyz -> 200; undefined: any status). */
  readyPath?: string;
  readyStatus?: number | undefined;
  readyTimeoutMs?: number;
}

export interface ServeProcess {
  readonly proc: ManagedProcess;
  readonly port: number;
  readonly host: string;
  /** https://127.0.0.1:PORT */
  readonly baseUrl: string;
  readonly tls: KeyPair;
  /** PEM of the CA that signed `tls` (for caBundle and for our own requests). */
  readonly caPem: string;
  /** GET/POST against the server over TLS, verifying its cert against caPem. */
  request(path: string, opts?: { method?: string; body?: string; headers?: Record<string, string> }): Promise<{
    status: number;
    body: string;
  }>;
  stop(): Promise<void>;
}

let serveCounter = 0;

/** Start `envoy-xds-injector serve --port P --host H --tls-cert C --tls-key K [--config F]`. */
export async function startServe(cluster: Cluster, opts: ServeOptions = {}): Promise<ServeProcess> {
  const host = opts.host ?? '0.0.0.0';
  const port = opts.port ?? (await freePort(host));
  const ip = hostIPv4();
  const n = ++serveCounter;
  const tls =
    opts.tls ??
    (await cluster.ca.issue(`serve-${n}`, {
      commonName: opts.dnsNames?.[0] ?? 'envoy-xds-injector',
      dnsNames: ['localhost', ...(opts.dnsNames ?? [])],
      ipAddresses: ['127.0.0.1', ...(ip !== undefined ? [ip] : [])],
      usages: ['server'],
    }));
  const [cmd, ...cmdArgs] = cliCommand() as [string, ...string[]];
  const args = [
    ...cmdArgs,
    'serve',
    '--port',
    String(port),
    '--host',
    host,
    '--tls-cert',
    tls.certFile,
    '--tls-key',
    tls.keyFile,
    ...(opts.config !== undefined ? ['--config', opts.config] : []),
    // Tests stop servers often; skip the production drain pause unless a test sets one.
    ...((opts.args ?? []).includes('--drain-delay') ? [] : ['--drain-delay', '0s']),
    ...(opts.args ?? []),
  ];
  const proc = startProcess(`serve-${n}`, cmd, args, {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'debug', ...opts.env },
    logFile: join(cluster.logDir, `serve-${n}.log`),
  });
  cluster.adopt(proc);
  const baseUrl = `https://127.0.0.1:${port}`;
  const request: ServeProcess['request'] = (path, r = {}) =>
    httpGet(`${baseUrl}${path}`, { ca: cluster.ca.cert, servername: 'localhost', timeoutMs: 10_000, ...r });
  const readyPath = opts.readyPath ?? '/readyz';
  const readyStatus = 'readyStatus' in opts ? opts.readyStatus : 200;
  try {
    await waitFor(
      `serve-${n} on ${baseUrl}${readyPath}`,
      async () => {
        const res = await request(readyPath);
        return readyStatus === undefined || res.status === readyStatus ? res : undefined;
      },
      {
        timeoutMs: opts.readyTimeoutMs ?? 30_000,
        intervalMs: 100,
        abortIf: () => (proc.exitInfo() !== undefined ? `serve exited:\n${proc.tail()}` : undefined),
      },
    );
  } catch (err) {
    await proc.stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- serve-${n} log:\n${proc.tail()}`, {
      cause: err,
    });
  }
  return {
    proc,
    port,
    host,
    baseUrl,
    tls,
    caPem: cluster.ca.cert,
    request,
    async stop() {
      await proc.stop();
    },
  };
}

/** Fetch and return the Prometheus text exposition from `path` (default /metrics). */
export async function scrapeMetrics(server: ServeProcess, path = '/metrics'): Promise<string> {
  const res = await server.request(path);
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}: ${res.body}`);
  return res.body;
}

/**
 * Sum of the samples of metric `name` whose labels include `labels` (undefined if none match).
 * `name` is the full sample name, e.g. 'envoy_xds_injector_admission_requests_total'.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m?.[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      const [, key = '', value = ''] = lm;
      got[key] = value.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

export interface ExposeOptions {
  namespace: string;
  name: string;
  /** Port the webhook listens on locally. */
  targetPort: number;
  /** Service port (default 443). */
  port?: number;
  /** Endpoint IP (default: this host's first non-loopback IPv4; loopback is not allowed). */
  ip?: string;
}

/**
 * Route `service: {namespace, name, port}` in a webhook configuration to a process on this host:
 * creates a selector-less Service (or reuses an existing one, e.g. from manifests/, whose port
 * `port` names the Endpoints port) and writes its Endpoints by hand. No endpoints controller runs
 * in the local control plane, so nothing overwrites them. Requires the apiserver to run with
 * --enable-aggregator-routing (the local cluster does). Returns the clientConfig.service.
 */
export async function exposeWebhook(
  cluster: Cluster,
  opts: ExposeOptions,
): Promise<{ namespace: string; name: string; port: number }> {
  const ip = opts.ip ?? hostIPv4();
  if (ip === undefined) {
    throw new Error('no non-loopback IPv4 address on this host (Endpoints may not be loopback); use webhookClientConfig()');
  }
  const port = opts.port ?? 443;
  const { namespace, name } = opts;
  let portName = 'https';
  try {
    await cluster.core.createNamespacedService({
      namespace,
      body: plain<k8s.V1Service>({
        metadata: { name },
        spec: { type: 'ClusterIP', ports: [{ name: portName, port, targetPort: opts.targetPort, protocol: 'TCP' }] },
      }),
    });
  } catch (err) {
    if (!isConflict(err)) throw err;
    const existing = await cluster.core.readNamespacedService({ namespace, name });
    const sp = existing.spec?.ports?.find((p) => p.port === port);
    if (sp === undefined) throw new Error(`Service ${namespace}/${name} has no port ${port}`, { cause: err });
    portName = sp.name ?? '';
  }
  const endpoints = plain<k8s.V1Endpoints>({
    metadata: { name },
    subsets: [{ addresses: [{ ip }], ports: [{ name: portName, port: opts.targetPort, protocol: 'TCP' }] }],
  });
  try {
    await cluster.core.createNamespacedEndpoints({ namespace, body: endpoints });
  } catch (err) {
    if (!isConflict(err)) throw err;
    await cluster.core.replaceNamespacedEndpoints({ namespace, name, body: endpoints });
  }
  return { namespace, name, port };
}

/**
 * clientConfig for a MutatingWebhookConfiguration reaching `server`: through a Service reference
 * (exposeWebhook; the serving cert must then name `<name>.<namespace>.svc`) when this host has a
 * non-loopback IPv4, else through `url: https://127.0.0.1:PORT<path>`.
 */
export async function webhookClientConfig(
  cluster: Cluster,
  server: Pick<ServeProcess, 'port' | 'caPem'>,
  opts: { namespace: string; name: string; path?: string; preferUrl?: boolean },
): Promise<k8s.AdmissionregistrationV1WebhookClientConfig> {
  const path = opts.path ?? '/mutate';
  const caBundle = Buffer.from(server.caPem).toString('base64');
  if (opts.preferUrl === true || hostIPv4() === undefined) {
    return plain<k8s.AdmissionregistrationV1WebhookClientConfig>({ url: `https://127.0.0.1:${server.port}${path}`, caBundle });
  }
  const service = await exposeWebhook(cluster, { namespace: opts.namespace, name: opts.name, targetPort: server.port });
  return plain<k8s.AdmissionregistrationV1WebhookClientConfig>({ service: { ...service, path }, caBundle });
}

/** The message of an API error (the Status `message` when the body is one), else the error as text. */
export function apiMessage(err: unknown): string {
  if (!(err instanceof k8s.ApiException)) return err instanceof Error ? err.message : String(err);
  const body: unknown = err.body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // not JSON: the raw text is the best we have
  }
  return text;
}

export function isConflict(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 409;
}

export interface EventFilter {
  /** involvedObject.name */
  name?: string;
  /** involvedObject.kind */
  kind?: string;
  reason?: string;
  type?: 'Normal' | 'Warning';
}

/** core/v1 Events in `namespace` matching `filter` (server-side field selectors), oldest first. */
export async function listEvents(cluster: Cluster, namespace: string, filter: EventFilter = {}): Promise<k8s.CoreV1Event[]> {
  const sel = [
    ...(filter.name !== undefined ? [`involvedObject.name=${filter.name}`] : []),
    ...(filter.kind !== undefined ? [`involvedObject.kind=${filter.kind}`] : []),
    ...(filter.reason !== undefined ? [`reason=${filter.reason}`] : []),
    ...(filter.type !== undefined ? [`type=${filter.type}`] : []),
  ].join(',');
  const list = await cluster.core.listNamespacedEvent({ namespace, ...(sel !== '' ? { fieldSelector: sel } : {}) });
  const time = (e: k8s.CoreV1Event): number =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).getTime();
  return list.items.sort((a, b) => time(a) - time(b));
}

/** Wait until at least one Event matches; returns the matches. */
export function waitForEvent(
  cluster: Cluster,
  namespace: string,
  filter: EventFilter,
  timeoutMs = 30_000,
): Promise<k8s.CoreV1Event[]> {
  return waitFor(
    `Event ${JSON.stringify(filter)} in ${namespace}`,
    async () => {
      const evs = await listEvents(cluster, namespace, filter);
      return evs.length > 0 ? evs : undefined;
    },
    { timeoutMs },
  );
}

/**
 * Create (or replace, if it exists) every object of a parsed manifest, e.g.
 * `applyObjects(cluster, k8s.loadAllYaml(text))`. `edit` may rewrite each object first
 * (namespace, image, caBundle...). Returns the created objects.
 */
export async function applyObjects(
  cluster: Cluster,
  objects: unknown[],
  edit: (o: k8s.KubernetesObject) => k8s.KubernetesObject = (o) => o,
): Promise<k8s.KubernetesObject[]> {
  const client = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  const out: k8s.KubernetesObject[] = [];
  for (const raw of objects) {
    if (raw === null || typeof raw !== 'object') continue;
    const obj = edit(raw);
    try {
      out.push(await client.create(obj));
    } catch (err) {
      if (!isConflict(err)) throw err;
      const current = await client.read({
        apiVersion: obj.apiVersion ?? '',
        kind: obj.kind ?? '',
        metadata: { name: obj.metadata?.name ?? '', namespace: obj.metadata?.namespace ?? '' },
      });
      obj.metadata ??= new k8s.V1ObjectMeta();
      obj.metadata.resourceVersion = current.metadata?.resourceVersion;
      out.push(await client.replace(obj));
    }
  }
  return out;
}

/**
 * The `admission review` lines `serve` logged (pino JSON: uid, namespace, pod, decision, reason,
 * dryRun...), oldest first.
 */
export function reviewLogs(server: ServeProcess): Record<string, unknown>[] {
  return server.proc
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line): unknown => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    })
    .filter((entry): entry is Record<string, unknown> => {
      if (entry === null || typeof entry !== 'object') return false;
      const msg = (entry as Record<string, unknown>).msg;
      return msg === 'admission review' || msg === 'admission review failed';
    });
}

/**
 * Create namespace `name` (with `labels`) unless it exists (it may, on an existing cluster).
 * Returns whether it was created here (so only those are deleted on a shared cluster).
 */
export async function ensureNamespace(cluster: Cluster, name: string, labels: Record<string, string> = {}): Promise<boolean> {
  try {
    await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name, labels } }) });
    return true;
  } catch (err) {
    if (!isConflict(err)) throw err;
    return false;
  }
}

/** A minimal Envoy Pod (container `envoy`, `-c <bootstrap>`) with the given annotations. */
export function envoyPod(
  name: string,
  annotations: Record<string, string>,
  opts: { labels?: Record<string, string>; bootstrap?: string } = {},
): k8s.V1Pod {
  return plain<k8s.V1Pod>({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations, labels: opts.labels ?? {} },
    spec: {
      containers: [
        { name: 'envoy', image: 'envoyproxy/envoy:v1.31.2', args: ['-c', opts.bootstrap ?? '/etc/envoy/envoy.yaml'] },
      ],
    },
  });
}

/** Annotations that opt a Pod in with ConfigMap `configMap`. */
/** A Deployment `name` (label app=name) whose pod template is envoyPod's, with `annotations`. */
export function envoyDeployment(name: string, annotations: Record<string, string>): k8s.V1Deployment {
  const labels = { app: name };
  return plain<k8s.V1Deployment>({
    metadata: { name },
    spec: {
      selector: { matchLabels: labels },
      template: { metadata: { labels, annotations }, spec: envoyPod(name, annotations).spec },
    },
  });
}

export function optIn(configMap: string): Record<string, string> {
  return { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': configMap };
}

let probeCounter = 0;

/**
 * Wait until the apiserver does (`active`) or does not call the webhook for an opted-in Pod in
 * `namespace`: webhook configurations reach the admission chain asynchronously (an informer).
 * Probe Pods are deleted again; each probe that reaches the webhook counts as one review.
 */
export async function waitForWebhook(cluster: Cluster, namespace: string, active: boolean, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `the webhook to be ${active ? 'active' : 'inactive'} in ${namespace}`,
    async () => {
      const name = `probe-${Date.now().toString(36)}-${++probeCounter}`;
      const pod = await cluster.core.createNamespacedPod({ namespace, body: envoyPod(name, optIn('probe')) });
      await cluster.core.deleteNamespacedPod({ name, namespace });
      const injected = pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined;
      return injected === active ? true : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * Install the shipped MutatingWebhookConfiguration (manifests/base) with its clientConfig routed to
 * `server` (Service reference through exposeWebhook, or url) and the test CA as caBundle, then wait
 * until an opted-in Pod in `probeNamespace` is injected. Creates the injector's namespace (the
 * Service lives there). Returns the configuration's name.
 */
export async function installShippedWebhook(
  cluster: Cluster,
  server: ServeProcess,
  probeNamespace: string,
  edit: (mwc: k8s.V1MutatingWebhookConfiguration) => void = () => undefined,
): Promise<string> {
  await ensureNamespace(cluster, INJECTOR_NAMESPACE);
  const manifest = await readFile(join(repoRoot, 'manifests', 'base', 'mutatingwebhookconfiguration.yaml'), 'utf8');
  const [mwc] = k8s.loadAllYaml(manifest) as k8s.V1MutatingWebhookConfiguration[];
  if (mwc?.webhooks === undefined || mwc.metadata?.name === undefined) throw new Error('no MutatingWebhookConfiguration in manifests/base');
  for (const w of mwc.webhooks) {
    const ref = w.clientConfig.service;
    if (ref === undefined) throw new Error(`webhook ${w.name}: the shipped manifest should route through a Service`);
    w.clientConfig = await webhookClientConfig(cluster, server, { namespace: ref.namespace, name: ref.name, path: ref.path });
  }
  if (!cluster.local) {
    // On a shared cluster, never take over a real installation (its configuration and Endpoints).
    const existing = await cluster.admissionregistration
      .readMutatingWebhookConfiguration({ name: mwc.metadata.name })
      .catch(() => undefined);
    if (existing !== undefined && existing.metadata?.labels?.[E2E_LABEL] !== 'true') {
      throw new Error(`MutatingWebhookConfiguration ${mwc.metadata.name} exists and was not made by the e2e suite: refusing to replace it`);
    }
  }
  mwc.metadata.labels = { ...mwc.metadata.labels, [E2E_LABEL]: 'true' };
  edit(mwc);
  await applyObjects(cluster, [mwc]);
  await waitForWebhook(cluster, probeNamespace, true);
  return mwc.metadata.name;
}
