// npm run bench:validate — the Envoy schema check: `validate`'s check and the ConfigMap webhook.
//
// Side by side on the same inputs: the sync gate's check (src/sync/envoy/gate.ts: YAML parse and
// "@type" present, the floor any check pays) and the schema check (src/schema: Envoy's API,
// PGV rules, unknown fields). Two ConfigMaps: small (one real listener, ~3 KiB) and 1 MiB
// (a CDS file of 2,000 STRICT_DNS clusters). Then the webhook in-process (fastify inject, the
// check in its worker thread): /validate-configmap p50/p99, the process RSS once the schema is
// loaded against the Deployment's memory limit, and /mutate (the Pod path) p50/p99 before the
// schema is loaded, after, and while 1 MiB ConfigMaps are being checked. Figures only.
// BENCH_RUNS (default 200 small, a tenth of that for 1 MiB) sizes the runs.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { load } from 'js-yaml';
import type { AdmissionReviewRequest } from '../src/admission/index.js';
import { defaultConfig } from '../src/inject/config.js';
import { checkConfigMap, loadEnvoySchema, type ConfigMapLike } from '../src/schema/index.js';
import { createConfigMapChecker } from '../src/schema/checker.js';
import { buildApp } from '../src/server/app.js';
import { Readiness } from '../src/server/readiness.js';
import { validateConfigFile } from '../src/sync/envoy/gate.js';
import { repoRoot } from '../test/sync/harness.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const MiB = 1024 * 1024;
const rssMiB = (): number => process.memoryUsage().rss / MiB;

function quantiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}
const ms = (n: number): string => `${n.toFixed(2)} ms`;

async function time(runs: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(5, runs); i++) await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return quantiles(samples);
}

/** A CDS file of `count` STRICT_DNS clusters, each with an endpoint and an HTTP health check. */
function clusters(count: number): string {
  const lines = ['version_info: "bench"', 'resources:'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster`,
      `  name: service_${i}`,
      `  type: STRICT_DNS`,
      `  connect_timeout: 0.25s`,
      `  lb_policy: ROUND_ROBIN`,
      `  dns_lookup_family: V4_ONLY`,
      `  health_checks: [{timeout: 1s, interval: 5s, unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: {path: /healthz}}]`,
      `  load_assignment:`,
      `    cluster_name: service_${i}`,
      `    endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: service-${i}.shop.svc.cluster.local, port_value: 8080}}}}]}]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const small: ConfigMapLike = { metadata: { name: 'small', namespace: 'bench' }, data: { 'lds.yaml': readFileSync(join(repoRoot, 'test/fixtures/schema/accepts.real-listener.lds.yaml'), 'utf8') } };
const cds = clusters(2000);
const large: ConfigMapLike = { metadata: { name: 'large', namespace: 'bench' }, data: { 'cds.yaml': cds } };
const clusterCount = (load(cds) as { resources: unknown[] }).resources.length;

console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start (timings scale with it)`);
const schemaStart = performance.now();
const rssBefore = rssMiB();
const schema = loadEnvoySchema();
console.log(`schema load: ${ms(performance.now() - schemaStart)}, RSS +${(rssMiB() - rssBefore).toFixed(0)} MiB (this process, main thread)`);

const gate = async (cm: ConfigMapLike): Promise<void> => {
  for (const [name, text] of Object.entries(cm.data ?? {})) await validateConfigFile(name, Buffer.from(String(text)));
};
for (const [label, cm, runs] of [['small (~3 KiB, 1 listener)', small, RUNS], [`1 MiB (${clusterCount} clusters, ${(Buffer.byteLength(cds) / MiB).toFixed(2)} MiB)`, large, Math.max(10, Math.floor(RUNS / 10))]] as const) {
  const findings = (await checkConfigMap(schema, cm)).flatMap((c) => c.findings);
  if (findings.length > 0) throw new Error(`bench input has findings: ${JSON.stringify(findings.slice(0, 3))}`);
  const floor = await time(runs, () => gate(cm));
  const ours = await time(runs, () => checkConfigMap(schema, cm));
  console.log(`${label}: gate (floor) p50 ${ms(floor.p50)} p99 ${ms(floor.p99)} | schema check p50 ${ms(ours.p50)} p99 ${ms(ours.p99)}  [${runs} runs]`);
}

// The webhook in-process: the check runs in the worker thread, /mutate on the event loop.
const podReview = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/admission-review.json'), 'utf8')) as AdmissionReviewRequest;
const review = (cm: ConfigMapLike): AdmissionReviewRequest => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'bench', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' }, name: cm.metadata?.name ?? '', namespace: 'bench', operation: 'UPDATE', object: { apiVersion: 'v1', kind: 'ConfigMap', ...cm } },
});
const checker = createConfigMapChecker();
const readiness = new Readiness();
readiness.markReady();
const app = buildApp({ injectorConfig: defaultConfig('0.0.0-bench'), logger: pino({ level: 'silent' }), registry: new Registry(), readiness, https: {}, configMapChecker: checker });
await app.ready();
const post = async (url: string, body: AdmissionReviewRequest): Promise<void> => {
  const reply = await app.inject({ method: 'POST', url, payload: body });
  if (reply.statusCode !== 200) throw new Error(`${url}: ${reply.statusCode} ${reply.body}`);
};
const mutate = (): Promise<void> => post('/mutate', podReview);
const podBefore = await time(RUNS, mutate);
const rssServer = rssMiB();
const firstStart = performance.now();
await post('/validate-configmap', review(small));
const first = performance.now() - firstStart;
const webhookSmall = await time(RUNS, () => post('/validate-configmap', review(small)));
const webhookLarge = await time(Math.max(10, Math.floor(RUNS / 10)), () => post('/validate-configmap', review(large)));
const podAfter = await time(RUNS, mutate);
// The Pod path while 1 MiB ConfigMaps are checked back to back in the worker.
const background_ = { running: true };
const background = (async () => {
  while (background_.running) await post('/validate-configmap', review(large));
})();
const podDuring = await time(RUNS, mutate);
background_.running = false;
await background;
const rssLoaded = rssMiB();
const limit = 256; // manifests/base/deployment.yaml, charts values.yaml resources.limits.memory
console.log(`/validate-configmap: first review (loads the schema in the worker) ${ms(first)}; small p50 ${ms(webhookSmall.p50)} p99 ${ms(webhookSmall.p99)}; 1 MiB p50 ${ms(webhookLarge.p50)} p99 ${ms(webhookLarge.p99)}`);
console.log(`/mutate (Pod path): before the schema p50 ${ms(podBefore.p50)} p99 ${ms(podBefore.p99)} | schema loaded p50 ${ms(podAfter.p50)} p99 ${ms(podAfter.p99)} | during 1 MiB checks p50 ${ms(podDuring.p50)} p99 ${ms(podDuring.p99)}`);
console.log(`server RSS: ${rssServer.toFixed(0)} MiB without the schema, ${rssLoaded.toFixed(0)} MiB with it loaded and after 1 MiB checks (limit ${limit} MiB: ${((rssLoaded / limit) * 100).toFixed(0)} %, headroom ${(100 - (rssLoaded / limit) * 100).toFixed(0)} %; the bench process also holds a main-thread schema, ~${(rssLoaded - rssServer).toFixed(0)} MiB is an upper bound)`);
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
await app.close();
await checker.close();
