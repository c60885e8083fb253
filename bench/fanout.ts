// npm run bench:fanout — what `source: api` costs kube-apiserver when N watchers follow ONE ConfigMap,
// next to the floor (a bare list+watch, nothing of ours), in the same run, on the e2e control plane
// (etcd + kube-apiserver v1.33 on 127.0.0.1, test/e2e/cluster.ts; started and stopped here).
//
// Ours at N: BENCH_SAMPLE (default 3) real `watch --source api` processes with real Envoy, plus
// N - sample ConfigMapWatch objects (the watcher's own list+watch code) in BENCH_FLEET_PROCS (4)
// child processes (bench/fanout-fleet.ts), one ServiceAccount token and one TLS connection each. The apiserver's
// audit log shows the real processes' and the child's requests are the same (printed per run).
// The floor at N: N bare list+watches (node:https) with the same tokens, split the same way.
//
// Per phase (a fresh apiserver each: restarted first, so RSS starts from the same place):
//   rest: apiserver RSS (VmRSS), Go heap in use and goroutines, CPU (/proc utime+stime), with N
//         watchers minus without, per watcher;
//   edits: BENCH_EDITS (20) ConfigMap updates, one at a time: from sending the update to each
//         watcher holding it (the child's receipt; the real watchers' `published` log line),
//         p50/p99/max over all watchers x edits, and the slowest watcher per edit; apiserver CPU
//         per edit (minus the rest rate), watch-event bytes it encoded (apiserver_watch_events_sizes)
//         and bytes it wrote to sockets and files (/proc/PID/io wchar);
//   storm (ours, 1 KiB): the apiserver restarted under N watchers: seconds from the restart until
//         its port answers again, until /readyz says ready, and until each of the N watchers has
//         a watch open again (the audit log's first watch per token; the apiserver's count of open
//         ConfigMap watches would also wait for kube-controller-manager's own reflectors, whose
//         client-go backoff brings them back up to a minute later); the watchers' requests to the new
//         apiserver from the audit log, by status: re-lists (a list without resourceVersion),
//         /readyz probes, and the --api-check lists (resourceVersion=0, from the watch cache),
//         which are no re-lists; then one edit to all N.
// At rest, ours includes what a Pod sends while nothing changes: over HTTP/2 a PING after 30 s of
// silence and the store's metadata GET every 30-45 s, on the watch's connection (over HTTP/1.1,
// `ours-http1`: the --api-check list every 30 s and the store's GET on a connection of their own;
// bench/fanout-fleet.ts); the floor sends nothing, floor-h2 (client-go's transport) its PINGs. The fleet counts the connections its watchers open (and TLS handshakes that resumed).
//
// Knobs: BENCH_N=100,500 (default 100,500,1000; one value = quick mode), BENCH_MIB_N (1 MiB phases'
// N, default 200, capped at the largest N), BENCH_SIZES=1KiB,1MiB, BENCH_EDITS, BENCH_SAMPLE,
// BENCH_REST_S (the at-rest window, default 60: two --api-check periods), BENCH_STORM_GRACE_MS (the
// storm's SIGTERM grace before SIGKILL, default 10000; 0: killed at once), BENCH_STORM=0 (no storm),
// BENCH_PPROF_DIR (the apiserver's heap profile and goroutines per phase, saved there), BENCH_PPROF_RATE,
// BENCH_ROUNDS (the phases this many times over, in turns; ratios per round, median and spread), BENCH_CHURN_S
// (another ConfigMap written this often, all along: BOOKMARKs come then), BENCH_VARIANTS
// (default floor,floor-h2,ours; also ours-bookmarks, floor-h2-go, floor-h2-lean, floor-h2-reflector, floor-h2-start, floor-h2-readyz,
// floor-h2-store, floor-h2-store-late, ours-http1, ours-kept, ours-store-get (ours without copy's handoff of the store),
// ours-rewatch, floor-load: bench/fanout-fleet.ts says what each is;
// the real sample runs only in `ours`, so compare the variants with BENCH_SAMPLE=0; 1 MiB phases run
// only floor, the floor-h2 ones and ours).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { ldsYaml } from '../test/envoy/envoy.js';
import { startCluster, type Cluster } from '../test/e2e/cluster.js';
import { ensureNamespace } from '../test/e2e/api-source.js';
import { plain } from '../test/e2e/objects.js';
import { applyObjects } from '../test/e2e/webhook.js';
import { runCli } from '../test/sync/harness.js';
import { buildApp } from './app.js';
import { allWatches, apiserverPid, auditEvents, establishedTo, auditPolicy, auditTail, configMapWatches, credentialOf, procSample, requestShape, scrape, tokenJti, type AuditEvent, type Metrics } from './fanout-apiserver.js';
import { firstVerdict, handoffText, storeObject } from './fanout-store.js';
import { Fleets, startRealPod, type FleetMessage, type FleetMode, type RealPod } from './fanout-pods.js';

const NAMESPACE = 'bench-fanout';
const SA = 'envoy';
const CM = 'envoy-xds';
const Ns = (process.env.BENCH_N ?? '100,500,1000').split(',').map(Number);
const MAX_N = Math.max(...Ns);
const MIB_N = Math.min(MAX_N, Number(process.env.BENCH_MIB_N ?? 200));
const SIZES = (process.env.BENCH_SIZES ?? '1KiB,1MiB').split(',');
const EDITS = Number(process.env.BENCH_EDITS ?? 20);
const SAMPLE = Math.min(MAX_N, Number(process.env.BENCH_SAMPLE ?? 3));
const FLEET_PROCS = Number(process.env.BENCH_FLEET_PROCS ?? 4);
const SETTLE_MS = 8_000;
const REST_MS = Number(process.env.BENCH_REST_S ?? 60) * 1000;
// The storm's stop: SIGTERM with this grace before SIGKILL (0: killed at once, every connection reset).
const STORM_GRACE_MS = Number(process.env.BENCH_STORM_GRACE_MS ?? 10_000);
// BENCH_STORM=0: no restart storm (the rest and the edits only).
const STORM = process.env.BENCH_STORM !== '0';
// BENCH_CHURN_S: another ConfigMap of the cluster (not the watched one) written this often, all along
// (0: never). A cluster whose ConfigMaps change moves the apiserver's watch cache on, so a watch that
// asked for BOOKMARKs gets one a minute (bench/fanout-bookmarks.ts); an idle e2e cluster writes none.
const CHURN_MS = Number(process.env.BENCH_CHURN_S ?? 0) * 1000;
// BENCH_PPROF_DIR: each phase saves the apiserver's heap profile (after a GC, before the watchers:
// `-base`, and at the end of the rest window) and its goroutines there, as text, per round (`-r0`...);
// go tool pprof reads them given the kube-apiserver binary (the watchers' share: `-diff_base
// DIR/ours-1KiB-1000-r0-base.heap BIN DIR/ours-1KiB-1000-r0.heap`). The apiserver always runs with
// --profiling: every phase forces those GCs and reads their MemStats (the "held" figures).
const PPROF_DIR = process.env.BENCH_PPROF_DIR;
// BENCH_PPROF_RATE: the apiserver's heap profile samples one allocation per this many bytes (Go's
// runtime.MemProfileRate through GODEBUG=memprofilerate; Go's default 524288 leaves a few KiB per
// watcher lost in the sampling). Only with BENCH_PPROF_DIR.
const PPROF_RATE = Number(process.env.BENCH_PPROF_RATE ?? 4096);
// BENCH_ROUNDS: the phases of every N and size this many times over (who goes first alternating),
// so that the floor and ours are measured in turns and the ratio per round has a spread.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const MODES: readonly FleetMode[] = ['ours-bookmarks', 'floor', 'floor-load', 'floor-h2', 'floor-h2-go', 'floor-h2-lean', 'floor-h2-reflector', 'floor-h2-start', 'floor-h2-readyz', 'floor-h2-store', 'floor-h2-store-late', 'ours-http1', 'ours-refused', 'ours-nostore', 'ours-store-cache', 'ours-store-get', 'ours', 'ours-split', 'ours-sync', 'ours-kept', 'ours-rewatch'];
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'floor,floor-h2,ours').split(',').map((v) => {
  if (!MODES.includes(v as FleetMode)) throw new Error(`BENCH_VARIANTS: ${v} is not one of ${MODES.join(', ')}`);
  return v as FleetMode;
});
const now = (): number => performance.timeOrigin + performance.now();
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

/** The ConfigMap's data: an LDS file real Envoy serves (port 0: one listener per Envoy) and padding to `bytes` in all. */
function content(bytes: number, edit: number): Record<string, string> {
  const lds = ldsYaml({ port: 0, body: `edit-${String(edit)}` });
  const pad = Math.max(16, bytes - lds.length - 'lds.yaml'.length - 'padding.txt'.length);
  const line = `edit ${String(edit)} ${'x'.repeat(100)}\n`;
  return { 'lds.yaml': lds, 'padding.txt': line.repeat(Math.ceil(pad / line.length)).slice(0, pad) };
}
const sizeBytes = (size: string): number => (size === '1MiB' ? 1024 * 1024 - 4096 : 1024);

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const r1 = (n: number): number => Math.round(n * 10) / 10;

interface PhaseResult {
  kind: FleetMode; n: number; size: string; load: string;
  /** Which round of BENCH_ROUNDS (0-based). */
  round: number;
  /** Seconds after the restart until the cluster's own watches were all back (before the baseline). */
  systemBackS: number;
  /** The apiserver at the end of the rest window, MiB: RSS, the heap goal of its GC (go_gc_heap_goal_bytes), the heap live after the last GC. */
  rssMiB: number; heapGoalMiB: number; liveMiB: number;
  rssKiBPerWatcher: number; heapKiBPerWatcher: number; liveHeapKiBPerWatcher: number; restAllocKiBPerS: number; goroutinesPerWatcher: number; connectionsPerWatcher: number; restCpuMsPerS: number;
  cpuMsPerEdit: number; eventBytesPerEdit: number; wcharPerEdit: number; eventWritesPerEdit: number;
  p50: number; p99: number; max: number; allNp50: number; allNmax: number; sampleMax: number; missing: number;
  /** Per watcher after a forced GC at the end of the rest window, minus the same before the watchers, KiB: heap live, heap spans in use, goroutine stacks. */
  afterGc: { heapKiB: number; heapInuseKiB: number; stackKiB: number; heapSysKiB: number; gcs: number };
  /** ConfigMap lists and GETs the apiserver received at rest (audit log), per second: mean and the busiest second. */
  restReadsPerS?: { mean: number; max: number };
  /** The fleet processes' longest event-loop delay during the edits, ms (how late the bench itself took receipts). */
  editLoopDelayMaxMs?: number;
  /** Requests per watcher per minute at rest, sent by the fleet (--api-check lists, store GETs), and connections it opened. */
  restRequestsPerMin?: string;
  /** The watchers' requests for the last-accepted store from their start to the rest window (audit log), by verb and status. */
  startStoreRequests?: string;
  /** Connections opened per watcher per minute at rest (the fleet's count). */
  restConnectionsPerMin?: number;
  storm?: {
    settleS: number; openS: number; readyS: number; load: string;
    /** LIST configmaps the new apiserver counted (apiserver_request_total: re-lists and checks). */
    lists: number;
    relists: number; relistCodes: string; relistsBeforeReady: number;
    probes: number; probeCodes: string; checks: number;
    clientLists: number; clientProbes: number; afterP99: number; afterMissing: number;
    /** The fleet processes' longest event-loop delay during the storm, ms (how starved the clients were). */
    clientLoopDelayMaxMs: number;
    /** First watch per watcher on the new apiserver (audit), seconds from the restart; the slowest three's requests. */
    watchOpenS: string; slowest: string[];
    /** Until the apiserver counted all its ConfigMap watches again, kube-controller-manager's included. */
    allWatchesS: number;
  };
  shapes?: { real: string[]; fleet: string[] };
  /** Requests per real watcher per edit during the edits, by verb and resource (audit log): the whole Pod's cost. */
  podRequestsPerEdit?: string;
}

async function main(): Promise<void> {
  console.log(`bench:fanout (node ${process.version}, ${String(cpus().length)} CPUs, load average ${load()}): N = ${Ns.join(', ')}${SIZES.includes('1MiB') ? `; 1 MiB at N = ${String(MIB_N)}` : ''}; ${String(EDITS)} edits; ${String(SAMPLE)} real watchers with Envoy in each N of ours; ${CHURN_MS > 0 ? `another ConfigMap written every ${String(CHURN_MS / 1000)} s` : 'no other ConfigMap written'}`);
  const entry = buildApp('fanout');
  const work = await mkdtemp(join(tmpdir(), 'envoy-xds-fanout-'));
  const auditLog = join(work, 'audit.log');
  await writeFile(join(work, 'audit-policy.json'), auditPolicy(NAMESPACE));
  const cluster = await startCluster({ extraApiServerArgs: [`--audit-policy-file=${join(work, 'audit-policy.json')}`, `--audit-log-path=${auditLog}`, '--profiling=true'], ...(PPROF_DIR === undefined ? {} : { apiServerEnv: { GODEBUG: `memprofilerate=${String(PPROF_RATE)}` } }) });
  const results: PhaseResult[] = [];
  let churn: NodeJS.Timeout | undefined;
  try {
    await ensureNamespace(cluster, NAMESPACE, SA);
    const rbac = await runCli(['rbac', '--namespace', NAMESPACE, '--service-account', SA, '--configmap', CM]);
    if (rbac.code !== 0) throw new Error(`rbac failed: ${rbac.stderr}`);
    await applyObjects(cluster, k8s.loadAllYaml(rbac.stdout));
    await cluster.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: plain<k8s.V1ConfigMap>({ metadata: { name: CM }, data: content(1024, 0) }) });
    if (CHURN_MS > 0) {
      await cluster.core.createNamespacedConfigMap({ namespace: NAMESPACE, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'churn' }, data: { n: '0' } }) });
      let n = 0;
      churn = setInterval(() => {
        n++;
        void cluster.core.replaceNamespacedConfigMap({ name: 'churn', namespace: NAMESPACE, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'churn' }, data: { n: String(n) } }) }).catch(() => undefined);
      }, CHURN_MS);
    }
    const { kubeconfigs, jtis } = await mintKubeconfigs(cluster, work, MAX_N);
    const configPath = join(work, 'fleet.json');
    await writeFile(configPath, JSON.stringify({ server: cluster.server, namespace: NAMESPACE, name: CM, kubeconfigs }));
    let edit = 0;
    const setContent = async (size: string): Promise<{ rv: string; sentAt: number }> => {
      edit++;
      const sentAt = now();
      const cm = await cluster.core.replaceNamespacedConfigMap({ name: CM, namespace: NAMESPACE, body: plain<k8s.V1ConfigMap>({ metadata: { name: CM }, data: content(sizeBytes(size), edit) }) });
      return { rv: cm.metadata?.resourceVersion ?? '', sentAt };
    };

    // The cluster's own watches (kube-controller-manager's reflectors), steady: each phase waits for
    // them after its restart, or those that come back during the phase count as the watchers' cost.
    const systemWatches = await steadyWatches(cluster);
    console.log(`the cluster's own watches at rest: ${String(systemWatches)} (each phase waits for them after restarting the apiserver)`);

    const storeName = `${CM}-envoy-xds-accepted`;
    const runPhase = async (kind: FleetMode, n: number, size: string, round: number): Promise<PhaseResult> => {
      await setContent(size);
      // The store as the workload's earlier Pods left it: the content the phase starts on, accepted (bench/fanout-store.ts).
      const data = content(sizeBytes(size), edit);
      const store = storeObject(NAMESPACE, CM, data, `${NAMESPACE}/envoy-earlier`);
      await cluster.core.replaceNamespacedConfigMap({ name: storeName, namespace: NAMESPACE, body: plain<k8s.V1ConfigMap>(store) });
      await cluster.restartApiServer();
      const t0 = Date.now();
      while (Date.now() - t0 < 120_000 && (await scrape(cluster).then(allWatches, () => 0)) < systemWatches) await sleep(500);
      const systemBackS = r1((Date.now() - t0) / 1000);
      await sleep(SETTLE_MS);
      const pid = apiserverPid(cluster);
      const b0 = procSample(pid);
      await sleep(10_000);
      const b1 = procSample(pid);
      const g0 = await gcStats(cluster, PPROF_DIR, `${kind}-${size}-${String(n)}-r${String(round)}-base`);
      const port = Number(new URL(cluster.server).port);
      const conn0 = establishedTo(port);
      const m0 = await scrape(cluster);
      const baseRate = (b1.cpuMs - b0.cpuMs) / ((b1.at - b0.at) / 1000);
      const since = Date.now();
      // Each Pod's copy read the store's volume just now and hands it to the watcher (`ours`).
      await writeFile(configPath, JSON.stringify({ server: cluster.server, namespace: NAMESPACE, name: CM, kubeconfigs, start: { verdict: firstVerdict(data), handoff: handoffText(store.data, new Date()) } }));
      const fleet = new Fleets(kind, configPath, FLEET_PROCS);
      const pods: RealPod[] = [];
      try {
        const sample = kind === 'ours' ? SAMPLE : 0;
        for (let i = 0; i < sample; i++) {
          pods.push(await startRealPod(cluster, { namespace: NAMESPACE, serviceAccount: SA, configMap: CM, name: `envoy-${String(i)}`, kubeconfig: kubeconfigs[i] ?? '', data, accepted: store.data, entry }));
        }
        const opened = await fleet.open(sample, n);
        if ((opened.failed ?? 0) > 0) throw new Error(`${kind}: ${String(opened.failed)} of ${String(n - sample)} watchers got no list`);
        await waitWatches(cluster, configMapWatches(m0) + n, 120_000);
        await sleep(SETTLE_MS);
        const f0 = await fleet.status();
        const s0 = procSample(pid);
        const mr0 = await scrape(cluster);
        await sleep(REST_MS);
        const s1 = procSample(pid);
        const conn1 = establishedTo(port);
        const f1 = await fleet.status();
        const m1 = await scrape(cluster);
        const g1 = await gcStats(cluster, PPROF_DIR, `${kind}-${size}-${String(n)}-r${String(round)}`);
        const restRate = (s1.cpuMs - s0.cpuMs) / ((s1.at - s0.at) / 1000);
        const heap = (m: Metrics): number => m.sum('go_memstats_heap_inuse_bytes');
        const result: PhaseResult = {
          kind, n, size, round, load: load(), systemBackS,
          rssMiB: r1(s1.rssKiB / 1024), heapGoalMiB: r1(m1.sum('go_gc_heap_goal_bytes') / 1048576), liveMiB: r1(m1.sum('go_gc_heap_live_bytes') / 1048576),
          rssKiBPerWatcher: r1((s1.rssKiB - b1.rssKiB) / n),
          heapKiBPerWatcher: r1((heap(m1) - heap(m0)) / 1024 / n),
          // The heap the last GC found live: what the watchers hold, whatever the point in the GC cycle.
          liveHeapKiBPerWatcher: r1((m1.sum('go_gc_heap_live_bytes') - m0.sum('go_gc_heap_live_bytes')) / 1024 / n),
          restAllocKiBPerS: r1((m1.sum('go_gc_heap_allocs_bytes_total') - mr0.sum('go_gc_heap_allocs_bytes_total')) / 1024 / ((s1.at - s0.at) / 1000)),
          goroutinesPerWatcher: r1((m1.sum('go_goroutines') - m0.sum('go_goroutines')) / n),
          connectionsPerWatcher: r1((conn1 - conn0) / n),
          restCpuMsPerS: r1(restRate - baseRate),
          afterGc: { heapKiB: r1((g1.heapAlloc - g0.heapAlloc) / 1024 / n), heapInuseKiB: r1((g1.heapInuse - g0.heapInuse) / 1024 / n), stackKiB: r1((g1.stackInuse - g0.stackInuse) / 1024 / n), heapSysKiB: r1((g1.heapSys - g1.heapReleased - g0.heapSys + g0.heapReleased) / 1024 / n), gcs: g1.numGc - g0.numGc - 1 },
          ...(kind.startsWith('ours') ? { restRequestsPerMin: restRequests(f0, f1, n - sample, (s1.at - s0.at) / 60_000), restConnectionsPerMin: Math.round(((f1.connections ?? 0) - (f0.connections ?? 0)) / Math.max(1, n - sample) / ((s1.at - s0.at) / 60_000) * 100) / 100 } : {}),
          restReadsPerS: readsPerSecond(auditEvents(auditLog, s0.at), s0.at, s1.at),
          startStoreRequests: storeRequestsAtStart(auditEvents(auditLog, since), storeName, new Set(jtis.slice(0, n)), s0.at),
          cpuMsPerEdit: 0, eventBytesPerEdit: 0, wcharPerEdit: 0, eventWritesPerEdit: 0,
          p50: 0, p99: 0, max: 0, allNp50: 0, allNmax: 0, sampleMax: 0, missing: 0,
        };

        // --- edits, one at a time ------------------------------------------------------------
        const latencies: number[] = [];
        const allN: number[] = [];
        const sampleLat: number[] = [];
        let missing = 0;
        let extraCpu = 0;
        const e0 = procSample(pid);
        const editsSince = Date.now();
        const eventWrites0 = eventWrites(m1);
        await fleet.status(); // resets the fleet's event-loop delay
        for (let i = 0; i < EDITS; i++) {
          const c0 = procSample(pid);
          const { rv, sentAt } = await setContent(size);
          const got = await delivered(fleet, pods, rv, n - sample, 60_000);
          const c1 = procSample(pid);
          extraCpu += c1.cpuMs - c0.cpuMs - restRate * ((c1.at - c0.at) / 1000);
          const lat = got.map((t) => t - sentAt);
          latencies.push(...lat);
          sampleLat.push(...got.slice(got.length - pods.length).map((t) => t - sentAt));
          allN.push(lat.length === n ? Math.max(...lat) : Infinity);
          missing += n - lat.length;
          await sleep(300);
        }
        const e1 = procSample(pid);
        const m2 = await scrape(cluster);
        result.editLoopDelayMaxMs = (await fleet.status()).loopDelayMaxMs ?? 0;
        const sorted = latencies.sort((a, b) => a - b);
        const allSorted = allN.sort((a, b) => a - b);
        Object.assign(result, {
          cpuMsPerEdit: r1(extraCpu / EDITS),
          eventBytesPerEdit: Math.round((eventBytes(m2) - eventBytes(m1)) / EDITS),
          wcharPerEdit: Math.round((e1.wchar - e0.wchar) / EDITS),
          eventWritesPerEdit: r1((eventWrites(m2) - eventWrites0) / EDITS),
          p50: r1(pct(sorted, 50)), p99: r1(pct(sorted, 99)), max: r1(sorted.at(-1) ?? NaN),
          allNp50: r1(pct(allSorted, 50)), allNmax: r1(allSorted.at(-1) ?? NaN),
          sampleMax: r1(Math.max(...sampleLat)), missing,
        });

        if (kind.startsWith('ours') && sample > 0) {
          // --- who is who: the real processes' requests and the fleet's, as the audit log has them ---
          const events = auditEvents(auditLog, since).filter((e) => e.objectRef?.resource === 'configmaps' && e.objectRef.name !== `${CM}-envoy-xds-accepted` && (e.verb === 'list' || e.verb === 'watch'));
          const realJtis = new Set(jtis.slice(0, sample));
          const fleetJtis = new Set(jtis.slice(sample, n));
          const shapes = (set: Set<string>): string[] => [...new Set(events.filter((e) => set.has(credentialOf(e) ?? '')).map(requestShape))].sort();
          result.shapes = { real: shapes(realJtis), fleet: shapes(fleetJtis) };
          const byKind = new Map<string, number>();
          for (const e of auditEvents(auditLog, editsSince)) {
            if (!realJtis.has(credentialOf(e) ?? '') || Date.parse(e.requestReceivedTimestamp) > e1.at) continue;
            const what = `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.name === `${CM}-envoy-xds-accepted` ? ' (last-accepted)' : ''}`;
            byKind.set(what, (byKind.get(what) ?? 0) + 1);
          }
          result.podRequestsPerEdit = [...byKind].map(([k, v]) => `${k} ${(v / (sample * EDITS)).toFixed(2)}`).join(', ');
        }
        if (kind.startsWith('ours')) {
          if (size === '1KiB' && STORM && round === 0) result.storm = await storm(cluster, fleet, pods, n, sample, auditLog, configMapWatches(m0), setContent, jtis);
        }
        return result;
      } finally {
        await fleet.close();
        await Promise.all(pods.map((p) => p.stop()));
      }
    };

    const phases: (readonly [FleetMode, number, string, number])[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const size of SIZES) {
        const list = size === '1MiB' ? [MIB_N] : Ns;
        list.forEach((n, i) => {
          // Alternate who goes first (by N, and by round), so that drift on a shared machine does not favour one side.
          // The variants beside ours and the floor compare the checks at rest: 1 KiB only.
          const kinds = size === '1MiB' ? VARIANTS.filter((k) => k === 'floor' || k === 'ours' || k.startsWith('floor-h2')) : VARIANTS;
          const order = (i + round) % 2 === 0 ? kinds : [...kinds].reverse();
          phases.push(...order.map((kind) => [kind, n, size, round] as const));
        });
      }
    }
    for (const [kind, n, size, round] of phases) {
      const r = await runPhase(kind, n, size, round);
      results.push(r);
      printPhase(r);
    }
  } finally {
    clearInterval(churn);
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  }
  summary(results);
}

async function mintKubeconfigs(cluster: Cluster, dir: string, count: number): Promise<{ kubeconfigs: string[]; jtis: string[] }> {
  const kubeconfigs: string[] = [];
  const jtis: string[] = [];
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, count - i) }, () =>
      cluster.core.createNamespacedServiceAccountToken({ name: SA, namespace: NAMESPACE, body: plain<k8s.AuthenticationV1TokenRequest>({ spec: { expirationSeconds: 4 * 3600, audiences: [] } }) })));
    for (const [j, request] of batch.entries()) {
      const token = request.status?.token ?? '';
      const path = join(dir, `watcher-${String(i + j)}.kubeconfig`);
      await writeFile(path, JSON.stringify({
        apiVersion: 'v1', kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': b64(cluster.ca.cert) } }],
        users: [{ name: SA, user: { token } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: SA, namespace: NAMESPACE } }],
        'current-context': 'e2e',
      }), { mode: 0o600 });
      kubeconfigs.push(path);
      jtis.push(tokenJti(token));
    }
  }
  return { kubeconfigs, jtis };
}

/** The apiserver's count of open watches once it has not changed for 15 s (at most 2 min). */
async function steadyWatches(cluster: Cluster): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (const t0 = Date.now(); Date.now() - t0 < 120_000;) {
    const open = await scrape(cluster).then(allWatches, () => -1);
    if (open !== last) {
      last = open;
      since = Date.now();
    } else if (Date.now() - since >= 15_000) break;
    await sleep(1000);
  }
  return last;
}

async function waitWatches(cluster: Cluster, target: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const open = await scrape(cluster).then(configMapWatches, () => 0);
    if (open >= target) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutMs) throw new Error(`only ${String(open)} of ${String(target)} ConfigMap watches open after ${String(timeoutMs / 1000)} s`);
    await sleep(500);
  }
}

/** What the apiserver's runtime says right after a forced GC (the heap profile's MemStats), bytes. */
interface GcStats { heapAlloc: number; heapInuse: number; stackInuse: number; heapSys: number; heapReleased: number; numGc: number }

/**
 * The apiserver's MemStats right after a forced GC (its heap profile's header: the profile is taken
 * after a GC); with `dir`, the profile and the goroutines as text into `dir`/`name`.{heap,goroutines}.
 */
async function gcStats(cluster: Cluster, dir: string | undefined, name: string): Promise<GcStats> {
  const heap = await cluster.apiGet('/debug/pprof/heap?gc=1&debug=1');
  if (heap.status !== 200) throw new Error(`/debug/pprof/heap answered ${String(heap.status)}`);
  if (dir !== undefined) {
    await mkdir(dir, { recursive: true });
    const goroutines = await cluster.apiGet('/debug/pprof/goroutine?debug=1');
    await writeFile(join(dir, `${name}.heap`), heap.body);
    await writeFile(join(dir, `${name}.goroutines`), goroutines.body);
  }
  const stat = (key: string): number => Number(new RegExp(`^# ${key} = (\\d+)`, 'm').exec(heap.body)?.[1] ?? NaN);
  return { heapAlloc: stat('HeapAlloc'), heapInuse: stat('HeapInuse'), stackInuse: stat('Stack'), heapSys: stat('HeapSys'), heapReleased: stat('HeapReleased'), numGc: stat('NumGC') };
}

/** Epoch ms at which each watcher held `rv`: the child's receipts, then the real watchers' publish times. */
async function delivered(fleet: Fleets, pods: RealPod[], rv: string, fleetCount: number, timeoutMs: number): Promise<number[]> {
  const times = fleetCount > 0 ? ((await fleet.delivered(rv, timeoutMs)).times ?? []) : [];
  const deadline = Date.now() + timeoutMs;
  for (const pod of pods) {
    let at = pod.publishedAt(rv, 2);
    while (at === undefined && Date.now() < deadline) {
      await sleep(20);
      at = pod.publishedAt(rv, 2);
    }
    if (at !== undefined) times.push(at);
  }
  return times;
}

const eventBytes = (m: Metrics): number => m.sum('apiserver_watch_events_sizes_sum', { kind: 'ConfigMap' });
const eventWrites = (m: Metrics): number => m.sum('apiserver_request_total', { resource: 'events', verb: /^(POST|PATCH)$/ });

/** ConfigMap reads (list, get) received in [from, to) by second: mean and the busiest second. */
function readsPerSecond(events: AuditEvent[], from: number, to: number): { mean: number; max: number } {
  const perSecond = new Map<number, number>();
  for (const e of events) {
    const at = Date.parse(e.requestReceivedTimestamp);
    if (at >= to || e.objectRef?.resource !== 'configmaps' || (e.verb !== 'list' && e.verb !== 'get')) continue;
    const second = Math.floor((at - from) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  const total = [...perSecond.values()].reduce((a, b) => a + b, 0);
  return { mean: r1(total / ((to - from) / 1000)), max: Math.max(0, ...perSecond.values()) };
}

/** Per watcher per minute: the fleet's --api-check lists, store GETs and connections opened between two status replies. */
function restRequests(before: FleetMessage, after: FleetMessage, members: number, minutes: number): string {
  const rate = (k: 'checks' | 'bookmarks' | 'silent' | 'storeGets' | 'storeAlone' | 'connections'): string => (((after[k] ?? 0) - (before[k] ?? 0)) / Math.max(1, members) / minutes).toFixed(2);
  const opened = (after.connections ?? 0) - (before.connections ?? 0);
  const resumed = opened === 0 ? 0 : ((after.resumed ?? 0) - (before.resumed ?? 0)) / opened;
  return `checks ${rate('checks')}, BOOKMARKs heard ${rate('bookmarks')}, watches found silent ${rate('silent')}, store GETs ${rate('storeGets')} (on a connection of their own ${rate('storeAlone')}); connections opened ${rate('connections')} (TLS resumed ${(resumed * 100).toFixed(0)} %)`;
}

const codesOf = (events: AuditEvent[]): string => {
  const codes = new Map<number, number>();
  for (const e of events) codes.set(e.responseStatus?.code ?? 0, (codes.get(e.responseStatus?.code ?? 0) ?? 0) + 1);
  return [...codes].sort(([a], [b]) => a - b).map(([c, k]) => `${String(c)}: ${String(k)}`).join(', ') || 'none';
};

async function storm(
  cluster: Cluster, fleet: Fleets, pods: RealPod[], n: number, sample: number, auditLog: string, systemWatches: number,
  setContent: (size: string) => Promise<{ rv: string; sentAt: number }>, tokens: string[],
): Promise<NonNullable<PhaseResult['storm']>> {
  const before = await fleet.status();
  const t0 = Date.now();
  const tail = auditTail(auditLog, t0);
  const events: AuditEvent[] = [];
  // When the new apiserver process answers at all (any HTTP status), as admin.
  const oldPid = apiserverPid(cluster);
  const open: { at?: number; restarting: boolean } = { restarting: true };
  const opened = (async () => {
    while (open.restarting && apiserverPid(cluster) === oldPid) await sleep(50);
    while (open.restarting) {
      if (await cluster.apiGet('/livez').then(() => true, () => false)) {
        open.at = Date.now();
        return;
      }
      await sleep(100);
    }
  })();
  await cluster.restartApiServer(STORM_GRACE_MS);
  const readyAt = Date.now();
  open.restarting = false;
  await opened;
  const openAt = open.at;
  const readyS = (readyAt - t0) / 1000;
  const ours = new Set(tokens.slice(0, n));
  const firstWatch = new Map<string, number>();
  const resumed = (): void => {
    for (const e of tail()) {
      events.push(e);
      const who = credentialOf(e) ?? '';
      const at = Date.parse(e.requestReceivedTimestamp);
      if (ours.has(who) && e.verb === 'watch' && e.objectRef?.resource === 'configmaps' && (e.responseStatus?.code ?? 200) === 200 && at >= readyAt - 5_000 && !firstWatch.has(who)) firstWatch.set(who, at);
    }
  };
  resumed();
  for (const deadline = Date.now() + 120_000; firstWatch.size < n && Date.now() < deadline;) {
    await sleep(2_000);
    resumed();
  }
  await sleep(5_000); // stragglers would show here
  const watchTimes = [...firstWatch.values()].map((at) => (at - t0) / 1000).sort((a, b) => a - b);
  const settleS = firstWatch.size < n ? Infinity : (watchTimes.at(-1) ?? Infinity);
  const allWatchesS = await waitWatches(cluster, systemWatches + n, 120_000).then(() => (Date.now() - t0) / 1000, () => Infinity);
  const m = await scrape(cluster);
  const lists = m.sum('apiserver_request_total', { verb: 'LIST', resource: 'configmaps', scope: /^(namespace|resource)$/ });
  resumed();
  const configMapLists = events.filter((e) => e.verb === 'list' && e.objectRef?.resource === 'configmaps');
  const relists = configMapLists.filter((e) => !e.requestURI.includes('resourceVersion='));
  const probes = events.filter((e) => e.requestURI.startsWith('/readyz'));
  const slowest = [...firstWatch].sort(([, a], [, b]) => b - a).slice(0, 3).map(([who]) => events
    .filter((e) => credentialOf(e) === who)
    .filter((e) => Date.parse(e.requestReceivedTimestamp) <= (firstWatch.get(who) ?? Infinity))
    .map((e) => `${((Date.parse(e.requestReceivedTimestamp) - t0) / 1000).toFixed(1)}s ${e.verb}${e.requestURI.startsWith('/readyz') ? ' /readyz' : e.verb === 'get' ? ' (store)' : e.requestURI.includes('resourceVersion=0') ? ' (api-check)' : ''} ${String(e.responseStatus?.code ?? '?')}`)
    .join(', '));
  const after = await fleet.status();
  const { rv, sentAt } = await setContent('1KiB');
  const got = (await delivered(fleet, pods, rv, n - sample, 60_000)).map((t) => t - sentAt).sort((a, b) => a - b);
  return {
    settleS: r1(settleS), openS: r1(((openAt ?? readyAt) - t0) / 1000), readyS: r1(readyS), load: load(),
    lists,
    relists: relists.length, relistCodes: codesOf(relists),
    // In a cluster, in-cluster clients reach a restarted apiserver through the `kubernetes` Service,
    // whose endpoint comes back once it is ready; here they reach its port at once.
    relistsBeforeReady: relists.filter((e) => Date.parse(e.requestReceivedTimestamp) < readyAt).length,
    probes: probes.length, probeCodes: codesOf(probes), checks: configMapLists.length - relists.length,
    clientLists: (after.lists ?? 0) - (before.lists ?? 0), clientProbes: (after.probes ?? 0) - (before.probes ?? 0),
    clientLoopDelayMaxMs: after.loopDelayMaxMs ?? 0,
    afterP99: r1(pct(got, 99)), afterMissing: n - got.length,
    allWatchesS: r1(allWatchesS),
    watchOpenS: `${String(watchTimes.length)} watchers: p50 ${r1(pct(watchTimes, 50)).toString()} s, p90 ${r1(pct(watchTimes, 90)).toString()} s, max ${r1(watchTimes.at(-1) ?? NaN).toString()} s`,
    slowest,
  };
}

/** The watchers' (`jtis`) requests for the store `name` received before `until` (epoch ms), as `verb status: count`. */
function storeRequestsAtStart(events: AuditEvent[], name: string, jtis: Set<string>, until: number): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.objectRef?.name !== name || !jtis.has(credentialOf(e) ?? '') || Date.parse(e.requestReceivedTimestamp) >= until) continue;
    const key = `${e.verb} ${String(e.responseStatus?.code ?? '?')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, v]) => `${k}: ${String(v)}`).join(', ') || 'none';
}

function printPhase(r: PhaseResult): void {
  const who = {
    ours: `ours  (${String(SAMPLE)} real + ${String(r.n - SAMPLE)} ConfigMapWatch; over HTTP/2: one connection, PINGs; the store from copy's handoff, holding Envoy's first verdict; every edit accepted, so no store read at rest)`,
    'ours-store-get': `ours-store-get  (${String(r.n)} ConfigMapWatch over HTTP/2, as ours without copy's handoff: the store's GET for Envoy's first verdict)`,
    'ours-split': `ours-split  (${String(r.n)} ConfigMapWatch; as released before: the check and the store read each on a connection of its own)`,
    'ours-sync': `ours-sync  (${String(r.n)} ConfigMapWatch; as ours, but each watch's first check one whole period after it opened)`,
    'ours-kept': `ours-kept  (${String(r.n)} ConfigMapWatch; checks and store reads on a kept-alive second connection)`,
    'ours-rewatch': `ours-rewatch  (${String(r.n)} ConfigMapWatch; no checks, each watch ended by the apiserver after 20-40 s and resumed)`,
    floor: 'floor (bare list+watch)',
    'floor-load': 'floor-load (bare list+watch, and as many metadata reads at rest as ours on one kept-alive connection)',
    'floor-h2': 'floor-h2 (bare list+watch as client-go sends it: HTTP/2, a PING after 30 s of silence)',
    'floor-h2-go': 'floor-h2-go (floor-h2 with the SETTINGS and connection window of client-go\'s transport)',
    'floor-h2-lean': 'floor-h2-lean (floor-h2 with no HPACK dynamic table either way, as ours)',
    'floor-h2-start': 'floor-h2-start (floor-h2 starting as ours: /readyz before the list, one store GET)',
    'floor-h2-readyz': 'floor-h2-readyz (floor-h2 with /readyz before the list)',
    'floor-h2-store': 'floor-h2-store (floor-h2 with one store GET within 2 s of the start)',
    'floor-h2-store-late': 'floor-h2-store-late (floor-h2 with one store GET 10-30 s after the start)',
    'floor-h2-reflector': 'floor-h2-reflector (floor-h2 with the reflector\'s watch parameters: allowWatchBookmarks, timeoutSeconds)',
    'ours-nostore': `ours-nostore  (${String(r.n)} ConfigMapWatch over HTTP/2, as ours with no first verdict recorded)`,
    'ours-store-cache': `ours-store-cache  (${String(r.n)} ConfigMapWatch over HTTP/2, as ours with the store's first GET from the watch cache)`,
    'ours-refused': `ours-refused  (${String(r.n)} ConfigMapWatch over HTTP/2, the store read every 30-45 s as while Envoy holds a refusal)`,
    'ours-bookmarks': `ours-bookmarks  (${String(r.n)} ConfigMapWatch over HTTP/1.1: the check until the watch hears a BOOKMARK, none while BOOKMARKs come)`,
    'ours-http1': `ours-http1  (${String(r.n)} ConfigMapWatch over HTTP/1.1, as released before: each period's check and store read on one connection of their own)`,
  }[r.kind];
  console.log(`\n[${r.size} N=${String(r.n)}${ROUNDS > 1 ? ` round ${String(r.round + 1)}/${String(ROUNDS)}` : ''}] ${who}, load ${r.load}; the cluster's own watches back ${String(r.systemBackS)} s after the restart`);
  console.log(`  rest: apiserver at the end: RSS ${String(r.rssMiB)} MiB, GC heap goal ${String(r.heapGoalMiB)} MiB, live after the last GC ${String(r.liveMiB)} MiB`);
  console.log(`  rest: apiserver RSS ${String(r.rssKiBPerWatcher)} KiB/watcher, Go heap in use ${String(r.heapKiBPerWatcher)} KiB/watcher, live after the last GC ${String(r.liveHeapKiBPerWatcher)} KiB/watcher, allocated at rest ${String(r.restAllocKiBPerS)} KiB/s, ${String(r.goroutinesPerWatcher)} goroutines/watcher, ${String(r.connectionsPerWatcher)} TCP connections/watcher, CPU +${String(r.restCpuMsPerS)} ms/s (all ${String(r.n)})`);
  console.log(`  rest, after a forced GC (minus before the watchers): heap live ${String(r.afterGc.heapKiB)} KiB/watcher, heap in use ${String(r.afterGc.heapInuseKiB)} KiB/watcher, goroutine stacks ${String(r.afterGc.stackKiB)} KiB/watcher; heap held from the OS (HeapSys - HeapReleased) ${String(r.afterGc.heapSysKiB)} KiB/watcher, ${String(r.afterGc.gcs)} GCs between the two (the forced one not counted)`);
  console.log(`  edit: apiserver CPU ${String(r.cpuMsPerEdit)} ms, written to sockets and files (wchar) ${(r.wcharPerEdit / 1024).toFixed(0)} KiB, watch events encoded (apiserver_watch_events_sizes) ${(r.eventBytesPerEdit / 1024).toFixed(0)} KiB, Event writes ${String(r.eventWritesPerEdit)}`);
  console.log(`  edit -> watcher: p50 ${String(r.p50)} ms, p99 ${String(r.p99)} ms, max ${String(r.max)} ms; all ${String(r.n)}: median ${String(r.allNp50)} ms, slowest ${String(r.allNmax)} ms; missing ${String(r.missing)}${r.kind === 'ours' && SAMPLE > 0 ? `; real watchers (published) max ${String(r.sampleMax)} ms` : ''}`);
  if (r.shapes !== undefined) {
    const same = JSON.stringify(r.shapes.real) === JSON.stringify(r.shapes.fleet);
    console.log(`  audit log, list/watch requests of the real watchers vs the ConfigMapWatch fleet: ${same ? 'IDENTICAL' : 'DIFFERENT'}`);
    for (const s of r.shapes.real) console.log(`    real:  ${s}`);
    if (!same) for (const s of r.shapes.fleet) console.log(`    fleet: ${s}`);
  }
  if (r.restReadsPerS !== undefined) console.log(`  at rest, ConfigMap lists and GETs the apiserver received (audit log): ${String(r.restReadsPerS.mean)}/s on average, ${String(r.restReadsPerS.max)} in the busiest second; the fleet's event loop during the edits up to ${String(r.editLoopDelayMaxMs ?? 0)} ms late`);
  if (r.startStoreRequests !== undefined && r.kind.startsWith('ours')) console.log(`  start: requests for the last-accepted store, all ${String(r.n)} watchers (audit log): ${r.startStoreRequests}`);
  if (r.restRequestsPerMin !== undefined) console.log(`  at rest, requests per ConfigMapWatch per minute: ${r.restRequestsPerMin} (the floor: none)`);
  if (r.podRequestsPerEdit !== undefined) console.log(`  requests per real watcher per edit (audit log: the watch's event is not a request): ${r.podRequestsPerEdit || 'none'}`);
  if (r.storm !== undefined) {
    const s = r.storm;
    console.log(`  storm (load ${s.load}): apiserver restarted (SIGTERM, SIGKILL after ${String(STORM_GRACE_MS)} ms); its port answered after ${String(s.openS)} s, ready after ${String(s.readyS)} s; all ${String(r.n)} watching again after ${String(s.settleS)} s (${r1(s.settleS - s.readyS).toString()} s after ready; the apiserver's open ConfigMap watches, kube-controller-manager's included, back after ${String(s.allWatchesS)} s)`);
    console.log(`    first watch on the new apiserver (audit): ${s.watchOpenS}`);
    for (const line of s.slowest) console.log(`    slow: ${line}`);
    console.log(`    re-lists (audit) ${String(s.relists)} (${s.relistCodes}; ${String(s.relistsBeforeReady)} before ready); /readyz probes ${String(s.probes)} (${s.probeCodes}); --api-check lists ${String(s.checks)}; LIST configmaps counted by the apiserver ${String(s.lists)}; the fleet sent ${String(s.clientLists)} lists and ${String(s.clientProbes)} probes (its event loop up to ${String(s.clientLoopDelayMaxMs)} ms late); next edit to all: p99 ${String(s.afterP99)} ms, missing ${String(s.afterMissing)}`);
  }
}

function mibWchar(results: PhaseResult[]): number | undefined {
  const r = results.find((p) => p.kind === 'ours' && p.size === '1MiB');
  return r === undefined ? undefined : Math.round(r.wcharPerEdit / 1024);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** What the watchers hold on the apiserver after a forced GC, per watcher, KiB: heap spans in use and goroutine stacks. */
const heldKiB = (r: PhaseResult): number => r.afterGc.heapInuseKiB + r.afterGc.stackKiB;

interface RoundRatios { ratios: number[]; median: number; min: number; max: number }

/** `kind` / `base` of `metric`, round by round (both measured in the same round), with their median and extremes. */
function roundRatios(results: PhaseResult[], size: string, n: number, kind: string, base: string, metric: (r: PhaseResult) => number): RoundRatios | undefined {
  const ratios: number[] = [];
  for (const r of results) {
    if (r.kind !== kind || r.size !== size || r.n !== n) continue;
    const b = results.find((x) => x.kind === base && x.size === size && x.n === n && x.round === r.round);
    if (b !== undefined && metric(b) > 0) ratios.push(Math.round((metric(r) / metric(b)) * 100) / 100);
  }
  if (ratios.length === 0) return undefined;
  return { ratios, median: Math.round(median(ratios) * 100) / 100, min: Math.min(...ratios), max: Math.max(...ratios) };
}

const describeRatios = (r: RoundRatios): string => `median ${r.median.toFixed(2)}x (${r.min.toFixed(2)}-${r.max.toFixed(2)}; ${r.ratios.map((x) => x.toFixed(2)).join(', ')})`;

function summary(results: PhaseResult[]): void {
  console.log('\nsize  N     round who           RSS KiB/w  held KiB/w  live KiB/w  alloc KiB/s  rest ms/s  conn/min  edit CPU ms  wchar KiB/edit  p50 ms  p99 ms  max ms  storm s  lists');
  for (const r of results) {
    console.log([r.size.padEnd(5), String(r.n).padEnd(5), String(r.round).padEnd(5), r.kind.padEnd(13), String(r.rssKiBPerWatcher).padStart(9), r1(heldKiB(r)).toString().padStart(11), String(r.liveHeapKiBPerWatcher).padStart(11), String(r.restAllocKiBPerS).padStart(12), String(r.restCpuMsPerS).padStart(10), String(r.restConnectionsPerMin ?? '').padStart(9), String(r.cpuMsPerEdit).padStart(12), (r.wcharPerEdit / 1024).toFixed(0).padStart(15), String(r.p50).padStart(7), String(r.p99).padStart(7), String(r.max).padStart(7), String(r.storm?.settleS ?? '').padStart(8), String(r.storm?.lists ?? '').padStart(6)].join(' '));
  }
  // The round-0 phase of the largest N at 1 KiB (the storm runs there), and medians over the rounds.
  const top = (kind: string): PhaseResult | undefined => results.filter((r) => r.kind === kind && r.size === '1KiB').sort((a, b) => b.n - a.n || a.round - b.round)[0];
  const ours = top('ours');
  const floor = top('floor');
  const floorH2 = top('floor-h2');
  const across = (kind: string, f: (r: PhaseResult) => number): number | undefined => {
    const n = top(kind)?.n;
    const all = results.filter((r) => r.kind === kind && r.size === '1KiB' && r.n === n).map(f);
    return all.length === 0 ? undefined : r1(median(all));
  };
  const mib = (kind: string): PhaseResult | undefined => results.find((r) => r.kind === kind && r.size === '1MiB');
  console.log(`\neach variant / floor and / floor-h2 per round (each round measures all on fresh apiservers, in turns): apiserver RSS per watcher; held after a forced GC (heap spans in use + goroutine stacks) per watcher`);
  const ratios: Record<string, RoundRatios | undefined> = {};
  for (const size of SIZES) {
    for (const n of size === '1MiB' ? [MIB_N] : Ns) {
      for (const kind of VARIANTS.filter((k) => k !== 'floor')) {
        for (const base of ['floor', 'floor-h2'].filter((b) => b !== kind)) {
          const rss = roundRatios(results, size, n, kind, base, (r) => r.rssKiBPerWatcher);
          const held = roundRatios(results, size, n, kind, base, heldKiB);
          if (rss === undefined || held === undefined) continue;
          console.log(`  ${size} N=${String(n)} ${kind} / ${base}, ${String(rss.ratios.length)} rounds: RSS ${describeRatios(rss)}; held after GC ${describeRatios(held)}`);
          if (kind === 'ours' && size === '1KiB' && n === ours?.n) { ratios[`${base}-rss`] = rss; ratios[`${base}-held`] = held; }
        }
      }
    }
  }
  const spread = (r: RoundRatios | undefined): [number, number] | undefined => (r === undefined ? undefined : [r.min, r.max]);
  console.log(JSON.stringify({
    watchers: ours?.n, rounds: ROUNDS, p99Ms: across('ours', (r) => r.p99), floorP99Ms: across('floor', (r) => r.p99),
    apiserverKiBPerWatcher: across('ours', (r) => r.rssKiBPerWatcher), floorKiBPerWatcher: across('floor', (r) => r.rssKiBPerWatcher),
    kiBRatio: ratios['floor-rss']?.median, kiBRatioSpread: spread(ratios['floor-rss']),
    heldKiBPerWatcher: across('ours', heldKiB), floorHeldKiBPerWatcher: across('floor', heldKiB),
    heldRatio: ratios['floor-held']?.median, heldRatioSpread: spread(ratios['floor-held']),
    floorH2KiBRatio: ratios['floor-h2-rss']?.median, floorH2KiBRatioSpread: spread(ratios['floor-h2-rss']),
    floorH2HeldRatio: ratios['floor-h2-held']?.median, floorH2HeldRatioSpread: spread(ratios['floor-h2-held']),
    heapKiBPerWatcher: ours?.heapKiBPerWatcher, floorHeapKiBPerWatcher: floor?.heapKiBPerWatcher,
    liveHeapKiBPerWatcher: ours?.liveHeapKiBPerWatcher, floorLiveHeapKiBPerWatcher: floor?.liveHeapKiBPerWatcher,
    restCpuMsPerS: ours?.restCpuMsPerS, floorRestCpuMsPerS: floor?.restCpuMsPerS,
    afterGc: ours?.afterGc, floorAfterGc: floor?.afterGc, floorH2AfterGc: floorH2?.afterGc,
    floorH2KiBPerWatcher: floorH2?.rssKiBPerWatcher, floorH2LiveHeapKiBPerWatcher: floorH2?.liveHeapKiBPerWatcher, floorH2RestCpuMsPerS: floorH2?.restCpuMsPerS, floorH2P99Ms: floorH2?.p99,
    editCpuMs: ours?.cpuMsPerEdit, floorEditCpuMs: floor?.cpuMsPerEdit,
    stormSettleS: ours?.storm?.settleS, stormAfterReadyS: ours?.storm === undefined ? undefined : r1(ours.storm.settleS - ours.storm.readyS),
    stormReadyS: ours?.storm?.readyS, stormOpenS: ours?.storm?.openS,
    stormLists: ours?.storm?.relists, stormListsBeforeReady: ours?.storm?.relistsBeforeReady, stormProbes: ours?.storm?.probes,
    restRequestsPerMin: ours?.restRequestsPerMin, restConnectionsPerMin: ours?.restConnectionsPerMin, load: ours?.load, stormLoad: ours?.storm?.load,
    wcharKiBPerEdit: ours === undefined ? undefined : Math.round(ours.wcharPerEdit / 1024), mibWcharKiBPerEdit: mibWchar(results),
    mibWatchers: mib('ours')?.n, mibP99Ms: mib('ours')?.p99, mibFloorP99Ms: mib('floor')?.p99,
    mibEditCpuMs: mib('ours')?.cpuMsPerEdit, mibFloorEditCpuMs: mib('floor')?.cpuMsPerEdit,
  }));
}

await main();
