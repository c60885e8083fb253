// npm run bench:sync — ConfigMap swap to Envoy serving the new version, with real Envoy 1.40, for
// three ways of getting a ConfigMap into Envoy:
//   - `watch` (this project's sidecar) publishing into the emptyDir Envoy reads,
//   - a hand-written `inotify.sh` sidecar doing the same job (bench/peers/inotify.sh, what `watch` replaces),
//   - Envoy's own `watched_directory` pointed at the ConfigMap mount, no sidecar at all (the floor).
// kubelet's AtomicWriter swaps versions of a ConfigMap volume; every LDS version has a probe listener
// answering `lds v<N>` (a direct_response), which a poller in this process asks continuously on a
// new connection each time (an updated listener replaces the old one; kept-alive connections would
// keep seeing the old one).
//
// Prints, per implementation and scenario: what reached Envoy (its update_attempt counters per change
// per file, the loads it refused: every version written is valid, so a refused load is a torn read;
// torn/stale/lost from what each rename Envoy reacts to delivered, read by an inotifywait stand-in at
// that moment, as Envoy does) and the watcher's anonymous RSS; swap → served p50/p90/p99/max, next to
// how many changes a stall of the machine overlapped (stalls.ts) and the figures without them; in the
// interleaved small scenario, each implementation against watched_directory change by change; the
// watcher's own steps per change (trace.ts); swap → verdict, and garbage collections in that window.
// Bounded in time: every wait has a deadline. The parts: bench/sync/ (setup, modes, report, ...).
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { envoyBinary } from '../test/envoy/envoy.js';
import { buildApp, buildAppAt } from './app.js';
import { defaultConfig } from '../src/inject/config.js';
import { parseQuantity } from '../src/inject/quantity.js';
import { WATCHER_ENV, inotifyScriptImplementation, watchedDirectoryImplementation, watcherImplementation } from './sync/implementations.js';
import { runInterleaved, runRounds } from './sync/modes.js';
import { FLOOR, appliedOf, deliveryTable, latenciesAround, latencyTable, pairedTable, stallSummary, stepsTable } from './sync/report.js';
import { latencies, perChange, percentile, type Result } from './sync/result.js';
import { filesystemOf, findRoots } from './sync/roots.js';
import { SCENARIOS } from './sync/scenarios.js';
import { startStallMonitor } from './sync/stalls.js';
import { envoyCpuRequestMilli, podShares, sidecarCpuRequestMilli } from './sync/pod-cgroups.js';

async function main(): Promise<void> {
  const started = performance.now();
  const envoy = await envoyBinary();
  const watcher = watcherImplementation(buildApp());
  const script = inotifyScriptImplementation();
  const floor = watchedDirectoryImplementation();
  const results: Result[] = [];
  // BENCH_ONLY=small,steady,burst,steady-disk and BENCH_IMPL=watch|inotify|envoy narrow a run while investigating.
  const only = process.env.BENCH_ONLY?.split(',');
  // BENCH_CHANGES=N: N changes per implementation in every scenario (a short run while investigating).
  const changes = Number(process.env.BENCH_CHANGES ?? '') || undefined;
  const scenarios = SCENARIOS.filter((s) => only === undefined || only.includes(s.id)).map((s) => ({ ...s, changes: changes ?? s.changes }));
  // BENCH_BEFORE=<git ref>: the watcher as built from that revision runs too, as `watch@<ref>`, in
  // the same stream (a before/after comparison under the same load).
  const before = process.env.BENCH_BEFORE === undefined ? [] : [watcherImplementation(buildAppAt(process.env.BENCH_BEFORE), `watch@${process.env.BENCH_BEFORE}`)];
  const impls = [watcher, ...before, script, floor].filter((i) => i.name.startsWith(process.env.BENCH_IMPL ?? ''));
  // BENCH_MODE=interleaved|rounds: how the implementations take turns (scenarios.ts); BENCH_ROUNDS=N alone means rounds.
  const modeAsked = process.env.BENCH_MODE;
  if (modeAsked !== undefined && modeAsked !== 'interleaved' && modeAsked !== 'rounds') throw new Error(`BENCH_MODE=${modeAsked}: interleaved or rounds`);
  const seed = Number(process.env.BENCH_SEED ?? '') || Math.floor(Math.random() * 2 ** 31);
  const roots = await findRoots();
  const stallLog = join(roots.memory, `envoy-xds-bench-stalls-${String(process.pid)}.log`);
  const stallMs = Number(process.env.BENCH_STALL_MS ?? '') || 10;
  const monitor = startStallMonitor(stallLog, stallMs);
  const measuring = performance.now();
  try {
    for (const scenario of scenarios) {
      const mine = impls.filter((impl) => scenario.impls === undefined || scenario.impls.includes(impl.name.replace(/@.*$/, '')));
      const mode = modeAsked ?? (process.env.BENCH_ROUNDS === undefined ? scenario.mode ?? 'rounds' : 'rounds');
      // One change in flight at a time needs a pause between changes: a burst stays in rounds.
      if (mode === 'interleaved' && scenario.intervalMs > 0) {
        results.push(...(await runInterleaved(scenario, mine, roots, seed)));
      } else {
        // BENCH_ROUNDS: more, shorter rounds, so that a burst of load from other jobs (seconds long) falls on each implementation alike.
        results.push(...(await runRounds(scenario, mine, roots, Number(process.env.BENCH_ROUNDS ?? '') || (scenario.rounds ?? 1))));
      }
    }
  } finally {
    await monitor.stop();
    await roots.cleanUp();
  }
  const stalls = monitor.stalls();
  await rm(stallLog, { force: true });
  const version = execFileSync(envoy, ['--version'], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  console.log(`\nbench:sync (node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(`Envoy: ${envoy} (${version.replace(/^.*version: /, '')}), --concurrency 1`);
  console.log(`deployed (ConfigMap volume + emptyDir medium: Memory): source and target under ${roots.memoryNote}, ${filesystemOf(roots.memory)}`);
  const shares = podShares();
  console.log(
    process.env.BENCH_POD_CGROUPS !== '1'
      ? 'CPU: every process in one cgroup: the sidecar weighs as much as Envoy (BENCH_POD_CGROUPS=1: as the kubelet weighs them)'
      : `CPU: each Envoy and sidecar in a Pod's container cgroups as the kubelet makes them (cgroup v1 cpu.shares: Envoy ${String(shares.envoy)} for a ${String(envoyCpuRequestMilli())}m request, BENCH_ENVOY_CPU_REQUEST_M; sidecar ${String(shares.sidecar)} for the injected ${String(sidecarCpuRequestMilli())}m)`,
  );
  console.log(`on disk (extra scenario, not deployed): source and target under ${roots.disk}, ${filesystemOf(roots.disk)}`);
  const env = Object.entries(WATCHER_ENV).map(([name, value]) => `${name}="${value}"`).join(' ');
  console.log(`watcher: ${env} node dist/cli/main.js watch`);
  if (results.some((r) => r.mode === 'interleaved')) console.log(`interleaved: every implementation set up at once, one change in flight at a time, in a random order balanced per block (BENCH_SEED=${String(seed)})`);
  console.log(stallSummary(stalls, stallMs, performance.now() - measuring));
  console.log('');
  console.log(deliveryTable(results));
  console.log('\nswap → served: from kubelet\'s ..data rename to Envoy first serving that version or a newer one (served newer first: changes Envoy never served themselves, counted until the newer one was served); during a stall: changes whose swap → served overlapped a stall of the machine');
  console.log('GC in swap → verdict: changes in whose window (..data rename → the watcher writes its lds.yaml verdict line) the watcher started a garbage collection / changes with a verdict (of them, with one after the watcher\'s first rename); those collections, their time');
  console.log(latencyTable(results, stalls));
  const paired = pairedTable(results, stalls);
  if (paired !== undefined) console.log(`\npaired (interleaved): each change against the floor's change in the same block; difference = ours − floor's swap → served; faster in: blocks where ours was faster\n${paired}`);
  const steps = stepsTable(results);
  if (steps !== undefined) console.log(`\nthe watcher's steps per change, p50 / p90 ms (its own timestamps; swap → served counts changes served only through a newer one, last rename → served does not)\n${steps}`);
  // Latency targets are judged on the deployed configuration; correctness and memory everywhere.
  const row = (id: string, name: string) => results.find((r) => r.impl === name && r.id === id);
  const p = (r: Result | undefined, at: number) => (r === undefined ? undefined : percentile(latencies(r), at));
  const pClear = (r: Result | undefined, at: number) => (r === undefined ? undefined : percentile(latenciesAround(r, stalls, false), at));
  const pApplied = (r: Result | undefined) => (r === undefined ? undefined : percentile(appliedOf(r), 90));
  const steadyWatch = row('steady', 'watch');
  const steadyScript = row('steady', script.name);
  const steadyFloor = row('steady', FLOOR);
  const smallWatch = row('small', 'watch');
  const smallFloor = row('small', FLOOR);
  const watchRows = results.filter((r) => r.impl === 'watch');
  // The limit the webhook gives the watch container by default (src/inject/config.ts).
  const limitMiB = (parseQuantity(defaultConfig('bench').resources.memoryLimit) ?? 0) / 2 ** 20;
  const within = (ours: number | undefined, theirs: number | undefined, ms: number) => (ours === undefined || theirs === undefined ? undefined : ours <= theirs + ms);
  const checks: [string, boolean | undefined][] = [
    ['watch: 0 torn / stale / lost, 0 loads refused by Envoy (all scenarios)', watchRows.every((r) => r.torn === 0 && r.stale === 0 && r.lost === 0 && r.refused === 0)],
    [
      'watch: exactly 1 Envoy update per changed file per change (steady, small), at most 1 (burst)',
      watchRows.every((r) => perChange(r).every((n) => (r.paced ? n === 1 : n <= 1))),
    ],
    [
      `watch: small p90 within 3 ms of watched_directory's, all changes (${p(smallWatch, 90)?.toFixed(2) ?? '-'} vs ${p(smallFloor, 90)?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      within(p(smallWatch, 90), p(smallFloor, 90), 3),
    ],
    [
      `watch: small p90 within 3 ms of watched_directory's, changes no stall overlapped (${pClear(smallWatch, 90)?.toFixed(2) ?? '-'} vs ${pClear(smallFloor, 90)?.toFixed(2) ?? '-'} ms)`,
      within(pClear(smallWatch, 90), pClear(smallFloor, 90), 3),
    ],
    [
      `watch: small swap → Envoy applied p90 within 3 ms of watched_directory's (${pApplied(smallWatch)?.toFixed(2) ?? '-'} vs ${pApplied(smallFloor)?.toFixed(2) ?? '-'} ms; without the new listener's way to Envoy's worker)`,
      within(pApplied(smallWatch), pApplied(smallFloor), 3),
    ],
    [
      'watch: no garbage collection between a ..data rename and its verdict (small)',
      smallWatch?.gc === undefined ? undefined : smallWatch.gc.withGc === 0,
    ],
    [
      "watch: no garbage collection between the watcher's rename and its verdict (small)",
      smallWatch?.gc === undefined ? undefined : smallWatch.gc.afterRename === 0,
    ],
    [
      `watch: steady p99 within 5 ms of watched_directory's (${p(steadyFloor, 99)?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      within(p(steadyWatch, 99), p(steadyFloor, 99), 5),
    ],
    [
      `watch: steady p99 <= half inotify.sh's (${p(steadyScript, 99)?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      steadyWatch === undefined || steadyScript === undefined ? undefined : (p(steadyWatch, 99) ?? Infinity) <= (p(steadyScript, 99) ?? 0) / 2,
    ],
    [
      'watch: swap → Envoy\'s verdict p99 < 1000 ms (steady, small)',
      watchRows.filter((r) => r.paced).every((r) => (percentile(r.verdictLatencies, 99) ?? Infinity) < 1000),
    ],
    [
      `watch: RssAnon max leaves >= 30 % of the injected memory limit (${limitMiB.toFixed(0)} MiB; the cgroup charge also counts file pages: npm run bench:verdict with BENCH_CGROUP=1)`,
      watchRows.every((r) => (r.rssAnonMaxKiB ?? Infinity) <= 0.7 * limitMiB * 1024),
    ],
  ];
  console.log('');
  // A check whose rows this run did not have (BENCH_ONLY, BENCH_IMPL) is not judged.
  for (const [what, ok] of checks) console.log(`${ok === undefined ? 'n/a ' : ok ? 'PASS' : 'MISS'}  ${what}`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
