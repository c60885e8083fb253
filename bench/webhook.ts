// `npm run bench:webhook`: throughput and latency of POST /mutate over HTTPS keep-alive, against a
// bare fastify HTTPS server that only parses the review and answers `allowed` — the floor set by
// TLS, HTTP and JSON parsing. The load generator (autocannon) runs in a child process so it never
// shares an event loop (or a core, on 2 cores) with the server under test. Two more servers split
// the difference (attribution only, not part of the ratio): the webhook with the injection result
// precomputed, and the bare server sending the webhook's answer bytes.
//
// The review is the one kube-apiserver v1.33 sent for a Deployment's Pod (3 containers with 25
// env vars each, managedFields, the ServiceAccount token volume), captured by
// bench/capture-review.ts. BENCH_REVIEW=FILE loads another, e.g. the hand-written
// test/fixtures/admission-review.json (the same Pod without managedFields, half the bytes).
//
// Targets: webhook/bare throughput ratio >= 0.8 and webhook p99 < 10 ms at 10 connections.
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import autocannon from 'autocannon';
import { fastify } from 'fastify';
import jsonPatch from 'fast-json-patch';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../src/admission/index.js';
import { admit, allowResponse } from '../src/admission/index.js';
import { defaultConfig, injectPod } from '../src/inject/index.js';
import type { AppDeps } from '../src/server/app.js';
import { buildApp, logReview } from '../src/server/app.js';
import { createBuildInfo } from '../src/server/metrics.js';
import { Readiness } from '../src/server/readiness.js';
import { createTestCA } from '../test/helpers/tls.js';

const CONNECTIONS = 10;
const WARMUP_SECONDS = 3;
/** Measured time per server, split into alternating rounds so load from other processes hits both alike. */
const MEASURE_SECONDS = 10;
const ROUNDS = 5;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 10;

interface LoadRequest {
  url: string;
  body: string;
  seconds: number;
}

interface LoadResult {
  /** Per-response times in ms (2xx only). */
  times: number[];
  non2xx: number;
  errors: number;
  timeouts: number;
}

interface Summary {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  responses: number;
  failures: number;
  /** Server CPU time (user + system) per answered review. */
  cpuMicros: number;
}

// ---- load generator (child process) -----------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function generateLoad(req: LoadRequest): Promise<LoadResult> {
  // autocannon's histogram keeps whole milliseconds; collect the exact per-response times too.
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: req.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: req.body,
        connections: CONNECTIONS,
        pipelining: 1,
        duration: req.seconds,
      },
      (err: unknown, res) => {
        if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        else resolve(res);
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime);
    });
  });
  return { times, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts };
}

if (process.argv[2] === '--load-generator') {
  // One job per message, answered in order; the parent disconnects when done.
  process.on('message', (msg: LoadRequest) => {
    void generateLoad(msg).then((result) => process.send?.(result));
  });
} else {
  await main();
}

/** The load generator: a child process, so it has its own event loop and core. */
function startLoadGenerator(): { run: (req: LoadRequest) => Promise<LoadResult>; stop: () => void } {
  const child = fork(fileURLToPath(import.meta.url), ['--load-generator'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    run: (req) => {
      const result = once(child, 'message').then(([msg]) => msg as LoadResult);
      child.send(req);
      return result;
    },
    stop: () => {
      child.disconnect();
    },
  };
}

/** Sum the rounds of one server. */
function summarize(rounds: { load: LoadResult; cpuMicros: number; seconds: number }[]): Summary {
  const times = rounds.flatMap((r) => r.load.times).sort((a, b) => a - b);
  const seconds = rounds.reduce((t, r) => t + r.seconds, 0);
  const cpu = rounds.reduce((t, r) => t + r.cpuMicros, 0);
  return {
    requestsPerSecond: times.length / seconds,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    responses: times.length,
    failures: rounds.reduce((t, r) => t + r.load.non2xx + r.load.errors + r.load.timeouts, 0),
    cpuMicros: cpu / Math.max(1, times.length),
  };
}


// ---- Kubernetes' own Go test webhook (agnhost `webhook`), as a peer ---------------------------

/** CPU time (user + system) of a process in µs, from /proc/<pid>/stat (clock ticks of 10 ms). */
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/**
 * agnhost's `webhook` (built and cached by bench/build-agnhost-webhook.sh) serving
 * /mutating-pods-sidecar on a free port with the bench certificate; undefined, with the reason
 * printed, when it cannot be built (e.g. no Go), so the rest of the bench still runs.
 */
async function startGoPeer(certFile: string, keyFile: string): Promise<{ url: string; child: ChildProcess } | undefined> {
  if (process.env.BENCH_GO_PEER === '0') return undefined;
  const script = fileURLToPath(new URL('./build-agnhost-webhook.sh', import.meta.url));
  const binary = await new Promise<string | undefined>((resolve) => {
    execFile('bash', [script], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        console.log(`agnhost webhook (Go peer): not measured, its build failed: ${stderr.trim().split('\n').at(-1) ?? err.message}`);
        resolve(undefined);
      } else resolve(stdout.trim().split('\n').at(-1));
    });
  });
  if (binary === undefined) return undefined;
  const port = await freePort();
  const child = spawn(binary, ['--tls-cert-file', certFile, '--tls-private-key-file', keyFile, '--port', String(port), '--sidecar-image', 'busybox'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ port, host: '127.0.0.1' }, () => { socket.destroy(); resolve(true); });
      socket.on('error', () => { resolve(false); });
    });
    if (up) return { url: `https://127.0.0.1:${String(port)}/mutating-pods-sidecar`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  console.log('agnhost webhook (Go peer): not measured, it did not start listening');
  return undefined;
}

// ---- servers and report (main process) --------------------------------------------------------

function microsPerCall(fn: () => unknown, calls: number): number {
  for (let i = 0; i < calls; i++) fn(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  return Number(process.hrtime.bigint() - start) / calls / 1000;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'exi-bench-'));
  try {
    const ca = await createTestCA(dir);
    const leaf = await ca.issue('bench');
    const tls = { cert: leaf.cert, key: leaf.key, minVersion: 'TLSv1.2' as const };
    const reviewFile = process.env.BENCH_REVIEW ?? fileURLToPath(new URL('../test/fixtures/admission-review-apiserver.json', import.meta.url));
    const review = JSON.parse(await readFile(reviewFile, 'utf8')) as AdmissionReviewRequest;
    // Compact, as the apiserver sends it.
    const body = JSON.stringify(review);
    const config = defaultConfig('0.0.0-bench');
    const pod = review.request.object as { spec: { containers: { env?: unknown[] }[] } };
    const envCounts = pod.spec.containers.map((c) => c.env?.length ?? 0);

    // The webhook as `serve` builds it: info-level JSON logs with the same base fields and the
    // same kind of destination as src/cli/main.ts (pino's default for stdout is an asynchronous
    // SonicBoom; here on /dev/null), default process metrics, real injection rules.
    const webhookApp = (injectOverride?: AppDeps['injectPod']) => {
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      createBuildInfo(registry, 'bench');
      const readiness = new Readiness();
      const app = buildApp({
        injectorConfig: config,
        logger: pino(
          { level: 'info', base: { cmd: 'serve', version: config.version } },
          pino.destination({ dest: '/dev/null', sync: false }),
        ),
        registry,
        readiness,
        https: tls,
        ...(injectOverride ? { injectPod: injectOverride } : {}),
      });
      readiness.markReady();
      return app;
    };
    const webhook = webhookApp();
    // Attribution only: the same server answering with the injection result computed once up
    // front, i.e. everything but the rules (validation, envelope, patch encoding, logs, metrics,
    // the larger answer over TLS).
    const precomputed = injectPod(review.request.object as V1Pod, config);
    const envelopeOnly = webhookApp(() => precomputed);

    // The baseline: fastify parses the review (its default JSON body parser, as the webhook's) and
    // answers `allowed` with the request's uid.
    const bare = fastify({ https: tls, logger: false });
    bare.post('/mutate', (request) => {
      const { request: req } = request.body as AdmissionReviewRequest;
      return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.uid, allowed: true } };
    });

    // Make sure we measure the injecting path, not a skip or an error.
    const check = await webhook.inject({ method: 'POST', url: '/mutate', payload: body, headers: { 'content-type': 'application/json' } });
    const checked = check.json<AdmissionReviewResponse>();
    if (check.statusCode !== 200 || checked.response.patchType !== 'JSONPatch') {
      throw new Error(`the sample review is not injected (status ${String(check.statusCode)}): ${check.body.slice(0, 300)}`);
    }

    // Attribution only: the bare server sending the webhook's answer bytes (serialized once up
    // front) after the same parse: what the larger answer alone costs in TLS, HTTP and the kernel.
    const bareSameAnswer = fastify({ https: tls, logger: false });
    bareSameAnswer.post('/mutate', (request, reply) => {
      const { request: req } = request.body as AdmissionReviewRequest;
      if (req.uid !== checked.response.uid) throw new Error('the bench sends one review only');
      return reply.type('application/json; charset=utf-8').send(check.body);
    });

    const webhookUrl = `${await webhook.listen({ port: 0, host: '127.0.0.1' })}/mutate`;
    const envelopeUrl = `${await envelopeOnly.listen({ port: 0, host: '127.0.0.1' })}/mutate`;
    const bareUrl = `${await bare.listen({ port: 0, host: '127.0.0.1' })}/mutate`;
    const bareSameAnswerUrl = `${await bareSameAnswer.listen({ port: 0, host: '127.0.0.1' })}/mutate`;

    // Where the webhook's time goes beyond the bare server: the injection rules alone, in-process.
    const injectMicros = microsPerCall(() => injectPod((JSON.parse(body) as AdmissionReviewRequest).request.object as V1Pod, config), 2000)
      - microsPerCall(() => JSON.parse(body) as unknown, 2000);
    // The work every injected review needs whatever the rules cost, each in a hot
    // loop (its best case: under load the same work cost 1.6-1.9 times as much in our runs): the
    // patch from compare(original, mutated), that patch encoded into the answer (JSON, base64),
    // and the route's log line for the review.
    if (precomputed.decision !== 'injected') throw new Error('the sample review is not injected');
    const original = review.request.object as object;
    const compareMicros = microsPerCall(() => jsonPatch.compare(original, precomputed.pod), 5000);
    const encodeMicros = microsPerCall(() => allowResponse(review.request.uid, precomputed.patch, precomputed.warnings), 5000);
    const floorLogger = pino({ level: 'info', base: { cmd: 'serve', version: config.version } }, pino.destination({ dest: '/dev/null', sync: false }));
    const outcome = admit(review, () => precomputed);
    const logMicros = microsPerCall(() => { logReview(floorLogger, review.request, outcome); }, 5000);

    console.log(
      `bench:webhook — POST /mutate over HTTPS keep-alive, ${String(CONNECTIONS)} connections, ` +
        `${String(MEASURE_SECONDS)} s each after ${String(WARMUP_SECONDS)} s warm-up; review ${relative(process.cwd(), reviewFile)} (${String(Buffer.byteLength(body))} bytes), ` +
        `${String(envCounts.length)} containers with ${envCounts.join('/')} env vars, opted in (injected: ${String(checked.response.patch?.length ?? 0)} bytes of base64 patch)`,
    );
    // Kubernetes' own Go test webhook on the same review, in the same run (its own process: its
    // CPU is read from /proc). Its answer: a one-op patch adding a sidecar container.
    const goPeer = await startGoPeer(leaf.certFile, leaf.keyFile);
    const loadGenerator = startLoadGenerator();
    const servers = { bare: bareUrl, webhook: webhookUrl, envelope: envelopeUrl, answer: bareSameAnswerUrl, go: goPeer?.url };
    type Name = keyof typeof servers;
    const rounds: Record<Name, { load: LoadResult; cpuMicros: number; seconds: number }[]> = {
      bare: [],
      webhook: [],
      envelope: [],
      answer: [],
      go: [],
    };
    const forward: Name[] = ['bare', 'webhook', 'envelope', 'answer', 'go'];
    try {
      for (const name of forward) {
        const url = servers[name];
        if (url !== undefined) await loadGenerator.run({ url, body, seconds: WARMUP_SECONDS });
      }
      const seconds = MEASURE_SECONDS / ROUNDS;
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so no server always follows the same one.
        const order = round % 2 === 0 ? forward : [...forward].reverse();
        for (const name of order) {
          const url = servers[name];
          if (url === undefined) continue;
          const goPid = name === 'go' ? goPeer?.child.pid : undefined;
          const cpuBefore = process.cpuUsage();
          const goBefore = goPid === undefined ? 0 : processCpuMicros(goPid);
          const load = await loadGenerator.run({ url, body, seconds });
          const cpu = process.cpuUsage(cpuBefore);
          rounds[name].push({ load, cpuMicros: goPid === undefined ? cpu.user + cpu.system : processCpuMicros(goPid) - goBefore, seconds });
        }
      }
    } finally {
      loadGenerator.stop();
      goPeer?.child.kill('SIGTERM');
      await Promise.all([webhook.close(), envelopeOnly.close(), bare.close(), bareSameAnswer.close()]);
    }

    const b = summarize(rounds.bare);
    const w = summarize(rounds.webhook);
    const e = summarize(rounds.envelope);
    const a = summarize(rounds.answer);
    const line = (label: string, r: Summary): string =>
      `${label.padEnd(52)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   ` +
      `server CPU ${r.cpuMicros.toFixed(0)} µs/review   (${String(r.responses)} answers, ${String(r.failures)} failed)`;
    console.log(line('bare fastify (parse + answer allowed)', b));
    console.log(line('webhook (validate + inject + patch + log + metrics)', w));
    const ratio = w.requestsPerSecond / b.requestsPerSecond;
    const ratioOk = ratio >= TARGET_RATIO;
    const p99Ok = w.p99 < TARGET_P99_MS;
    const clean = w.failures + b.failures === 0;
    console.log(line('  attribution: webhook with the injection precomputed', e));
    console.log(line("  attribution: bare sending the webhook's answer", a));
    console.log(
      `  server CPU over bare: ${(w.cpuMicros - b.cpuMicros).toFixed(0)} µs/review = ${(w.cpuMicros - e.cpuMicros).toFixed(0)} µs injection rules ` +
        `+ ${(e.cpuMicros - a.cpuMicros).toFixed(0)} µs validation, patch encoding, logs, metrics ` +
        `+ ${(a.cpuMicros - b.cpuMicros).toFixed(0)} µs larger answer (TLS, HTTP, kernel) ` +
        `(injectPod alone, in-process loop: ${injectMicros.toFixed(0)} µs/review)`,
    );
    console.log(
      `  ceiling: bare sending the webhook's answer / bare = ${(a.requestsPerSecond / b.requestsPerSecond).toFixed(3)} ` +
        '(the ratio a webhook with free rules and a free envelope would reach)',
    );
    // The target as a CPU budget: the server is CPU-bound on its one event loop, so throughput is
    // 1 / (CPU per review) and a ratio of 0.8 allows bare/0.8 - bare of extra CPU per review.
    const budget = b.cpuMicros / TARGET_RATIO - b.cpuMicros;
    const floor = compareMicros + encodeMicros + logMicros;
    console.log(
      `  budget for ratio ${String(TARGET_RATIO)}: ${budget.toFixed(1)} µs/review over bare (measured: ${(w.cpuMicros - b.cpuMicros).toFixed(0)}); ` +
        `work required whatever the rules cost, hot loop (its best case): compare(original, mutated) ${compareMicros.toFixed(1)} + ` +
        `patch encoding ${encodeMicros.toFixed(1)} + log line ${logMicros.toFixed(1)} = ${floor.toFixed(1)} µs = ${((100 * floor) / budget).toFixed(0)}% of the budget`,
    );
    if (rounds.go.length > 0) {
      const g = summarize(rounds.go);
      console.log(line('Go peer: agnhost webhook /mutating-pods-sidecar', g));
      console.log(
        `  ours next to the Go peer: ${(w.requestsPerSecond / g.requestsPerSecond).toFixed(3)}x its throughput, p99 ${w.p99.toFixed(2)} vs ${g.p99.toFixed(2)} ms; ` +
          `bare fastify floor: ${(b.requestsPerSecond / g.requestsPerSecond).toFixed(3)}x its throughput, p99 ${b.p99.toFixed(2)} ms ` +
          '(the Go peer decodes the Pod and answers a fixed one-op patch; ours runs the injection rules and compare)',
      );
    }
    console.log(`throughput ratio webhook/bare: ${ratio.toFixed(3)} (target >= ${String(TARGET_RATIO)}: ${ratioOk ? 'met' : 'MISSED'})`);
    console.log(`webhook p99: ${w.p99.toFixed(2)} ms (target < ${String(TARGET_P99_MS)} ms: ${p99Ok ? 'met' : 'MISSED'})`);
    if (!clean) console.log('some requests failed: see the counts above');
    process.exitCode = ratioOk && p99Ok && clean ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
