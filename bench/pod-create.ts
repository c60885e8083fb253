// `npm run bench:pod-create`: the Pod-create latency the webhook adds, on a real kube-apiserver.
//
// Starts the e2e control plane (test/e2e/cluster.ts: etcd + kube-apiserver + kube-controller-
// manager v1.33 on 127.0.0.1; the first run builds the binaries) and `envoy-xds-injector serve`
// as a child process behind the shipped MutatingWebhookConfiguration, then creates the same
// annotated Pod (the shipped example's pod template) over and over with one client, one request
// at a time: in rounds with the webhook configuration present and rounds with it deleted,
// alternating A B B A ... so drift (etcd growth, other load on the machine) hits both alike.
// Each round's Pods are deleted between rounds (untimed) so the store stays the same size.
// Prints p50/p99/mean of both and the difference, plus where the added time goes: the webhook's
// own time per review (its histogram) and the apiserver's webhook call time (its histogram).
// Always tears everything down; a watchdog bounds the run.
//
// Env: BENCH_ROUNDS (rounds per mode, default 5), BENCH_PER_ROUND (creations per round, default 50),
// BENCH_TIMEOUT_S (default 900).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { controlPlaneBinaries, repoRoot, startCluster, type Cluster } from '../test/e2e/cluster.js';
import { plain, type Plain } from '../test/e2e/objects.js';
import {
  ensureNamespace,
  INJECTOR_NAMESPACE,
  INJECTOR_SERVICE,
  installShippedWebhook,
  metricValue,
  REQUESTS_METRIC,
  scrapeMetrics,
  SHIPPED_CONFIG,
  startServe,
  STATUS_ANNOTATION,
  waitForWebhook,
  type ServeProcess,
} from '../test/e2e/webhook.js';

const ROUNDS_PER_MODE = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 50);
const WARMUP = 20;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900);
const NAMESPACE = 'bench';
const LABEL = { 'envoy-xds-injector.io/bench': 'pod-create' };
const WEBHOOK = 'inject.envoy-xds-injector.io';

type Mode = 'without' | 'with';

/** Counters read from serve's and the apiserver's /metrics, summed over a mode's measured rounds. */
interface Counters {
  serveSeconds: number;
  serveReviews: number;
  injected: number;
  skipped: number;
  apiserverSeconds: number;
  apiserverCalls: number;
}

interface Timings {
  ms: number[];
  counters: Counters;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

function stats(ms: number[]): { n: number; p50: number; p99: number; mean: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

/** The shipped example's pod template as a Pod named `name` (annotated: inject + configmap). */
async function examplePod(): Promise<(name: string) => k8s.V1Pod> {
  const deployment = parse(await readFile(join(repoRoot, 'manifests', 'examples', 'deployment.yaml'), 'utf8')) as Plain<k8s.V1Deployment>;
  const template = deployment.spec?.template;
  if (template?.spec === undefined) throw new Error('manifests/examples/deployment.yaml has no pod template');
  const { metadata = {}, spec } = template;
  return (name) =>
    plain<k8s.V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { ...metadata, name, labels: { ...metadata.labels, ...LABEL } }, spec });
}

async function readCounters(cluster: Cluster, server: ServeProcess): Promise<Counters> {
  const serve = await scrapeMetrics(server);
  const api = (await cluster.apiGet('/metrics')).body;
  const apiLabels = { name: WEBHOOK, operation: 'CREATE', type: 'admit' };
  return {
    serveSeconds: metricValue(serve, 'envoy_xds_injector_admission_duration_seconds_sum') ?? 0,
    serveReviews: metricValue(serve, 'envoy_xds_injector_admission_duration_seconds_count') ?? 0,
    injected: metricValue(serve, REQUESTS_METRIC, { result: 'injected' }) ?? 0,
    skipped: metricValue(serve, REQUESTS_METRIC, { result: 'skipped' }) ?? 0,
    apiserverSeconds: metricValue(api, 'apiserver_admission_webhook_admission_duration_seconds_sum', apiLabels) ?? 0,
    apiserverCalls: metricValue(api, 'apiserver_admission_webhook_admission_duration_seconds_count', apiLabels) ?? 0,
  };
}

function addDelta(into: Counters, before: Counters, after: Counters): void {
  for (const key of Object.keys(into) as (keyof Counters)[]) into[key] += after[key] - before[key];
}

const zero = (): Counters => ({ serveSeconds: 0, serveReviews: 0, injected: 0, skipped: 0, apiserverSeconds: 0, apiserverCalls: 0 });

let created = 0;

/** Create `count` copies of `pod` one after the other; returns each create's latency in ms. */
async function createPods(cluster: Cluster, pod: (name: string) => k8s.V1Pod, count: number, mode: Mode): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const body = pod(`bench-${++created}`);
    const t0 = performance.now();
    const stored = await cluster.core.createNamespacedPod({ namespace: NAMESPACE, body });
    ms.push(performance.now() - t0);
    const injected = stored.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined;
    if (injected !== (mode === 'with')) throw new Error(`Pod ${String(body.metadata?.name)}: injected=${String(injected)} in mode ${mode}`);
  }
  // Untimed: keep the store the same size for every round.
  await cluster.core.deleteCollectionNamespacedPod({ namespace: NAMESPACE, labelSelector: 'envoy-xds-injector.io/bench=pod-create' });
  return ms;
}

const fmt = (n: number): string => n.toFixed(2).padStart(8);

async function main(): Promise<void> {
  const tStart = performance.now();
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:pod-create: gave up after ${TIMEOUT_S}s (BENCH_TIMEOUT_S)\n`);
    process.exit(1); // the e2e exit hooks kill every child process group and remove the temp dir
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const binaries = await controlPlaneBinaries();
  const cluster = await startCluster({ forceLocal: true });
  try {
    const version = (JSON.parse((await cluster.apiGet('/version')).body) as { gitVersion: string }).gitVersion;
    const server = await startServe(cluster, {
      dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`],
      config: SHIPPED_CONFIG,
      env: { LOG_LEVEL: 'info' }, // as in manifests/base
    });
    await ensureNamespace(cluster, NAMESPACE);
    const pod = await examplePod();
    const mwcName = await installShippedWebhook(cluster, server, NAMESPACE);
    let webhookPresent = true;
    const setMode = async (mode: Mode): Promise<void> => {
      if ((mode === 'with') === webhookPresent) return;
      if (mode === 'with') await installShippedWebhook(cluster, server, NAMESPACE);
      else {
        await cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName });
        await waitForWebhook(cluster, NAMESPACE, false);
      }
      webhookPresent = mode === 'with';
    };

    // Warm both paths up (connections, caches, JIT), unmeasured.
    await createPods(cluster, pod, WARMUP, 'with');
    await setMode('without');
    await createPods(cluster, pod, WARMUP, 'without');

    const timings: Record<Mode, Timings> = { without: { ms: [], counters: zero() }, with: { ms: [], counters: zero() } };
    // A B B A A B B A ...: each mode is as often early as late.
    for (let r = 0; r < 2 * ROUNDS_PER_MODE; r++) {
      const mode: Mode = r % 4 === 0 || r % 4 === 3 ? 'without' : 'with';
      await setMode(mode);
      const before = await readCounters(cluster, server);
      timings[mode].ms.push(...(await createPods(cluster, pod, PER_ROUND, mode)));
      addDelta(timings[mode].counters, before, await readCounters(cluster, server));
    }

    const without = stats(timings.without.ms);
    const withWebhook = stats(timings.with.ms);
    const w = timings.with.counters;
    const ms = (seconds: number, count: number): string => ((seconds / count) * 1000).toFixed(2);
    const out = [
      `bench:pod-create - Pod create latency with vs without the webhook (kube-apiserver ${version} on 127.0.0.1)`,
      `binaries:            ${binaries.dir} (${binaries.cached ? 'from cache' : 'built now'}, build script ${binaries.seconds.toFixed(1)} s)`,
      `control plane start: ${cluster.startSeconds.toFixed(1)} s (etcd + kube-apiserver + kube-controller-manager ready)`,
      `Pod:                 manifests/examples pod template, annotated; ${ROUNDS_PER_MODE} rounds x ${PER_ROUND} per mode, alternating ABBA, sequential, one client; ${WARMUP} warm-up creations per mode`,
      `webhook:             serve --config manifests/base/config.yaml (child process, LOG_LEVEL=info), manifests/base MutatingWebhookConfiguration via its Service`,
      '',
      '                         n    p50 ms    p99 ms   mean ms',
      `without webhook  ${String(without.n).padStart(8)}  ${fmt(without.p50)}  ${fmt(without.p99)}  ${fmt(without.mean)}`,
      `with webhook     ${String(withWebhook.n).padStart(8)}  ${fmt(withWebhook.p50)}  ${fmt(withWebhook.p99)}  ${fmt(withWebhook.mean)}`,
      `added by webhook           ${fmt(withWebhook.p50 - without.p50)}  ${fmt(withWebhook.p99 - without.p99)}  ${fmt(withWebhook.mean - without.mean)}`,
      '',
      `webhook calls per created Pod: ${(w.apiserverCalls / withWebhook.n).toFixed(2)} (${w.injected} injected + ${w.skipped} skipped answers)${
        w.skipped > 0 ? '; the skipped ones are reinvocations (reinvocationPolicy IfNeeded) after ServiceAccount admission re-ran and mounted its token into the injected containers' : ''
      }`,
      `apiserver's time per webhook call (apiserver_admission_webhook_admission_duration_seconds), mean: ${ms(w.apiserverSeconds, w.apiserverCalls)} ms`,
      `serve's own time per review (envoy_xds_injector_admission_duration_seconds), mean:               ${ms(w.serveSeconds, w.serveReviews)} ms`,
      `reviews during 'without' rounds: ${timings.without.counters.serveReviews} (must be 0)`,
      `total run: ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (timings.without.counters.serveReviews !== 0) throw new Error('the webhook answered reviews while its configuration was deleted');
  } finally {
    await cluster.stop();
    clearTimeout(watchdog);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:pod-create failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
