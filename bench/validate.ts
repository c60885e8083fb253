// npm run bench:validate — the Envoy schema check: `validate`'s check and the ConfigMap webhook.
//
// Side by side on the same inputs: the sync gate's check (src/sync/envoy/gate.ts: YAML parse and
// "@type" present, the floor any check pays) and the schema check (src/schema: Envoy's API,
// PGV rules, unknown fields), in this process (compiled: dist/). Two ConfigMaps: small (one real listener, ~3 KiB)
// and 1 MiB (a CDS file of 2,000 STRICT_DNS clusters).
// Then `serve` as the image runs it (dist/, built first with `npm run build`) in its own process,
// over HTTPS with keep-alive, as the apiserver calls it:
//   - start: time to listening, the first /mutate right after, /mutate p50/p99 while the schema
//     preloads in the worker, the load time serve logs;
//   - /validate-configmap p50/p99 (small, 1 MiB, and an UPDATE that edits a small file next to an
//     unchanged 1 MiB one, with the oldObject the apiserver sends), /mutate (the Pod path) p50/p99 with the schema
//     loaded and while 1 MiB ConfigMaps are checked back to back;
//   - the server's RSS (/proc/PID/status VmRSS, and VmHWM, the peak) against the memory limit of
//     manifests/base/deployment.yaml, with the 30 % headroom target;
//   - a restart: a second serve gets a small ConfigMap review the moment it listens (the first
//     labelled write after a restart), timed against timeoutSeconds: 10.
// With BENCH_BEFORE=<git ref>, that revision's check and serve run next to ours: the timed reviews
// take turns between the two servers. Figures only. BENCH_RUNS (default 200 small, a tenth of that for 1 MiB) sizes the runs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { fromJson } from '@bufbuild/protobuf';
import { FAILSAFE_SCHEMA, load } from 'js-yaml';
import { parseAllDocuments } from 'yaml';
import type { AdmissionReviewRequest } from '../src/admission/index.js';
import type { ConfigMapLike } from '../src/schema/index.js';
import { postReview } from '../test/integration/https-client.js';
import { LogFollower } from '../test/integration/serve-harness.js';
import { repoRoot } from '../test/sync/harness.js';
import { buildAppAt } from './app.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const MiB = 1024 * 1024;

function quantiles(samples: number[]): { p50: number; p99: number; min: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), min: sorted[0] ?? 0 };
}
const ms = (n: number): string => `${n.toFixed(2)} ms`;

async function time(runs: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number; min: number }> {
  for (let i = 0; i < Math.min(5, runs); i++) await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return quantiles(samples);
}

/** Like time(), the functions taking turns (who goes first alternates), so each sees the same load. */
async function timeEach(runs: number, fns: readonly (() => Promise<unknown>)[]): Promise<{ p50: number; p99: number; min: number }[]> {
  for (let i = 0; i < Math.min(5, runs); i++) for (const fn of fns) await fn();
  const samples = fns.map((): number[] => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < fns.length; k++) {
      const at = (i + k) % fns.length;
      const start = performance.now();
      await fns[at]?.();
      samples[at]?.push(performance.now() - start);
    }
  }
  return samples.map(quantiles);
}
const loadNow = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

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

console.log(`machine: ${cpus().length} CPUs, load average ${loadNow()} at start (timings scale with it)`);
// dist/ first: the check in this process is the compiled one serve runs, as the revision before is.
console.log('building dist/ (npm run build) ...');
execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
type SchemaModule = typeof import('../src/schema/index.js');
const { checkConfigMap, loadEnvoySchema } = (await import(pathToFileURL(join(repoRoot, 'dist/schema/index.js')).href)) as SchemaModule;
const { envoyJson } = (await import(pathToFileURL(join(repoRoot, 'dist/schema/envoy-json.js')).href)) as typeof import('../src/schema/envoy-json.js');
const { validateConfigFile } = (await import(pathToFileURL(join(repoRoot, 'dist/sync/envoy/gate.js')).href)) as typeof import('../src/sync/envoy/gate.js');
const schemaStart = performance.now();
const schema = loadEnvoySchema();
console.log(`in this process (dist/): schema load ${ms(performance.now() - schemaStart)}`);

// BENCH_BEFORE=<git ref>: the same check and serve as built from that revision (bench/app.ts
// buildAppAt, with its schema/), measured in the same run: in this process taking turns with ours,
// and serve one after the other.
const BEFORE = process.env.BENCH_BEFORE;
const beforeMain = BEFORE === undefined ? undefined : buildAppAt(BEFORE, true);
type Check = (cm: ConfigMapLike) => Promise<unknown>;
const beforeCheck: Check | undefined = await (async () => {
  if (beforeMain === undefined) return undefined;
  const at = (await import(pathToFileURL(join(dirname(beforeMain), '../schema/index.js')).href)) as { loadEnvoySchema: () => unknown; checkConfigMap: (schema: unknown, cm: ConfigMapLike) => Promise<unknown> };
  const beforeSchema = at.loadEnvoySchema();
  return (cm) => at.checkConfigMap(beforeSchema, cm);
})();

/**
 * What the two libraries the check is built on cost by themselves on `cm`'s files, taking turns:
 * js-yaml reading the text with no scalar typing at all (FAILSAFE_SCHEMA: the parser alone), the
 * check's own reading (envoyJson: js-yaml with Envoy's scalar rules), and @bufbuild/protobuf's
 * fromJson of every resource of the value read (its `@type`'s message, as the check calls it).
 * Their sum is the floor of a check that parses with these libraries; each is the p50 (and p99)
 * of its own runs, and the minimum, the figure least moved by the machine's load.
 */
async function libraryFloor(cm: ConfigMapLike, runs: number): Promise<string> {
  const texts = Object.entries(cm.data ?? {}).map(([name, text]) => ({ name, text: String(text) }));
  const values = texts.map(({ name, text }) => envoyJson(text, name) as { resources?: Record<string, unknown>[] });
  const parseAlone = (): Promise<void> => {
    for (const { text } of texts) load(text, { schema: FAILSAFE_SCHEMA, json: true });
    return Promise.resolve();
  };
  const envoyReading = (): Promise<void> => {
    for (const { name, text } of texts) envoyJson(text, name);
    return Promise.resolve();
  };
  const decode = (): Promise<void> => {
    for (const value of values) {
      for (const resource of value.resources ?? []) {
        const typeUrl = String(resource['@type']);
        const desc = schema.registry.getMessage(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
        if (desc) fromJson(desc, resource as never, { registry: schema.registry, ignoreUnknownFields: true });
      }
    }
    return Promise.resolve();
  };
  const [parse, reading, decoded] = await timeEach(runs, [parseAlone, envoyReading, decode]);
  const q = (x: { p50: number; p99: number; min: number } | undefined): string => `p50 ${ms(x?.p50 ?? NaN)} p99 ${ms(x?.p99 ?? NaN)} min ${ms(x?.min ?? NaN)}`;
  return `the libraries alone: js-yaml parse (no scalar typing) ${q(parse)} | the check's YAML reading (envoyJson) ${q(reading)} | protobuf-es fromJson of every resource ${q(decoded)} | floor (parse + fromJson) p50 ${ms((parse?.p50 ?? NaN) + (decoded?.p50 ?? NaN))} min ${ms((parse?.min ?? NaN) + (decoded?.min ?? NaN))}  [load ${loadNow()}]`;
}

const gate = async (cm: ConfigMapLike): Promise<void> => {
  for (const [name, text] of Object.entries(cm.data ?? {})) await validateConfigFile(name, Buffer.from(String(text)));
};
for (const [label, cm, runs] of [['small (~3 KiB, 1 listener)', small, RUNS], [`1 MiB (${clusterCount} clusters, ${(Buffer.byteLength(cds) / MiB).toFixed(2)} MiB)`, large, Math.max(10, Math.floor(RUNS / 10))]] as const) {
  const findings = (await checkConfigMap(schema, cm)).flatMap((c) => c.findings);
  if (findings.length > 0) throw new Error(`bench input has findings: ${JSON.stringify(findings.slice(0, 3))}`);
  const floor = await time(runs, () => gate(cm));
  const [ours, before] = await timeEach(runs, [() => checkConfigMap(schema, cm), ...(beforeCheck ? [() => beforeCheck(cm)] : [])]);
  const beforeText = before ? ` | schema check @${String(BEFORE)} p50 ${ms(before.p50)} p99 ${ms(before.p99)}` : '';
  console.log(`${label}: gate (floor) p50 ${ms(floor.p50)} p99 ${ms(floor.p99)} | schema check p50 ${ms(ours?.p50 ?? NaN)} p99 ${ms(ours?.p99 ?? NaN)}${beforeText}  [${runs} runs, load ${loadNow()}]`);
  console.log(`${label}: ${await libraryFloor(cm, runs)}`);
}

// `serve` in its own process, from dist/ as the image runs it.

const podReview = readFileSync(join(repoRoot, 'test/fixtures/admission-review.json'), 'utf8');
const labelled = (cm: ConfigMapLike): object => ({ apiVersion: 'v1', kind: 'ConfigMap', ...cm, metadata: { ...cm.metadata, labels: { 'envoy-xds-injector.io/validate': 'true' } } });
/** An UPDATE review of `cm`; with `old`, the opted-in ConfigMap it replaces (oldObject), as the apiserver sends it. */
const review = (cm: ConfigMapLike, old?: ConfigMapLike): string =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'bench', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' }, name: cm.metadata?.name ?? '', namespace: 'bench', operation: 'UPDATE', object: labelled(cm), ...(old ? { oldObject: labelled(old) } : {}) },
  } satisfies AdmissionReviewRequest);
const smallReview = review(small);
const largeReview = review(large);
// An edit of the small file of a ConfigMap that also holds the 1 MiB CDS file, unchanged.
const smallText = String(small.data?.['lds.yaml']);
const twoFiles = (lds: string): ConfigMapLike => ({ metadata: { name: 'large', namespace: 'bench' }, data: { 'cds.yaml': cds, 'lds.yaml': lds } });
const editReview = review(twoFiles(`${smallText}# edited\n`), twoFiles(smallText));

/** The webhook container's memory limit in the shipped Deployment, in MiB. */
function memoryLimitMiB(): number {
  for (const doc of parseAllDocuments(readFileSync(join(repoRoot, 'manifests/base/deployment.yaml'), 'utf8'))) {
    const object = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: { resources?: { limits?: { memory?: string } } }[] } } } };
    const limit = object.kind === 'Deployment' ? object.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory : undefined;
    const match = limit ? /^(\d+)Mi$/.exec(limit) : null;
    if (match) return Number(match[1]);
  }
  throw new Error('manifests/base/deployment.yaml: no memory limit in Mi found');
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

interface Server {
  child: ChildProcess;
  pid: number;
  logs: LogFollower;
  post: (url: string, body: string) => Promise<void>;
  /** From spawn to the "serving admission reviews" line, ms. */
  listeningMs: number;
  stop: () => Promise<void>;
}

async function startServer(cwd: string, main: string): Promise<Server> {
  const spawned = performance.now();
  const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--drain-delay', '0s'], { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'info' } });
  const logs = new LogFollower();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    logs.push(chunk);
  });
  const listening = await logs.waitFor((l) => String(l.msg).startsWith('serving admission reviews at '), 'serve listening');
  const listeningMs = performance.now() - spawned;
  const base = `https://127.0.0.1:${String(listening.port)}`;
  const ca = readFileSync(join(cwd, '.dev-certs/tls.crt'), 'utf8');
  const agent = new Agent({ keepAlive: true, maxSockets: 4 }); // the apiserver keeps connections to webhooks alive
  const post = async (url: string, body: string): Promise<void> => {
    const res = await postReview(`${base}${url}`, body, { ca, agent });
    if (res.status !== 200) throw new Error(`${url}: ${String(res.status)} ${res.body.slice(0, 300)}`);
    const answer = JSON.parse(res.body) as { response?: { allowed?: boolean; warnings?: string[] } };
    if (url === '/validate-configmap' && (answer.response?.allowed !== true || (answer.response.warnings?.length ?? 0) > 0)) throw new Error(`${url}: ${res.body.slice(0, 300)}`);
  };
  if (child.pid === undefined) throw new Error('serve did not start');
  const pid = child.pid;
  return {
    child,
    pid,
    logs,
    post,
    listeningMs,
    stop: async () => {
      agent.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const SCHEMA_LOADED = 'Envoy schema loaded for /validate-configmap';
const limit = memoryLimitMiB();

interface Started {
  main: string;
  label: string;
  cwd: string;
  server: Server;
  lines: string[];
  rssLoaded: { rss: number; peak: number };
}

/** Starts the CLI at `main`: /mutate while the schema preloads, the RSS once loaded, the first review. */
async function startPhase(main: string, label: string): Promise<Started> {
  const cwd = mkdtempSync(join(tmpdir(), 'bench-validate-'));
  const server = await startServer(cwd, main);
  const mutate = (): Promise<void> => server.post('/mutate', podReview);
  // The Pod path while the schema preloads: /mutate back to back until serve logs the load.
  const firstMutateStart = performance.now();
  await mutate();
  const firstMutate = performance.now() - firstMutateStart;
  const duringLoad: number[] = [];
  while (server.logs.byMessage(SCHEMA_LOADED).length === 0) {
    const start = performance.now();
    await mutate();
    duringLoad.push(performance.now() - start);
  }
  const loaded = server.logs.byMessage(SCHEMA_LOADED)[0] ?? {};
  const podLoading = quantiles(duringLoad);
  const rssLoaded = rssOf(server.pid);
  const firstStart = performance.now();
  await server.post('/validate-configmap', smallReview);
  const firstAfterLoad = performance.now() - firstStart;
  const lines = [
    `${label}serve (dist/, own process, HTTPS keep-alive, started at load ${loadNow()}): listening ${ms(server.listeningMs)} after spawn; first /mutate ${ms(firstMutate)}; /mutate while the schema preloads p50 ${ms(podLoading.p50)} p99 ${ms(podLoading.p99)} [${duringLoad.length} reviews]; schema loaded ${ms(Number(loaded.loadMs))} in the worker, ${ms(Number(loaded.sinceReadyMs))} after ready; first review once loaded ${ms(firstAfterLoad)}`,
  ];
  return { main, label, cwd, server, lines, rssLoaded };
}

/** /mutate while 1 MiB ConfigMaps are checked back to back, the RSS after all reviews, then a restart. */
async function endPhase(started: Started): Promise<void> {
  const { server, label, cwd, main } = started;
  try {
    const busy = { running: true };
    const background = (async () => {
      while (busy.running) await server.post('/validate-configmap', largeReview);
    })();
    const podDuring = await time(RUNS, () => server.post('/mutate', podReview));
    busy.running = false;
    await background;
    const rssAfter = rssOf(server.pid);
    await server.stop();

    // A restart: the first labelled write arrives the moment the new serve listens.
    const restarted = await startServer(cwd, main);
    const restartStart = performance.now();
    await restarted.post('/validate-configmap', smallReview);
    const firstAtStart = performance.now() - restartStart;
    const restartLoad = (await restarted.logs.waitFor((l) => l.msg === SCHEMA_LOADED, 'schema loaded')).loadMs;
    await restarted.stop();

    const headroom = (rss: number): string => `${((1 - rss / limit) * 100).toFixed(0)} %`;
    for (const line of started.lines) console.log(line);
    console.log(`${label}/mutate during 1 MiB checks p50 ${ms(podDuring.p50)} p99 ${ms(podDuring.p99)} [load ${loadNow()}]`);
    console.log(`${label}/validate-configmap first review after a restart, sent the moment serve listens: ${ms(firstAtStart)} (the schema loaded in ${ms(Number(restartLoad))}; timeoutSeconds: 10)`);
    console.log(`${label}server RSS (VmRSS of serve's process): ${started.rssLoaded.rss.toFixed(0)} MiB with the schema loaded, ${rssAfter.rss.toFixed(0)} MiB after the reviews above, peak (VmHWM) ${rssAfter.peak.toFixed(0)} MiB; limit ${String(limit)} MiB: headroom ${headroom(rssAfter.rss)} now, ${headroom(rssAfter.peak)} at the peak (target 30 %)`);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

// Ours and (BENCH_BEFORE) the revision before both run; their reviews take turns, so a change of
// the machine's load falls on both. The phases that start, load or restart a server run one after the other.
const servers = [await startPhase(join(repoRoot, 'dist/cli/main.js'), BEFORE === undefined ? '' : 'ours: ')];
if (beforeMain !== undefined) servers.push(await startPhase(beforeMain, `@${String(BEFORE)}: `));
try {
  const large = Math.max(10, Math.floor(RUNS / 10));
  const each = async (runs: number, url: string, body: string): Promise<{ p50: number; p99: number }[]> => timeEach(runs, servers.map((started) => () => started.server.post(url, body)));
  const loadAtReviews = loadNow();
  const webhookSmall = await each(RUNS, '/validate-configmap', smallReview);
  const webhookLarge = await each(large, '/validate-configmap', largeReview);
  const webhookEdit = await each(large, '/validate-configmap', editReview);
  const podAfter = await each(RUNS, '/mutate', podReview);
  for (const [index, started] of servers.entries()) {
    const q = (list: { p50: number; p99: number }[]): string => `p50 ${ms(list[index]?.p50 ?? NaN)} p99 ${ms(list[index]?.p99 ?? NaN)}`;
    started.lines.push(
      `${started.label}/validate-configmap (load ${loadAtReviews} to ${loadNow()}): small ${q(webhookSmall)}; 1 MiB ${q(webhookLarge)}; an edit of the small file next to the unchanged 1 MiB file (oldObject) ${q(webhookEdit)}`,
      `${started.label}/mutate (Pod path) with the schema loaded ${q(podAfter)}`,
    );
  }
} finally {
  for (const started of servers) await endPhase(started);
}
console.log(`load average at end: ${loadNow()}`);
