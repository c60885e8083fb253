// npm run bench:mixed-change — what a change of several files costs `watch`, with real Envoy 1.40:
// from kubelet's `..data` rename to Envoy serving the whole change, for
//   - mixed: each change adds a cluster to cds.yaml and routes lds.yaml's inline route table to it
//     (Envoy refuses the listener if it applies it before the cluster), and
//   - single: each change edits lds.yaml alone (a route header), the cluster file untouched.
// "Serving" is a request through the listener that reaches the upstream through the change's own
// cluster with the change's own route header (the upstream echoes it), on a new connection each
// time, asked continuously from the rename until it is served.
//
// Side by side in one run: the watcher built from this checkout, and with BENCH_BEFORE=<git ref>
// the one built from that revision; rounds alternate between them, each round on a new Envoy
// process (which of Envoy's inotify descriptors it reads first is fixed per process).
// BENCH_CHANGES (per scenario and round, default 20), BENCH_ROUNDS (default 4),
// BENCH_ADMIN_LOAD=N keeps N full `/stats` requests in flight on Envoy's admin API during each
// change (a busy main thread: both renames land before it wakes), BENCH_INTERVAL_MS (default 250).
// Prints p50/p90/p99 ms, Envoy's own count of refused LDS updates and the watcher's waits for Envoy
// that reached their bound, with the load average.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapYaml, freePorts, startEnvoy } from '../test/envoy/envoy.js';
import type { EnvoyProcess } from '../test/envoy/envoy.js';
import { adminLoad, cdsYaml, ldsYaml } from '../test/envoy/mixed-change-files.js';
import { AtomicWriter } from '../test/sync/harness.js';
import { buildApp, buildAppAt } from './app.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? '') || 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '') || 4;
const ADMIN_LOAD = Number(process.env.BENCH_ADMIN_LOAD ?? '') || 0;
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? '') || 250;
const SERVE_TIMEOUT_MS = 10_000;
const SCENARIOS = ['mixed', 'single'] as const;
type Scenario = (typeof SCENARIOS)[number];


/** The body the listener answers with, on a new connection; undefined when nothing answers. */
function ask(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => { resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString() : undefined); });
      res.on('error', () => { resolve(undefined); });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => { resolve(undefined); });
    req.end();
  });
}


interface RoundResult {
  latencies: number[];
  /** Envoy's listener_manager.lds.update_rejected over the round. */
  refused: number;
  /** Changes never served within SERVE_TIMEOUT_MS. */
  missed: number;
  /** The watcher's `Envoy did not show it read ...` lines: waits that reached their bound. */
  boundReached: number;
}

async function round(main: string, scenario: Scenario, upstreamPort: number): Promise<RoundResult> {
  const root = await mkdtemp(join(process.env.BENCH_TMPFS ?? '/dev/shm', 'envoy-xds-mixed-'));
  const source = join(root, 'source');
  const target = join(root, 'target');
  execFileSync('mkdir', ['-p', source, target, join(root, 'envoy')]);
  const [port] = (await freePorts(1)) as [number];
  const bootstrap = bootstrapYaml({ lds: join(target, 'lds.yaml'), cds: join(target, 'cds.yaml'), admin: { port: 0 } });
  const writer = new AtomicWriter(source);
  let envoy: EnvoyProcess | undefined;
  let watcher: ChildProcess | undefined;
  try {
    await writer.write({ 'envoy.yaml': bootstrap, 'cds.yaml': cdsYaml(0, upstreamPort), 'lds.yaml': ldsYaml(port, 'upstream_0', 0) });
    execFileSync(process.execPath, [main, 'copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml'], { stdio: 'pipe' });
    envoy = await startEnvoy({ bootstrap: { path: join(target, 'envoy.yaml') }, workDir: join(root, 'envoy') });
    const admin = envoy.adminUrl.replace(/^http:\/\//, '');
    const ready = join(target, '..envoy-xds-watch.ready');
    watcher = spawn(process.execPath, [main, 'watch', '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml', '--admin', admin], { stdio: ['ignore', 'pipe', 'inherit'] });
    let boundReached = 0;
    createInterface({ input: watcher.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('did not show it read')) boundReached++;
    });
    for (let waited = 0; !existsSync(ready); waited += 10) {
      if (waited > 30_000) throw new Error('watcher never became ready');
      await sleep(10);
    }
    const rejected = () => envoy?.stat('listener_manager.lds.update_rejected') ?? Promise.resolve(0);
    const before = await rejected();
    const result: RoundResult = { latencies: [], refused: 0, missed: 0, boundReached: 0 };
    for (let change = 1; change <= CHANGES; change++) {
      const clusters = scenario === 'mixed' ? change : 0;
      const stopLoad = ADMIN_LOAD > 0 ? adminLoad(envoy, ADMIN_LOAD) : undefined;
      const swapped = await writer.write({ 'envoy.yaml': bootstrap, 'cds.yaml': cdsYaml(clusters, upstreamPort), 'lds.yaml': ldsYaml(port, `upstream_${String(clusters)}`, change) });
      if (swapped === undefined) throw new Error('the ConfigMap did not change');
      let served: number | undefined;
      while (served === undefined && performance.now() - swapped < SERVE_TIMEOUT_MS) {
        if ((await ask(port)) === `upstream ${String(change)}`) served = performance.now();
      }
      await stopLoad?.();
      if (served === undefined) result.missed++;
      else result.latencies.push(served - swapped);
      await sleep(INTERVAL_MS);
    }
    result.refused = (await rejected()) - before;
    result.boundReached = boundReached;
    return result;
  } finally {
    if (watcher?.exitCode === null) {
      const exited = new Promise((resolve) => watcher?.once('exit', resolve));
      watcher.kill('SIGTERM');
      await exited;
    }
    await envoy?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function main(): Promise<void> {
  const impls: { name: string; main: string }[] = [{ name: 'watch', main: buildApp('mixed-change') }];
  if (process.env.BENCH_BEFORE !== undefined) impls.push({ name: `watch@${process.env.BENCH_BEFORE}`, main: buildAppAt(process.env.BENCH_BEFORE) });
  const upstream = createServer((req, res) => res.end(`upstream ${String(req.headers['x-change'] ?? '')}`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const loadStart = loadavg()[0] ?? 0;
  const results = new Map<string, RoundResult[]>();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const scenario of SCENARIOS) {
        for (const impl of r % 2 === 0 ? impls : [...impls].reverse()) {
          process.stderr.write(`round ${String(r + 1)} of ${String(ROUNDS)}: ${impl.name}, ${scenario}\n`);
          const key = `${scenario}\t${impl.name}`;
          results.set(key, [...(results.get(key) ?? []), await round(impl.main, scenario, upstreamPort)]);
        }
      }
    }
  } finally {
    upstream.close();
  }
  const loadEnd = loadavg()[0] ?? 0;
  console.log(`bench:mixed-change: ${String(CHANGES)} changes x ${String(ROUNDS)} rounds (a new Envoy each), ${String(INTERVAL_MS)} ms apart, admin load ${String(ADMIN_LOAD)}; load average ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}; dirs on ${process.env.BENCH_TMPFS ?? '/dev/shm'}`);
  console.log(['scenario', 'implementation', 'p50 ms', 'p90 ms', 'p99 ms', 'Envoy refused lds (per round)', 'not served', 'waits past the bound'].join('\t'));
  for (const [key, rounds] of results) {
    const sorted = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
    console.log([key, percentile(sorted, 50).toFixed(2), percentile(sorted, 90).toFixed(2), percentile(sorted, 99).toFixed(2), `${String(rounds.reduce((sum, r) => sum + r.refused, 0))} (${rounds.map((r) => r.refused).join(' ')})`, String(rounds.reduce((sum, r) => sum + r.missed, 0)), String(rounds.reduce((sum, r) => sum + r.boundReached, 0))].join('\t'));
  }
}

await main();
