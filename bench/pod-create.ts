// `npm run bench:pod-create`: the Pod-create latency the webhook adds, on a real kube-apiserver.
//
// Starts the e2e control plane (test/e2e/cluster.ts: etcd + kube-apiserver + kube-controller-
// manager v1.33 on 127.0.0.1; the first run builds the binaries) and `envoy-xds-injector serve`
// as a child process behind the shipped MutatingWebhookConfiguration, then creates the same
// annotated Pod (the shipped example's pod template) over and over with one client, one request
// at a time, in rounds of four modes, in the order A B C D D C B A ... so drift (etcd growth,
// other load on the machine) hits all alike:
//   without   no webhook configuration;
//   floor     the same configuration routed to a bare HTTPS responder (test/e2e/peer-webhook.ts, in
//             this process) that answers `allowed` with no patch: what any webhook costs here;
//   with      the configuration routed to `serve`;
//   injected  no webhook, the Pod created already injected (what `serve` returns for it): what the
//             bigger Pod costs the apiserver and etcd, webhook or not.
// Each round's Pods are deleted between rounds (untimed) so the store stays the same size.
// Prints p50/p99/mean of each mode and the differences to `without`, plus where the added time goes:
// the webhook's own time per review (its histogram) and the apiserver's webhook call time (its
// histogram) for `serve` and for the floor. Always tears everything down; a watchdog bounds the run.
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
import { startPeerWebhook, type PeerWebhook } from '../test/e2e/peer-webhook.js';
import { waitFor } from '../test/e2e/proc.js';
import {
  applyObjects,
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
  envoyPod,
  optIn,
  type ServeProcess,
} from '../test/e2e/webhook.js';
import { loadInjectorConfig } from '../src/cli/config.js';
import { injectPod } from '../src/inject/index.js';

const ROUNDS_PER_MODE = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 50);
const WARMUP = 20;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900);
const NAMESPACE = 'bench';
const LABEL = { 'envoy-xds-injector.io/bench': 'pod-create' };
const WEBHOOK = 'inject.envoy-xds-injector.io';
/** Service (in the injector's namespace) routed to the floor responder. */
const FLOOR_SERVICE = 'bench-floor';

const MODES = ['without', 'floor', 'with', 'injected'] as const;
type Mode = (typeof MODES)[number];
/** Modes whose Pods come out injected (the status annotation set). */
const INJECTED: readonly Mode[] = ['with', 'injected'];

/** Counters read from serve's and the apiserver's /metrics, summed over a mode's measured rounds. */
interface Counters {
  serveSeconds: number;
  serveReviews: number;
  injected: number;
  skipped: number;
  apiserverSeconds: number;
  apiserverCalls: number;
  /** Calls the floor responder answered (counted in this process). */
  floorCalls: number;
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

/**
 * The shipped example's pod template as a Pod named `name` (annotated: inject + configmap), and the
 * same Pod as `serve` injects it (the rules with manifests/base/config.yaml).
 */
async function examplePods(version: string): Promise<Record<'plain' | 'injected', (name: string) => k8s.V1Pod>> {
  const deployment = parse(await readFile(join(repoRoot, 'manifests', 'examples', 'deployment.yaml'), 'utf8')) as Plain<k8s.V1Deployment>;
  const template = deployment.spec?.template;
  if (template?.spec === undefined) throw new Error('manifests/examples/deployment.yaml has no pod template');
  const { metadata = {}, spec } = template;
  const pod = (name: string): k8s.V1Pod =>
    plain<k8s.V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { ...metadata, name, labels: { ...metadata.labels, ...LABEL } }, spec });
  const result = injectPod(pod('template'), await loadInjectorConfig(SHIPPED_CONFIG, version));
  if (result.decision !== 'injected') throw new Error(`the example is not injected: ${JSON.stringify(result)}`);
  const injected = JSON.stringify(result.pod);
  return {
    plain: pod,
    injected: (name) => {
      const p = JSON.parse(injected) as k8s.V1Pod;
      if (p.metadata !== undefined) p.metadata.name = name;
      return p;
    },
  };
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
    floorCalls: 0, // counted in this process, not scraped
  };
}

function addDelta(into: Counters, before: Counters, after: Counters): void {
  for (const key of Object.keys(into) as (keyof Counters)[]) into[key] += after[key] - before[key];
}

const zero = (): Counters => ({ serveSeconds: 0, serveReviews: 0, injected: 0, skipped: 0, apiserverSeconds: 0, apiserverCalls: 0, floorCalls: 0 });

let created = 0;
let probes = 0;

/** Create `count` copies of `pod` one after the other; returns each create's latency in ms. */
async function createPods(cluster: Cluster, pod: (name: string) => k8s.V1Pod, count: number, mode: Mode): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const body = pod(`bench-${++created}`);
    const t0 = performance.now();
    const stored = await cluster.core.createNamespacedPod({ namespace: NAMESPACE, body });
    ms.push(performance.now() - t0);
    const injected = stored.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined;
    if (injected !== INJECTED.includes(mode)) throw new Error(`Pod ${String(body.metadata?.name)}: injected=${String(injected)} in mode ${mode}`);
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
  let floor: PeerWebhook | undefined;
  try {
    const version = (JSON.parse((await cluster.apiGet('/version')).body) as { gitVersion: string }).gitVersion;
    const server = await startServe(cluster, {
      dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`],
      config: SHIPPED_CONFIG,
      env: { LOG_LEVEL: 'info' }, // as in manifests/base
    });
    const floorPeer = await startPeerWebhook(cluster, { dnsNames: [`${FLOOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`] });
    floor = floorPeer;
    await ensureNamespace(cluster, NAMESPACE);
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const pods = await examplePods(pkg.version);
    const mwcName = await installShippedWebhook(cluster, server, NAMESPACE);
    let current: Mode = 'with';
    /** Whether a probe Pod created now reaches the floor responder. */
    const probeReachesFloor = async (): Promise<boolean> => {
      const name = `probe-floor-${String(++probes)}`;
      await cluster.core.createNamespacedPod({ namespace: NAMESPACE, body: envoyPod(name, optIn('probe')) });
      await cluster.core.deleteNamespacedPod({ name, namespace: NAMESPACE });
      return floorPeer.callsFor(name).length > 0;
    };
    const setMode = async (mode: Mode): Promise<void> => {
      const webhook = (m: Mode): 'none' | 'floor' | 'serve' => (m === 'floor' ? 'floor' : m === 'with' ? 'serve' : 'none');
      const want = webhook(mode);
      const have = webhook(current);
      current = mode;
      if (want === have) return;
      if (want === 'serve') {
        await installShippedWebhook(cluster, server, NAMESPACE);
        await waitFor('the floor responder to be out of the path', async () => ((await probeReachesFloor()) ? undefined : true));
      } else if (want === 'floor') {
        // The shipped configuration, its webhook name included (so the apiserver's metrics are
        // labelled alike), routed to the floor responder.
        const clientConfig = await floorPeer.clientConfig(INJECTOR_NAMESPACE, FLOOR_SERVICE);
        const manifest = await readFile(join(repoRoot, 'manifests', 'base', 'mutatingwebhookconfiguration.yaml'), 'utf8');
        const mwc = parse(manifest) as Plain<k8s.V1MutatingWebhookConfiguration>;
        for (const w of mwc.webhooks ?? []) w.clientConfig = clientConfig;
        await applyObjects(cluster, [mwc]);
        await waitFor('the floor responder to be called', async () => ((await probeReachesFloor()) ? true : undefined));
      } else {
        await cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName });
        await waitForWebhook(cluster, NAMESPACE, false);
        await waitFor('the floor responder to be out of the path', async () => ((await probeReachesFloor()) ? undefined : true));
      }
    };
    const podFor = (mode: Mode): ((name: string) => k8s.V1Pod) => (mode === 'injected' ? pods.injected : pods.plain);

    // Warm every path up (connections, caches, JIT), unmeasured.
    for (const mode of ['with', 'floor', 'without', 'injected'] as const) {
      await setMode(mode);
      await createPods(cluster, podFor(mode), WARMUP, mode);
    }

    const timings = Object.fromEntries(MODES.map((m) => [m, { ms: [], counters: zero() }])) as unknown as Record<Mode, Timings>;
    // A B C D D C B A ...: each mode is as often early as late.
    for (let r = 0; r < ROUNDS_PER_MODE; r++) {
      for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
        await setMode(mode);
        const before = await readCounters(cluster, server);
        const floorBefore = floorPeer.calls.length;
        timings[mode].ms.push(...(await createPods(cluster, podFor(mode), PER_ROUND, mode)));
        addDelta(timings[mode].counters, before, await readCounters(cluster, server));
        timings[mode].counters.floorCalls += floorPeer.calls.length - floorBefore;
      }
    }

    const s = Object.fromEntries(MODES.map((m) => [m, stats(timings[m].ms)])) as Record<Mode, ReturnType<typeof stats>>;
    const w = timings.with.counters;
    const f = timings.floor.counters;
    const ms = (seconds: number, count: number): string => ((seconds / count) * 1000).toFixed(2);
    const row = (label: string, m: Mode): string =>
      `${label.padEnd(44)} ${String(s[m].n).padStart(5)}  ${fmt(s[m].p50)}  ${fmt(s[m].p99)}  ${fmt(s[m].mean)}`;
    const diff = (label: string, m: Mode): string =>
      `${label.padEnd(51)}  ${fmt(s[m].p50 - s.without.p50)}  ${fmt(s[m].p99 - s.without.p99)}  ${fmt(s[m].mean - s.without.mean)}`;
    const noWebhookReviews = timings.without.counters.serveReviews + timings.injected.counters.serveReviews + timings.floor.counters.serveReviews;
    const strayFloorCalls = timings.without.counters.floorCalls + timings.injected.counters.floorCalls + timings.with.counters.floorCalls;
    const out = [
      `bench:pod-create - Pod create latency with vs without the webhook (kube-apiserver ${version} on 127.0.0.1)`,
      `binaries:            ${binaries.dir} (${binaries.cached ? 'from cache' : 'built now'}, build script ${binaries.seconds.toFixed(1)} s)`,
      `control plane start: ${cluster.startSeconds.toFixed(1)} s (etcd + kube-apiserver + kube-controller-manager ready)`,
      `Pod:                 manifests/examples pod template, annotated; ${ROUNDS_PER_MODE} rounds x ${PER_ROUND} per mode, order ABCDDCBA..., sequential, one client; ${WARMUP} warm-up creations per mode`,
      `webhook:             serve --config manifests/base/config.yaml (child process, LOG_LEVEL=info), manifests/base MutatingWebhookConfiguration via its Service`,
      `floor:               the same configuration routed to a bare node:https responder (test/e2e/peer-webhook.ts, in the bench process) answering allowed, no patch`,
      '',
      `${''.padEnd(44)}     n    p50 ms    p99 ms   mean ms`,
      row('without webhook', 'without'),
      row('floor: bare responder, allowed, no patch', 'floor'),
      row('with webhook (serve)', 'with'),
      row('no webhook, Pod created already injected', 'injected'),
      diff('added by webhook (with - without)', 'with'),
      diff('  floor: any webhook call (floor - without)', 'floor'),
      diff('  the injected Pod\'s size (injected - without)', 'injected'),
      `  ours to cut (with - floor - size), p50: ${(s.with.p50 - s.floor.p50 - (s.injected.p50 - s.without.p50)).toFixed(2)} ms, mean: ${(s.with.mean - s.floor.mean - (s.injected.mean - s.without.mean)).toFixed(2)} ms`,
      '',
      `webhook calls per created Pod: ${(w.apiserverCalls / s.with.n).toFixed(2)} (${w.injected} injected + ${w.skipped} skipped answers)${
        w.skipped > 0 ? '; the skipped ones are reinvocations (reinvocationPolicy IfNeeded) after ServiceAccount admission re-ran and mounted its token into the injected containers' : ''
      }`,
      `apiserver's time per webhook call (apiserver_admission_webhook_admission_duration_seconds), mean: serve ${ms(w.apiserverSeconds, w.apiserverCalls)} ms, floor ${ms(f.apiserverSeconds, f.apiserverCalls)} ms`,
      `serve's own time per review (envoy_xds_injector_admission_duration_seconds), mean:               ${ms(w.serveSeconds, w.serveReviews)} ms`,
      `reviews by serve outside 'with' rounds: ${noWebhookReviews}, floor calls outside 'floor' rounds: ${strayFloorCalls} (must be 0)`,
      `total run: ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (noWebhookReviews !== 0 || strayFloorCalls !== 0) throw new Error('a webhook answered reviews in a round it was not configured for');
  } finally {
    await floor?.stop();
    await cluster.stop();
    clearTimeout(watchdog);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:pod-create failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
