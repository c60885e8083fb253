// Generated AdmissionReviews (reviews.ts) against the real `serve` process over HTTPS, with the
// checks every answer must pass. `npm run fuzz` sends 100,000 (FUZZ_COUNT, FUZZ_SEED to change);
// fuzz.test.ts sends a few thousand inside `npm test`.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { createTestCA } from '../helpers/tls.js';
import { spawnServe } from '../integration/serve-harness.js';
import { fuzzInput, type FuzzInput, type Json } from './reviews.js';

const STATUS = 'envoy-xds-injector.io/status';
const INJECTED_NAMES = ['envoy-xds-copy', 'envoy-xds-watch'];
const INJECTED_VOLUMES = ['envoy-xds-source', 'envoy-xds-config'];

export interface FuzzReport {
  sent: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  byDecision: Record<string, number>;
  /** How many answers failed a check; `failures` holds the first few. */
  failed: number;
  failures: string[];
  rssBeforeKiB: number;
  rssAfterKiB: number;
  seconds: number;
}

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return Number(match?.[1] ?? NaN);
}

function post(url: string, agent: Agent, ca: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json' }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const names = (list: unknown): string[] =>
  (Array.isArray(list) ? list : []).flatMap((x: unknown) => (x !== null && typeof x === 'object' && typeof (x as Json).name === 'string' ? [(x as Json).name as string] : []));
const counts = (list: string[]): Map<string, number> => list.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());

/** The checks on one answer; returns what is wrong, or undefined. Also returns the decision seen. */
export function checkAnswer(input: FuzzInput, status: number, text: string): { problem?: string; decision: string } {
  if (status >= 500) return { problem: `HTTP ${String(status)}: ${text.slice(0, 200)}`, decision: 'error' };
  let answer: Json;
  try {
    answer = JSON.parse(text) as Json;
  } catch {
    return { problem: `HTTP ${String(status)} body is not JSON: ${text.slice(0, 200)}`, decision: 'error' };
  }
  if (status !== 200) {
    if (input.kind === 'valid') return { problem: `a valid review got HTTP ${String(status)}: ${text.slice(0, 300)}`, decision: 'error' };
    return typeof answer.code === 'string' ? { decision: `http-${String(status)}` } : { problem: `HTTP ${String(status)} without an error code: ${text}`, decision: 'error' };
  }
  const response = answer.response as Json | undefined;
  // A "malformed" body can still be JSON (junk inside a string): then it is a review like any other.
  let review = input.review;
  if (review === undefined) {
    try {
      review = JSON.parse(input.body) as Json;
    } catch {
      return { problem: `HTTP 200 for a body that is not JSON`, decision: 'error' };
    }
  }
  const request = review.request as Json | undefined;
  if (request === undefined || response === undefined || response.uid !== request.uid) {
    return { problem: `answer uid ${String(response?.uid)} is not the request's ${String(request?.uid)}`, decision: 'error' };
  }
  if (typeof response.patch !== 'string') return { decision: response.allowed === true ? 'allowed' : 'denied' };
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as jsonPatch.Operation[];
  const pod = structuredClone(request.object) as Json;
  let patched: Json;
  try {
    patched = jsonPatch.applyPatch(pod, patch, true, false).newDocument;
  } catch (err) {
    return { problem: `patch does not apply: ${String(err)}`, decision: 'error' };
  }
  const annotations = (patched.metadata as Json | undefined)?.annotations as Json | undefined;
  if (typeof annotations?.[STATUS] !== 'string') return { problem: 'injected Pod without the status annotation', decision: 'error' };
  const before = request.object as Json;
  const spec = (s: Json): Json => (s.spec ?? {}) as Json;
  for (const [what, get, ours] of [
    ['container', (p: Json) => [...names(spec(p).containers), ...names(spec(p).initContainers)], INJECTED_NAMES],
    ['volume', (p: Json) => names(spec(p).volumes), INJECTED_VOLUMES],
  ] as const) {
    const was = counts(get(before));
    for (const [name, n] of counts(get(patched))) {
      const added = n - (was.get(name) ?? 0);
      if (added > 1 || (ours.includes(name) && n !== 1)) return { problem: `${what} name ${name} not unique after injection`, decision: 'error' };
    }
  }
  return { decision: 'injected' };
}

/** Starts `serve`, sends `count` generated bodies with `concurrency` keep-alive connections, checks every answer. */
export async function runFuzz(opts: { count: number; seed: number; concurrency?: number }): Promise<FuzzReport> {
  const dir = await mkdtemp(join(tmpdir(), 'exi-fuzz-'));
  const ca = await createTestCA(dir);
  const cert = await ca.issue('webhook');
  const server = await spawnServe(['--port', '0', '--host', '127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--drain-delay', '0s']);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 16 });
  const report: FuzzReport = { sent: 0, byStatus: {}, byKind: {}, byDecision: {}, failed: 0, failures: [], rssBeforeKiB: rssKiB(server.pid), rssAfterKiB: 0, seconds: 0 };
  const started = performance.now();
  const bump = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
  try {
    const batch = 1000;
    for (let done = 0; done < opts.count; done += batch) {
      const inputs = fc.sample(fuzzInput, { numRuns: Math.min(batch, opts.count - done), seed: opts.seed + done });
      await Promise.all(
        inputs.map(async (input) => {
          const res = await post(`${server.url}/mutate`, agent, ca.cert, input.body).catch((err: unknown) => ({ status: -1, body: String(err) }));
          report.sent++;
          bump(report.byStatus, String(res.status));
          bump(report.byKind, input.kind);
          const { problem, decision } = checkAnswer(input, res.status, res.body);
          bump(report.byDecision, decision);
          if (problem === undefined) return;
          report.failed++;
          if (report.failures.length < 10) report.failures.push(`${problem}\n  body: ${input.body.slice(0, 500)}`);
        }),
      );
    }
    report.rssAfterKiB = rssKiB(server.pid);
    report.seconds = (performance.now() - started) / 1000;
    const serverErrors = server.logs.lines.filter((l) => (l.level ?? 0) >= 50);
    report.failed += serverErrors.length;
    for (const line of serverErrors.slice(0, 5)) report.failures.push(`server logged an error: ${JSON.stringify(line).slice(0, 500)}`);
    return report;
  } finally {
    agent.destroy();
    server.kill('SIGTERM');
    await server.exit;
    await rm(dir, { recursive: true, force: true });
  }
}

export function printReport(report: FuzzReport, out: (line: string) => void): void {
  out(`sent ${String(report.sent)} reviews in ${report.seconds.toFixed(1)} s (${(report.sent / report.seconds).toFixed(0)}/s)`);
  out(`by input kind: ${JSON.stringify(report.byKind)}`);
  out(`by HTTP status: ${JSON.stringify(report.byStatus)}`);
  out(`by answer: ${JSON.stringify(report.byDecision)}`);
  out(`server RSS: ${(report.rssBeforeKiB / 1024).toFixed(1)} MiB before, ${(report.rssAfterKiB / 1024).toFixed(1)} MiB after`);
  out(`failed checks: ${String(report.failed)}${report.failures.length > 0 ? `\n${report.failures.join('\n')}` : ''}`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const count = Number(process.env.FUZZ_COUNT ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`fuzz: ${String(count)} generated AdmissionReviews against the real serve process (seed ${String(seed)})`);
  const report = await runFuzz({ count, seed });
  printReport(report, (line) => { console.log(line); });
  process.exitCode = report.failed === 0 ? 0 : 1;
}
