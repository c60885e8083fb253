// One implementation set up to take changes: its own ConfigMap directory (written as kubelet's
// AtomicWriter does), its own target directory and init container's copy, its own Envoy with a probe
// listener, the sidecar if it has one, and the Envoy stand-in that reads what each rename delivers.
// Several can run at once (interleaved mode); an idle one does nothing but wait.
import { appendFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bootstrapYaml, freePorts, startEnvoy, type EnvoyProcess } from '../../test/envoy/envoy.js';
import { AtomicWriter, BOOTSTRAP, EnvoyStandIn, analyzeReloads, ldsProbeBody, publishedText, rssAnonKiB, sha256, xdsFile } from '../../test/sync/harness.js';
import { onCpuMs, runQueueWaitMs } from './cpu-wait.js';
import { PodCpuGroups, podShares } from './pod-cgroups.js';
import { ServedPoller, acceptedLdsVersion, counters, ldsAppliedAt, type Counters } from './envoy-probe.js';
import { waitUntil, type Implementation, type Running } from './implementations.js';
import { filesystemOf, type Roots } from './roots.js';
import type { GcInWindows, Result, Sample } from './result.js';
import type { Scenario } from './scenarios.js';
import { MONOTONIC_OFFSET_MS, type WatcherTrace } from './trace.js';

export const FILES = ['cds.yaml', 'lds.yaml'] as const;
type Before = Record<(typeof FILES)[number], Counters>;

/** Since a swap, ms: waited for a CPU (Envoy + sidecar; the probe), and on a CPU (Envoy; the sidecar). */
interface Waits {
  work: number;
  probe: number;
  envoyCpu: number;
  sidecarCpu: number;
}

/** Envoy's counter of requests its admin listener took (`http.<stat_prefix>.downstream_rq_total`, stat prefix `admin`). */
const ADMIN_REQUESTS = 'http.admin.downstream_rq_total';

export class Setup {
  /** performance.now() just before each version's `..data` rename. */
  private readonly renamedAt = new Map<number, number>();
  /** Position of each version in the run's stream of changes. */
  private readonly seqOf = new Map<number, number>();
  /** Run-queue wait (cpu-wait.ts) before each version's swap: Envoy + sidecar, and this process (the probe). */
  private readonly waitBefore = new Map<number, Waits>();
  private readonly waited = new Map<number, Waits>();
  /** The Pod's CPU cgroups Envoy and the sidecar run in (pod-cgroups.ts), when the machine has them. */
  cpuGroups: PodCpuGroups | undefined;
  /** Envoy's count of admin requests when the first change came. */
  adminAtReady = 0;
  /** ms Envoy and the sidecar had run on a CPU when the first change came. */
  private readonly cpuAtReady: { envoy: number; sidecar: number };
  /** When Envoy applied each version (interleaved; ldsAppliedAt). */
  private readonly applied = new Map<number, number>();
  private rssMax: number | undefined;
  private readonly sampler: NodeJS.Timeout;
  private readonly poller: ServedPoller;
  private closed = false;

  private constructor(
    readonly impl: Implementation,
    private readonly scenario: Scenario,
    /** Versions 0..changes, prepared before the stream so this process does little while it runs. */
    private readonly payloads: Record<string, string>[],
    private readonly writer: AtomicWriter,
    private readonly work: string,
    private readonly dirs: { source: string; target: string; sourceFs: string; targetFs: string },
    private readonly envoy: EnvoyProcess,
    private readonly before: Before,
    private readonly renames: EnvoyStandIn,
    private readonly running: Running | undefined,
    private readonly rssAtReady: number | undefined,
    probePort: number,
  ) {
    this.poller = new ServedPoller(probePort);
    this.cpuAtReady = { envoy: onCpuMs([envoy.process.pid]), sidecar: running === undefined ? 0 : onCpuMs([running.pid]) };
    this.sampler = setInterval(() => {
      const rss = running === undefined ? undefined : rssAnonKiB(running.pid);
      if (rss !== undefined) this.rssMax = Math.max(this.rssMax ?? 0, rss);
    }, 25);
  }

  /** Everything up and Envoy serving version 0; `changes`: how many versions it will be given. */
  static async start(impl: Implementation, scenario: Scenario, roots: Roots, changes: number): Promise<Setup> {
    const work = await mkdtemp(join(roots[scenario.placement], 'envoy-xds-bench-'));
    let envoy: EnvoyProcess | undefined;
    let groups: PodCpuGroups | undefined;
    try {
      const source = join(work, 'source');
      const target = join(work, 'target');
      await mkdir(source);
      await mkdir(target);
      const [probePort] = (await freePorts(1)) as [number];
      const payloads = Array.from({ length: changes + 1 }, (_, version) => ({
        'envoy.yaml': BOOTSTRAP,
        'cds.yaml': xdsFile('cds', version, scenario.cdsBytes),
        'lds.yaml': xdsFile('lds', version, scenario.ldsBytes, { probePort }),
      }));
      const writer = new AtomicWriter(source);
      await writer.write(payloads[0] ?? {});
      // The init container's job: the target starts at version 0.
      if (impl.init !== undefined) impl.init(source, target);
      else if (impl.envoyReads === 'target') for (const file of ['envoy.yaml', ...FILES]) await copyFile(join(source, file), join(target, file));
      const dir = impl.envoyReads === 'target' ? target : source;
      envoy = await startEnvoy({
        bootstrap: {
          text: bootstrapYaml({ cds: join(dir, 'cds.yaml'), lds: join(dir, 'lds.yaml'), ...(impl.envoyReads === 'source' ? { watchedDirectory: source } : {}) }),
        },
        logLevel: 'warning',
        // Replaced listeners close at once instead of draining for 10 minutes.
        args: ['--drain-time-s', '1', '--drain-strategy', 'immediate'],
      });
      await envoy.waitForBody(probePort, ldsProbeBody(0), 60_000);
      // Envoy and the sidecar weighed as a node weighs their containers (pod-cgroups.ts); the sidecar at the injected CPU request.
      groups = PodCpuGroups.create(podShares());
      groups?.place('envoy', envoy.process.pid);
      const before = { 'cds.yaml': await counters(envoy, 'cds.yaml'), 'lds.yaml': await counters(envoy, 'lds.yaml') };
      const renames = await EnvoyStandIn.start(dir, FILES, { watchedDirectory: impl.envoyReads === 'source' });
      const running = await impl.start(source, target, work, envoy.adminUrl.replace(/^http:\/\//, ''));
      if (running !== undefined) groups?.place('sidecar', running.pid);
      const adminAtReady = await envoy.stat(ADMIN_REQUESTS);
      const rssAtReady = running === undefined ? undefined : rssAnonKiB(running.pid);
      const dirs = { source, target, sourceFs: filesystemOf(source), targetFs: filesystemOf(target) };
      const setup = new Setup(impl, scenario, payloads, writer, work, dirs, envoy, before, renames, running, rssAtReady, probePort);
      setup.cpuGroups = groups;
      setup.adminAtReady = adminAtReady;
      return setup;
    } catch (err) {
      await envoy?.stop();
      groups?.close();
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  /** kubelet's swap to `version`; `seq`: its place in the run's stream. */
  async change(version: number, seq = version): Promise<void> {
    this.waitBefore.set(version, this.runQueueWait());
    const at = await this.writer.write(this.payloads[version] ?? {});
    if (at !== undefined) this.renamedAt.set(version, at);
    this.seqOf.set(version, seq);
    this.poller.want(version);
  }

  /** Envoy serves `version` or a newer one. */
  served(version: number): boolean {
    for (const [served] of this.poller.firstServed) if (served >= version) return true;
    return false;
  }

  /**
   * One change in flight at a time (interleaved): call once `version` is served, to record how long
   * the processes doing its work waited for a CPU since its swap.
   */
  servedNow(version: number): void {
    const before = this.waitBefore.get(version);
    if (before === undefined) return;
    const after = this.runQueueWait();
    this.waited.set(version, { work: after.work - before.work, probe: after.probe - before.probe, envoyCpu: after.envoyCpu - before.envoyCpu, sidecarCpu: after.sidecarCpu - before.sidecarCpu });
  }

  /** One change in flight at a time (interleaved): once it is served and judged, ask Envoy when it applied `version`. */
  async readApplied(version: number): Promise<void> {
    const at = await ldsAppliedAt(this.envoy).catch(() => undefined);
    const renamed = this.renamedAt.get(version);
    // Millisecond resolution: an apply within the swap's millisecond reads as up to 1 ms before it.
    if (at !== undefined && renamed !== undefined && at >= renamed - 1) this.applied.set(version, Math.max(at, renamed));
  }

  private runQueueWait(): Waits {
    const sidecar = this.running === undefined ? [] : [this.running.pid];
    const work = [this.envoy.process.pid, ...sidecar];
    return { work: runQueueWaitMs(work), probe: runQueueWaitMs([process.pid]), envoyCpu: onCpuMs([this.envoy.process.pid]), sidecarCpu: onCpuMs(sidecar) };
  }

  /** The sidecar logged Envoy's verdict on `version` (true when it gives none). */
  judged(version: number): boolean {
    if (this.running?.lines === undefined) return true;
    return this.running.lines.some(({ line }) => acceptedLdsVersion(line) === version);
  }

  /** Waits for the last version and for Envoy's counters to settle, stops everything, and says what happened. */
  async finish(): Promise<Result> {
    const { envoy, scenario, poller } = this;
    const last = this.payloads.length - 1;
    // The watcher publishes version_info "N+sha256:..." (one version per content); the others publish it as written.
    const cdsAt = async (version: number) => { const text = await envoy.textStat('cluster_manager.cds.version_text').catch(() => ''); return text === String(version) || text.startsWith(`${String(version)}+sha256:`); };
    await waitUntil(async () => poller.firstServed.has(last) && (await cdsAt(last)), 120_000);
    // Let late or repeated updates show up: the script keeps going after the last version arrived.
    let seen = '';
    let quietSince = Date.now();
    await waitUntil(async () => {
      const now = JSON.stringify([await counters(envoy, 'cds.yaml').catch(() => undefined), await counters(envoy, 'lds.yaml').catch(() => undefined)]);
      if (now !== seen) {
        seen = now;
        quietSince = Date.now();
      }
      return Date.now() - quietSince > 1500;
    }, 60_000);
    clearInterval(this.sampler);
    // The bench's own requests (its waits, a config dump per change) count for every implementation alike.
    const adminPerChange = ((await envoy.stat(ADMIN_REQUESTS).catch(() => Number.NaN)) - this.adminAtReady) / last;
    const cpuPerChange = { envoy: (onCpuMs([envoy.process.pid]) - this.cpuAtReady.envoy) / last, sidecar: this.running === undefined ? undefined : (onCpuMs([this.running.pid]) - this.cpuAtReady.sidecar) / last };
    await poller.stop();
    await this.running?.stop();
    await this.renames.stop();
    const after = { 'cds.yaml': await counters(envoy, 'cds.yaml'), 'lds.yaml': await counters(envoy, 'lds.yaml') };
    const paced = scenario.intervalMs > 0;
    const trace = this.running?.trace?.();
    const samples = paced ? this.samples(last, trace) : [];
    const { torn, stale, lost } = this.delivered(last, paced);
    const lastRenamed = this.renamedAt.get(last);
    const lastServed = poller.firstServed.get(last);
    const verdictLatencies: number[] = [];
    for (const { at, line } of this.running?.lines ?? []) {
      const version = acceptedLdsVersion(line);
      const renamed = version === undefined ? undefined : this.renamedAt.get(version);
      if (renamed !== undefined && paced) verdictLatencies.push(at - renamed);
    }
    await this.close();
    return {
      impl: this.impl.name,
      id: scenario.id,
      scenario: scenario.name,
      mode: 'rounds',
      paced,
      placement: scenario.placement,
      sourceFs: this.dirs.sourceFs,
      targetFs: this.dirs.targetFs,
      changes: last,
      attempts: {
        'cds.yaml': after['cds.yaml'].attempt - this.before['cds.yaml'].attempt,
        'lds.yaml': after['lds.yaml'].attempt - this.before['lds.yaml'].attempt,
      },
      refused: after['cds.yaml'].bad - this.before['cds.yaml'].bad + after['lds.yaml'].bad - this.before['lds.yaml'].bad,
      torn,
      stale,
      lost,
      samples,
      lastServedMs: lastRenamed === undefined || lastServed === undefined ? undefined : lastServed - lastRenamed,
      verdictLatencies,
      gc: trace === undefined || !paced ? undefined : this.gcInWindows(trace),
      rssAnonMaxKiB: this.running === undefined ? undefined : this.rssMax,
      rssAnonReadyKiB: this.rssAtReady,
      cpuPerChangeMs: cpuPerChange,
      adminRequestsPerChange: adminPerChange,
    };
  }

  /** Stops what still runs and removes the directories (also after a failure). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    await this.poller.stop();
    await this.running?.stop();
    await this.renames.stop();
    await this.envoy.stop();
    this.cpuGroups?.close();
    await rm(this.work, { recursive: true, force: true });
  }

  // A change that took longer than the pause to the next one may never be served itself: Envoy (or the
  // watcher) went straight to the newer version. Its latency runs until that newer one is served;
  // leaving it out would leave out exactly the slowest changes, and more of them for the slower
  // implementation (its p90 looked better than the floor's).
  private samples(last: number, trace: WatcherTrace | undefined): Sample[] {
    const { firstServed } = this.poller;
    const servedFrom = new Map<number, number>();
    for (let version = last, first: number | undefined; version >= 1; version--) {
      const own = firstServed.get(version);
      if (own !== undefined) first = first === undefined ? own : Math.min(first, own);
      if (first !== undefined) servedFrom.set(version, first);
    }
    const samples: Sample[] = [];
    for (let version = 1; version <= last; version++) {
      const renamed = this.renamedAt.get(version);
      if (renamed === undefined) continue;
      const served = servedFrom.get(version);
      const waited = this.waited.get(version);
      const sample: Sample = { version, seq: this.seqOf.get(version) ?? version, renamed, served, own: firstServed.has(version), ...(waited === undefined ? {} : { waitedMs: waited.work, probeWaitedMs: waited.probe, envoyCpuMs: waited.envoyCpu, sidecarCpuMs: waited.sidecarCpu }) };
      const applied = this.applied.get(version);
      if (applied !== undefined) sample.applied = applied;
      if (trace !== undefined) this.traced(sample, this.renamedAt.get(version + 1) ?? Infinity, trace);
      samples.push(sample);
      if (process.env.BENCH_DUMP && served !== undefined) process.stderr.write(`${this.impl.name} v${version} ${(served - renamed).toFixed(2)} ms\n`);
      // On the monotonic clock every process shares, to line up with the watcher's or Envoy's own timestamps.
      // Then what the probe saw while it waited: answers with an older version (the last one's time), failed probes.
      if (process.env.BENCH_TIMES && served !== undefined) {
        const probes = this.poller.probesFor.get(version);
        const lastOlder = probes?.lastOlderAt === undefined ? '-' : (probes.lastOlderAt + MONOTONIC_OFFSET_MS).toFixed(3);
        appendFileSync(process.env.BENCH_TIMES, `${this.impl.name} ${this.scenario.id} ${version} ${(renamed + MONOTONIC_OFFSET_MS).toFixed(3)} ${(served + MONOTONIC_OFFSET_MS).toFixed(3)} ${sample.own ? 'own' : 'newer'} ${String(probes?.older ?? 0)} ${lastOlder} ${String(probes?.failed ?? 0)}\n`);
      }
    }
    return samples;
  }

  /** The watcher's own steps for the change whose swap came at `sample.renamed`, before the next swap at `until`. */
  private traced(sample: Sample, until: number, trace: WatcherTrace): void {
    const within = (at: number) => at >= sample.renamed && at < until;
    const notice = trace.notices.find((n) => n.dir === this.dirs.source && within(n.at));
    const renames = trace.renames.filter((r) => within(r.at) && FILES.some((file) => r.to === join(this.dirs.target, file)));
    const verdict = trace.verdicts.find((v) => acceptedLdsVersion(v.line) === sample.version);
    if (notice !== undefined) sample.noticed = notice.at;
    if (renames.length > 0) {
      sample.firstRename = renames[0]?.at;
      sample.lastRename = renames.at(-1)?.at;
    }
    if (verdict !== undefined) sample.verdict = verdict.at;
  }

  /** What each rename Envoy reacted to delivered, by content (as written, and as the watcher publishes it). */
  private delivered(last: number, paced: boolean): { torn: number; stale: number; lost: number } {
    let torn = 0;
    let stale = 0;
    let lost = 0;
    for (const file of FILES) {
      const known = new Map(this.payloads.flatMap((files, version) => [[sha256(files[file] ?? ''), version], [sha256(publishedText(file, files[file] ?? '')), version]] as [string, number][]));
      const stats = analyzeReloads(this.renames.reloadsOf(file), known);
      torn += stats.torn;
      stale += stats.stale;
      const delivered = new Set(stats.delivered);
      if (paced) {
        for (let version = 1; version <= last; version++) if (!delivered.has(version)) lost++;
      } else if (!delivered.has(last)) {
        lost++;
      }
    }
    return { torn, stale, lost };
  }

  private gcInWindows(trace: WatcherTrace): GcInWindows {
    const gc: GcInWindows = { windows: 0, withGc: 0, afterRename: 0, major: 0, minor: 0, forced: 0, ms: 0 };
    for (const { at, line } of trace.verdicts) {
      const version = acceptedLdsVersion(line);
      const renamed = version === undefined ? undefined : this.renamedAt.get(version);
      if (renamed === undefined) continue;
      gc.windows++;
      const inside = trace.gcs.filter((entry) => entry.at >= renamed && entry.at <= at);
      if (inside.length > 0) gc.withGc++;
      // BENCH_GC_DETAIL=1: print each window with a collection in it, its trace lines in order (ms from the swap).
      if (inside.length > 0 && process.env.BENCH_GC_DETAIL) process.stderr.write(windowDetail(trace, renamed, at, version ?? 0));
      // The watcher's first rename into the target for this change: from there on Envoy is judging.
      const firstRename = trace.renames.find((r) => r.at >= renamed && r.at <= at && FILES.some((file) => r.to === join(this.dirs.target, file)))?.at;
      if (firstRename !== undefined && inside.some((entry) => entry.at >= firstRename)) gc.afterRename++;
      for (const entry of inside) {
        if (entry.major) gc.major++;
        else gc.minor++;
        if (entry.forced) gc.forced++;
        gc.ms += entry.ms;
      }
    }
    return gc;
  }
}

/** One rename → verdict window of the trace, a line per event, times in ms from the `..data` rename. */
function windowDetail(trace: WatcherTrace, from: number, to: number, version: number): string {
  const within = (t: number): boolean => t >= from - 1 && t <= to + 5;
  const events: [number, string][] = [
    ...trace.notices.filter((n) => within(n.at)).map((n): [number, string] => [n.at, `notice ${n.dir}`]),
    ...trace.reads.filter(within).map((r): [number, string] => [r, 'read ..data']),
    ...trace.renames.filter((r) => within(r.at)).map((r): [number, string] => [r.at, `rename ${r.to}`]),
    ...trace.gcs.filter((g) => within(g.at)).map((g): [number, string] => [g.at, `gc ${g.major ? 'major' : 'minor'}${g.forced ? ' forced' : ''} ${g.ms.toFixed(2)} ms`]),
    ...trace.verdicts.filter((v) => within(v.at)).map((v): [number, string] => [v.at, `verdict ${v.line.slice(0, 160)}`]),
  ];
  events.sort((a, b) => a[0] - b[0]);
  return `collection in the window of version ${String(version)}:\n${events.map(([t, what]) => `  ${(t - from).toFixed(2)} ${what}`).join('\n')}\n`;
}
