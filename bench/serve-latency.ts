// `npm run bench:serve-latency`: one review's round trip through `serve` next to bare responders, with
// no apiserver in between (whose own spread hides differences of 0.1 ms in bench:pod-create).
//
// Starts `serve --config manifests/base/config.yaml` (LOG_LEVEL=info, its log to a file, as in a
// cluster) and two bench/floor-webhook.ts processes: one running the same injection rules and
// answering their patch, one answering `allowed` with no patch. One client sends the
// apiserver-captured review (test/fixtures/admission-review-apiserver.json) to each in turn over its
// own keep-alive connection, one request at a time with BENCH_GAP_MS between requests (the
// apiserver's pattern in bench:pod-create: a review now and then, not a flood), rotating the order
// so background load hits all alike. Prints p50/p90/mean of the round trip per server.
//
// Env: BENCH_N (requests per server, default 1500), BENCH_WARMUP (default 200), BENCH_GAP_MS (default 3).
import { mkdtemp, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../test/e2e/cluster.js';
import { createCA } from '../test/e2e/pki.js';
import { freePorts, removeOnExit, sleep, startProcess, type ManagedProcess } from '../test/e2e/proc.js';
import { cliCommand, SHIPPED_CONFIG } from '../test/e2e/webhook.js';

const N = Number(process.env.BENCH_N ?? 1500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 3);

interface Target {
  label: string;
  port: number;
  agent: Agent;
  ms: number[];
}

function post(target: Target, body: Buffer, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: '/mutate?timeout=5s',
        method: 'POST',
        agent: target.agent,
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) resolve(performance.now() - t0);
          else reject(new Error(`${target.label}: HTTP ${String(res.statusCode)}`));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function waitListening(proc: ManagedProcess, re: RegExp): Promise<void> {
  await proc.waitForLog(re, 60_000);
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-serve-latency-'));
  removeOnExit(dir);
  const ca = await createCA(join(dir, 'pki'));
  const tls = await ca.issue('serve', { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usages: ['server'] });
  // Compact, as the apiserver sends it (the fixture is pretty-printed).
  const fixture = await readFile(join(repoRoot, 'test', 'fixtures', 'admission-review-apiserver.json'), 'utf8');
  const body = Buffer.from(JSON.stringify(JSON.parse(fixture)));
  const [servePort, rulesPort, barePort] = (await freePorts(3)) as [number, number, number];
  const procs: ManagedProcess[] = [];
  try {
    const [cmd, ...cmdArgs] = cliCommand() as [string, ...string[]];
    const serveArgs = ['serve', '--port', String(servePort), '--host', '127.0.0.1', '--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
    const serve = startProcess('serve', cmd, [...cmdArgs, ...serveArgs, '--config', SHIPPED_CONFIG, '--drain-delay', '0s'], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'info' }, // as in manifests/base
      logFile: join(dir, 'serve.log'),
    });
    procs.push(serve);
    const floor = (name: string, port: number): ManagedProcess => {
      const args = ['--import', 'tsx', join(repoRoot, 'bench', 'floor-webhook.ts'), '--port', String(port)];
      args.push('--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--config', SHIPPED_CONFIG);
      const p = startProcess(name, process.execPath, args, { cwd: repoRoot, logFile: join(dir, `${name}.log`) });
      procs.push(p);
      return p;
    };
    const withRules = floor('floor-rules', rulesPort); // rules switched on below
    const bare = floor('floor-bare', barePort);
    await Promise.all([waitListening(serve, /serving admission reviews at/), waitListening(withRules, /listening/), waitListening(bare, /listening/)]);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: rulesPort, path: '/rules/on', method: 'PUT', ca: ca.cert, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) resolve();
          else reject(new Error(`PUT /rules/on: HTTP ${String(res.statusCode)}`));
        });
      });
      req.on('error', reject);
      req.end();
    });

    const agent = (): Agent => new Agent({ keepAlive: true, maxSockets: 1 });
    const targets: Target[] = [
      { label: 'serve (manifests/base/config.yaml, LOG_LEVEL=info)', port: servePort, agent: agent(), ms: [] },
      { label: 'bare node:https + the same rules', port: rulesPort, agent: agent(), ms: [] },
      { label: 'bare node:https, allowed, no patch', port: barePort, agent: agent(), ms: [] },
    ];
    for (let i = 0; i < WARMUP; i++) for (const t of targets) await post(t, body, ca.cert);
    for (let i = 0; i < N; i++) {
      // Rotate the order: each server goes first, second and third equally often.
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(i + k) % targets.length];
        if (t === undefined) continue;
        t.ms.push(await post(t, body, ca.cert));
        await sleep(GAP_MS);
      }
    }
    const out = [
      `bench:serve-latency - one review's round trip, sequential, keep-alive, ${String(GAP_MS)} ms between requests, ${String(N)} per server after ${String(WARMUP)} warm-up`,
      `review: test/fixtures/admission-review-apiserver.json (${String(body.length)} bytes)`,
      '',
      `${''.padEnd(52)}  p50 ms    p90 ms   mean ms`,
      ...targets.map((t) => {
        const sorted = [...t.ms].sort((a, b) => a - b);
        const mean = t.ms.reduce((a, b) => a + b, 0) / t.ms.length;
        return `${t.label.padEnd(52)} ${pct(sorted, 0.5).toFixed(3).padStart(7)}  ${pct(sorted, 0.9).toFixed(3).padStart(8)}  ${mean.toFixed(3).padStart(8)}`;
      }),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const p of procs) await p.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:serve-latency failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
