// `npm run bench:pod-create`: the Pod-create latency the webhook adds, on a real kube-apiserver.
//
// Starts the e2e control plane (test/e2e/cluster.ts: etcd + kube-apiserver + kube-controller-
// manager v1.33 on 127.0.0.1; the first run builds the binaries) and `envoy-xds-injector serve`
// as a child process behind the shipped MutatingWebhookConfiguration, then creates the same
// annotated Pod (the shipped example's pod template) over and over with one client, one request
// at a time, in rounds of five modes, in the order A B C D E E D C B A ... so drift (etcd growth,
// other load on the machine) hits all alike:
//   without   no webhook configuration;
//   floor     the same configuration routed to a bare HTTPS responder (bench/floor-webhook.ts, a child
//             process like serve) that answers `allowed` with no patch: what any webhook costs here;
//   patched   the same responder running the same rules as `serve` (injectPod with the shipped config)
//             and answering with their patch: no fastify, schema validation, log line or metrics.
//             So: patched - floor = the rules plus the apiserver applying the patch and storing the
//             bigger Pod; with - patched = what `serve` adds around the rules;
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
import { controlPlaneBinaries, hostIPv4, repoRoot, startCluster, type Cluster } from '../test/e2e/cluster.js';
import { plain, type Plain } from '../test/e2e/objects.js';
import { httpGet } from '../test/e2e/http.js';
import { freePort, startProcess, waitFor } from '../test/e2e/proc.js';
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
  webhookClientConfig,
  envoyPod,
  optIn,
  type ServeProcess,
} from '../test/e2e/webhook.js';
import { loadInjectorConfig } from '../src/cli/config.js';
import { injectPod, type InjectorConfig } from '../src/inject/index.js';

const ROUNDS_PER_MODE = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 50);
const WARMUP = 20;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900);
const NAMESPACE = 'bench';
const LABEL = { 'envoy-xds-injector.io/bench': 'pod-create' };
const WEBHOOK = 'inject.envoy-xds-injector.io';
/** Service (in the injector's namespace) routed to the floor responder. */
const FLOOR_SERVICE = 'bench-floor';

const MODES = ['without', 'floor', 'patched', 'with', 'injected'] as const;
type Mode = (typeof MODES)[number];
/** Modes whose Pods come out injected (the status annotation set). */
const INJECTED: readonly Mode[] = ['patched', 'with', 'injected'];
/** Which webhook answers in a mode. */
const webhookOf = (m: Mode): 'none' | 'floor' | 'serve' => (m === 'floor' || m === 'patched' ? 'floor' : m === 'with' ? 'serve' : 'none');

/** Counters read from serve's and the apiserver's /metrics, summed over a mode's measured rounds. */
interface Counters {
  serveSeconds: number;
  serveReviews: number;
  injected: number;
  skipped: number;
  apiserverSeconds: number;
  apiserverCalls: number;
  /** Calls the floor responder answered, and its own time for them (counted in this process). */
  floorCalls: number;
  floorMs: number;
  floorBodyMs: number;
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
async function examplePods(config: InjectorConfig): Promise<Record<'plain' | 'injected', (name: string) => k8s.V1Pod>> {
  const deployment = parse(await readFile(join(repoRoot, 'manifests', 'examples', 'deployment.yaml'), 'utf8')) as Plain<k8s.V1Deployment>;
  const template = deployment.spec?.template;
  if (template?.spec === undefined) throw new Error('manifests/examples/deployment.yaml has no pod template');
  const { metadata = {}, spec } = template;
  const pod = (name: string): k8s.V1Pod =>
    plain<k8s.V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { ...metadata, name, labels: { ...metadata.labels, ...LABEL } }, spec });
  const result = injectPod(pod('template'), config);
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
    floorMs: 0,
    floorBodyMs: 0,
  };
}

function addDelta(into: Counters, before: Counters, after: Counters): void {
  for (const key of Object.keys(into) as (keyof Counters)[]) into[key] += after[key] - before[key];
}

const zero = (): Counters => ({ serveSeconds: 0, serveReviews: 0, injected: 0, skipped: 0, apiserverSeconds: 0, apiserverCalls: 0, floorCalls: 0, floorMs: 0, floorBodyMs: 0 });

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

interface Floor {
  port: number;
  stats(): Promise<{ calls: number; ms: number; bodyMs: number; patched: number }>;
  /** Whether it runs the injection rules and answers their patch ('patched') or answers no patch. */
  rules(on: boolean): Promise<void>;
}

/** bench/floor-webhook.ts as a child process (stopped with the cluster), with a certificate from the cluster CA. */
async function startFloor(cluster: Cluster): Promise<Floor> {
  const ip = hostIPv4();
  const tls = await cluster.ca.issue('bench-floor', {
    commonName: `${FLOOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`,
    dnsNames: ['localhost', `${FLOOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`],
    ipAddresses: ['127.0.0.1', ...(ip !== undefined ? [ip] : [])],
    usages: ['server'],
  });
  const port = await freePort('0.0.0.0');
  const args = ['--import', 'tsx', join(repoRoot, 'bench', 'floor-webhook.ts'), '--port', String(port)];
  args.push('--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--config', SHIPPED_CONFIG);
  const proc = startProcess('floor-webhook', process.execPath, args, { cwd: repoRoot, logFile: join(cluster.logDir, 'floor-webhook.log') });
  cluster.adopt(proc);
  await proc.waitForLog(/floor webhook listening/, 30_000);
  const call = async (method: string, path: string): Promise<string> => {
    const res = await httpGet(`https://127.0.0.1:${String(port)}${path}`, { method, ca: cluster.ca.cert, servername: 'localhost' });
    if (res.status !== 200) throw new Error(`floor webhook ${method} ${path}: HTTP ${String(res.status)}`);
    return res.body;
  };
  return {
    port,
    stats: async () => JSON.parse(await call('GET', '/stats')) as { calls: number; ms: number; bodyMs: number; patched: number },
    rules: async (on) => {
      await call('PUT', on ? '/rules/on' : '/rules/off');
    },
  };
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
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const pods = await examplePods(await loadInjectorConfig(SHIPPED_CONFIG, pkg.version));
    const floor = await startFloor(cluster);
    await ensureNamespace(cluster, NAMESPACE);
    const mwcName = await installShippedWebhook(cluster, server, NAMESPACE);
    let current: Mode = 'with';
    /** Whether a probe Pod created now reaches the floor responder. */
    const probeReachesFloor = async (): Promise<boolean> => {
      const name = `probe-floor-${String(++probes)}`;
      const before = (await floor.stats()).calls;
      await cluster.core.createNamespacedPod({ namespace: NAMESPACE, body: envoyPod(name, optIn('probe')) });
      await cluster.core.deleteNamespacedPod({ name, namespace: NAMESPACE });
      return (await floor.stats()).calls > before;
    };
    const setMode = async (mode: Mode): Promise<void> => {
      const want = webhookOf(mode);
      const have = webhookOf(current);
      current = mode;
      await floor.rules(mode === 'patched');
      if (want === have) return;
      if (want === 'serve') {
        await installShippedWebhook(cluster, server, NAMESPACE);
        await waitFor('the floor responder to be out of the path', async () => ((await probeReachesFloor()) ? undefined : true));
      } else if (want === 'floor') {
        // The shipped configuration, its webhook name included (so the apiserver's metrics are
        // labelled alike), routed to the floor responder.
        const clientConfig = await webhookClientConfig(cluster, { port: floor.port, caPem: cluster.ca.cert }, { namespace: INJECTOR_NAMESPACE, name: FLOOR_SERVICE });
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
    for (const mode of ['with', 'floor', 'patched', 'without', 'injected'] as const) {
      await setMode(mode);
      await createPods(cluster, podFor(mode), WARMUP, mode);
    }

    const timings = Object.fromEntries(MODES.map((m) => [m, { ms: [], counters: zero() }])) as unknown as Record<Mode, Timings>;
    // A B C D E E D C B A ...: each mode is as often early as late.
    for (let r = 0; r < ROUNDS_PER_MODE; r++) {
      for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
        await setMode(mode);
        const before = await readCounters(cluster, server);
        const floorBefore = await floor.stats();
        timings[mode].ms.push(...(await createPods(cluster, podFor(mode), PER_ROUND, mode)));
        addDelta(timings[mode].counters, before, await readCounters(cluster, server));
        const floorAfter = await floor.stats();
        timings[mode].counters.floorCalls += floorAfter.calls - floorBefore.calls;
        timings[mode].counters.floorMs += floorAfter.ms - floorBefore.ms;
        timings[mode].counters.floorBodyMs += floorAfter.bodyMs - floorBefore.bodyMs;
      }
    }

    const s = Object.fromEntries(MODES.map((m) => [m, stats(timings[m].ms)])) as Record<Mode, ReturnType<typeof stats>>;
    const w = timings.with.counters;
    const f = timings.floor.counters;
    const fp = timings.patched.counters;
    const ms = (seconds: number, count: number): string => ((seconds / count) * 1000).toFixed(2);
    const row = (label: string, m: Mode): string =>
      `${label.padEnd(44)} ${String(s[m].n).padStart(5)}  ${fmt(s[m].p50)}  ${fmt(s[m].p99)}  ${fmt(s[m].mean)}`;
    const diff = (label: string, m: Mode): string =>
      `${label.padEnd(51)}  ${fmt(s[m].p50 - s.without.p50)}  ${fmt(s[m].p99 - s.without.p99)}  ${fmt(s[m].mean - s.without.mean)}`;
    const noWebhookReviews = timings.without.counters.serveReviews + timings.injected.counters.serveReviews + timings.floor.counters.serveReviews;
    const strayFloorCalls = timings.without.counters.floorCalls + timings.injected.counters.floorCalls + timings.with.counters.floorCalls;
    const noWebhookReviewsAll = noWebhookReviews + timings.patched.counters.serveReviews;
    const out = [
      `bench:pod-create - Pod create latency with vs without the webhook (kube-apiserver ${version} on 127.0.0.1)`,
      `binaries:            ${binaries.dir} (${binaries.cached ? 'from cache' : 'built now'}, build script ${binaries.seconds.toFixed(1)} s)`,
      `control plane start: ${cluster.startSeconds.toFixed(1)} s (etcd + kube-apiserver + kube-controller-manager ready)`,
      `Pod:                 manifests/examples pod template, annotated; ${ROUNDS_PER_MODE} rounds x ${PER_ROUND} per mode, order ABCDEEDCBA..., sequential, one client; ${WARMUP} warm-up creations per mode`,
      `webhook:             serve --config manifests/base/config.yaml (child process, LOG_LEVEL=info), manifests/base MutatingWebhookConfiguration via its Service`,
      `floor:               the same configuration routed to a bare node:https responder (bench/floor-webhook.ts, child process) answering allowed, no patch ('patched': running serve's rules, answering their patch)`,
      '',
      `${''.padEnd(44)}     n    p50 ms    p99 ms   mean ms`,
      row('without webhook', 'without'),
      row('floor: bare responder, allowed, no patch', 'floor'),
      row("bare responder running serve's rules", 'patched'),
      row('with webhook (serve)', 'with'),
      row('no webhook, Pod created already injected', 'injected'),
      diff('added by webhook (with - without)', 'with'),
      diff('  floor: any webhook call (floor - without)', 'floor'),
      diff('  the rules, applying and storing (patched - without)', 'patched'),
      diff('  the injected Pod\'s size (injected - without)', 'injected'),
      `  serve around the rules (with - patched): p50 ${(s.with.p50 - s.patched.p50).toFixed(2)} ms, mean ${(s.with.mean - s.patched.mean).toFixed(2)} ms`,
      '',
      `webhook calls per created Pod: ${(w.apiserverCalls / s.with.n).toFixed(2)} (${w.injected} injected + ${w.skipped} skipped answers)${
        w.skipped > 0 ? '; the skipped ones are reinvocations (reinvocationPolicy IfNeeded) after ServiceAccount admission re-ran and mounted its token into the injected containers' : ''
      }`,
      `apiserver's time per webhook call (apiserver_admission_webhook_admission_duration_seconds), mean: serve ${ms(w.apiserverSeconds, w.apiserverCalls)} ms, floor ${ms(f.apiserverSeconds, f.apiserverCalls)} ms, patched ${ms(fp.apiserverSeconds, fp.apiserverCalls)} ms`,
      `the webhook's own time per review, mean: serve ${ms(w.serveSeconds, w.serveReviews)} ms (envoy_xds_injector_admission_duration_seconds), floor ${(f.floorMs / f.floorCalls).toFixed(2)} ms, patched ${(fp.floorMs / fp.floorCalls).toFixed(2)} ms (request to response finished; of which waiting for the body: floor ${(f.floorBodyMs / f.floorCalls).toFixed(2)} ms, patched ${(fp.floorBodyMs / fp.floorCalls).toFixed(2)} ms)`,
      `reviews by serve outside 'with' rounds: ${noWebhookReviewsAll}, floor calls outside its rounds: ${strayFloorCalls} (must be 0)`,
      `total run: ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (noWebhookReviewsAll !== 0 || strayFloorCalls !== 0) throw new Error('a webhook answered reviews in a round it was not configured for');
  } finally {
    await cluster.stop();
    clearTimeout(watchdog);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:pod-create failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
