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
// Prints, per implementation and scenario: p50/p99 from the `..data` rename to Envoy first serving
// that version; Envoy's update attempts per change per file (its update_attempt counters) and the
// loads it refused (update_rejected + update_failure: every version written is valid, so a refused
// load is a torn read); torn/stale/lost from what each rename Envoy reacts to delivered (an
// inotifywait stand-in reads the file at that moment, as Envoy does: torn = not a complete version,
// stale = a version already delivered or older, lost = steady: a version never delivered, burst: the
// last one never delivered); the watcher's anonymous RSS (/proc/PID/status RssAnon); and, once the
// watcher logs Envoy's verdicts, swap → verdict.
// Bounded in time: every wait has a deadline.
//
// Where the directories live matters (fsync). The targets are judged on what the injector deploys:
// the ConfigMap volume (kubelet: tmpfs) and the memory-backed `envoy-xds-config` emptyDir, so both
// directories go on a tmpfs. The same stream on the disk is a labelled extra scenario.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapYaml, envoyBinary, freePorts, startEnvoy, type EnvoyProcess } from '../test/envoy/envoy.js';
import { AtomicWriter, BOOTSTRAP, EnvoyStandIn, analyzeReloads, ldsProbeBody, publishedText, repoRoot, rssAnonKiB, sha256, xdsFile } from '../test/sync/harness.js';
import { buildApp } from './app.js';
import { defaultConfig } from '../src/inject/config.js';
import { parseQuantity } from '../src/inject/quantity.js';

/** What the injected watcher container should run with (see docs/sync.md, "Memory"). */
const WATCHER_ENV: Record<string, string> = {
  NODE_OPTIONS: process.env.WATCHER_NODE_OPTIONS ?? '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1',
  // glibc: one malloc arena, and give freed memory back to the kernel instead of keeping it.
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_TOP_PAD_: '0',
};
/** The peer script, kept verbatim in the repository. */
const INOTIFY_SH = join(repoRoot, 'bench', 'peers', 'inotify.sh');
const FILES = ['cds.yaml', 'lds.yaml'] as const;

/** Where a scenario's source and target directories live. */
type Placement = 'memory' | 'disk';

interface Scenario {
  /** For BENCH_ONLY (a comma-separated list of ids). */
  id: string;
  name: string;
  placement: Placement;
  changes: number;
  /** Pause between two kubelet swaps; 0 = back to back. */
  intervalMs: number;
  cdsBytes: number;
  ldsBytes: number;
}

const SCENARIOS: Scenario[] = [
  { id: 'steady', name: 'steady: 200 changes, 1 per 50 ms, 16+8 KiB', placement: 'memory', changes: 200, intervalMs: 50, cdsBytes: 16 * 1024, ldsBytes: 8 * 1024 },
  // Real Envoy spends ~0.1-0.4 s of CPU on each 256+64 KiB update here: 100 changes, not 500.
  { id: 'burst', name: 'burst: 100 changes back to back, 256+64 KiB', placement: 'memory', changes: 100, intervalMs: 0, cdsBytes: 256 * 1024, ldsBytes: 64 * 1024 },
  { id: 'steady-disk', name: 'steady on disk: as steady, dirs on the node disk', placement: 'disk', changes: 200, intervalMs: 50, cdsBytes: 16 * 1024, ldsBytes: 8 * 1024 },
];

// statfs f_type values (linux/magic.h) of the filesystems this is likely to meet.
const FS_TYPES: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x6a656a63: 'fakeowner',
};
const TMPFS_MAGIC = 0x01021994;

function filesystemOf(path: string): string {
  const { type } = statfsSync(path);
  return FS_TYPES[type] ?? `0x${type.toString(16)}`;
}

// Big enough for a burst scenario's 500 versions in flight (kubelet deletes the old ones).
const TMPFS_BYTES_NEEDED = 256 * 1024 * 1024;

interface Roots {
  memory: string;
  disk: string;
  /** Printed in the header: how the memory-backed root was found, or why there is none. */
  memoryNote: string;
  cleanUp: () => Promise<void>;
}

/**
 * A tmpfs for the deployed configuration: /dev/shm if it is one with room, else a tmpfs mounted for
 * the run (root only), else the disk with a note saying so.
 */
async function findRoots(): Promise<Roots> {
  const disk = tmpdir();
  const none = (): Promise<void> => Promise.resolve();
  const shm = process.env.BENCH_TMPFS ?? '/dev/shm';
  try {
    const info = statfsSync(shm);
    if (info.type === TMPFS_MAGIC && info.bavail * info.bsize >= TMPFS_BYTES_NEEDED) {
      const probe = await mkdtemp(join(shm, 'envoy-xds-bench-probe-'));
      await rmdir(probe);
      return { memory: shm, disk, memoryNote: shm, cleanUp: none };
    }
  } catch {
    // not there or not writable: try mounting one
  }
  if (process.getuid?.() === 0) {
    const mountPoint = await mkdtemp(join(disk, 'envoy-xds-bench-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES_NEEDED},mode=0700`, 'envoy-xds-bench', mountPoint], { stdio: 'pipe' });
      return {
        memory: mountPoint,
        disk,
        memoryNote: `${mountPoint} (a tmpfs mounted for this run: ${shm} is not a writable tmpfs with room)`,
        cleanUp: async () => {
          execFileSync('umount', [mountPoint], { stdio: 'pipe' });
          await rmdir(mountPoint);
        },
      };
    } catch {
      await rmdir(mountPoint).catch(() => undefined);
    }
  }
  return {
    memory: disk,
    disk,
    memoryNote: `${disk} (NOTE: no tmpfs available, the "memory-backed" scenarios ran on the disk; figures are not the deployed configuration)`,
    cleanUp: none,
  };
}

interface Running {
  pid: number;
  stop: () => Promise<void>;
  /** Lines the process wrote on stdout, with performance.now() at arrival (the watcher's log). */
  lines?: { at: number; line: string }[];
}

interface Implementation {
  name: string;
  /** Where Envoy reads cds.yaml/lds.yaml: the emptyDir the sidecar publishes into, or the ConfigMap mount. */
  envoyReads: 'target' | 'source';
  /** `admin`: the running Envoy's admin address (HOST:PORT), for the watcher's verdict. */
  start: (source: string, target: string, work: string, admin: string) => Promise<Running | undefined>;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  process.kill(-child.pid, 'SIGTERM'); // the process group we created: the script is sh + inotifywait
  return exited;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function watcherImplementation(main: string): Implementation {
  return {
    name: 'watch',
    envoyReads: 'target',
    async start(source, target, _work, admin) {
      const ready = join(target, '..envoy-xds-watch.ready');
      // The bootstrap in the ConfigMap says admin port 0 (Envoy picks one): tell the watcher which.
      const child = spawn(process.execPath, [main, 'watch', '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml', '--admin', admin], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
        env: { ...process.env, ...WATCHER_ENV, LOG_LEVEL: process.env.BENCH_DUMP ? 'debug' : 'info' },
      });
      const lines: { at: number; line: string }[] = [];
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push({ at: performance.now(), line }));
      if (!(await waitUntil(() => existsSync(ready), 30_000))) throw new Error('watcher never became ready');
      return { pid: child.pid ?? -1, stop: () => stopGroup(child), lines };
    },
  };
}

/** bench/peers/inotify.sh, verbatim except its hard-coded writable directory /tmp. */
function inotifyScriptImplementation(): Implementation {
  const script = readFileSync(INOTIFY_SH, 'utf8');
  return {
    name: 'inotify.sh',
    envoyReads: 'target',
    async start(source, target, work) {
      const path = join(work, 'inotify.sh');
      await writeFile(path, script.replaceAll('/tmp/', `${target}/`));
      // As its sidecar runs it: `sh /tmp/inotify.sh /configs`.
      const child = spawn('sh', [path, source], { stdio: 'ignore', detached: true });
      await sleep(1000); // inotifywait -q prints nothing when its watches are up
      return { pid: child.pid ?? -1, stop: () => stopGroup(child) };
    },
  };
}

/**
 * Envoy's own `watched_directory` (PathConfigSource): Envoy reads cds.yaml/lds.yaml through the
 * ConfigMap mount's symlinks and reloads both on any rename into the mount (kubelet's `..data`).
 */
function watchedDirectoryImplementation(): Implementation {
  return { name: 'envoy watched_directory', envoyReads: 'source', start: () => Promise.resolve(undefined) };
}

/**
 * Asks Envoy's probe listener for its body, one new connection per request, from the moment a
 * version is wanted until Envoy serves it (or a newer one), then idles: a poller spinning all the
 * time would take CPU from Envoy and the sidecar on a small machine. Records when each version's
 * body was first served.
 */
class ServedPoller {
  readonly firstServed = new Map<number, number>();
  private newest = -1;
  private wanted = -1;
  private running = true;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly port: number) {
    this.loop = this.run();
  }

  /** Poll until version `version` (or a newer one) is served. */
  want(version: number): void {
    this.wanted = Math.max(this.wanted, version);
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.newest >= this.wanted) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const body = await probe(this.port);
      const at = performance.now();
      const version = body === undefined ? undefined : /^lds v(\d+)$/.exec(body)?.[1];
      if (version === undefined) {
        await sleep(1);
        continue;
      }
      const n = Number(version);
      if (!this.firstServed.has(n)) this.firstServed.set(n, at);
      this.newest = Math.max(this.newest, n);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}

/** One HTTP/1.1 GET over a fresh TCP connection; the body, or undefined on any error. */
function probe(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.end('GET / HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n');
    });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => { resolve(undefined); });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve(text.startsWith('HTTP/1.1 200') && split >= 0 ? text.slice(split + 4) : undefined);
    });
  });
}

const SUBSCRIPTIONS = { 'cds.yaml': 'cluster_manager.cds', 'lds.yaml': 'listener_manager.lds' } as const;

interface Counters {
  attempt: number;
  bad: number;
}

async function counters(envoy: EnvoyProcess, file: keyof typeof SUBSCRIPTIONS): Promise<Counters> {
  const prefix = SUBSCRIPTIONS[file];
  const stats = await envoy.stats(`^${prefix.replace(/[.]/g, '\\.')}\\.update_`);
  const get = (name: string) => stats.get(`${prefix}.update_${name}`) ?? 0;
  return { attempt: get('attempt'), bad: get('rejected') + get('failure') };
}

// `watch` logs one line per Envoy verdict (docs/sync.md): {"event":"verdict","file":"lds.yaml",
// "outcome":"accepted","xdsVersion":"N",...}; xdsFile() writes version_info "N", which the watcher
// keeps as the user's. Returns N for an accepted lds.yaml, else undefined: swap → verdict per version.
function acceptedLdsVersion(line: string): number | undefined {
  if (!line.includes('"verdict"')) return undefined;
  try {
    const entry = JSON.parse(line) as { event?: string; file?: string; outcome?: string; xdsVersion?: string };
    if (entry.event !== 'verdict' || entry.file !== 'lds.yaml' || entry.outcome !== 'accepted') return undefined;
    const version = Number(entry.xdsVersion);
    return Number.isInteger(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

interface Result {
  impl: string;
  scenario: string;
  placement: Placement;
  /** Filesystems of the source and target directories (statfs type). */
  sourceFs: string;
  targetFs: string;
  /** Envoy's update_attempt per change, per file. */
  attemptsPerChange: Record<keyof typeof SUBSCRIPTIONS, number>;
  /** Loads Envoy refused (update_rejected + update_failure). */
  refused: number;
  torn: number;
  stale: number;
  lost: number;
  p50: number | undefined;
  p99: number | undefined;
  lastServedMs: number | undefined;
  verdictP50: number | undefined;
  verdictP99: number | undefined;
  rssAnonMaxKiB: number | undefined;
  rssAnonReadyKiB: number | undefined;
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runScenario(impl: Implementation, scenario: Scenario, roots: Roots): Promise<Result> {
  const work = await mkdtemp(join(roots[scenario.placement], 'envoy-xds-bench-'));
  const source = join(work, 'source');
  const target = join(work, 'target');
  await mkdir(source);
  await mkdir(target);
  const sourceFs = filesystemOf(source);
  const targetFs = filesystemOf(target);
  const [probePort] = (await freePorts(1)) as [number];
  const payload = (version: number) => ({
    'envoy.yaml': BOOTSTRAP,
    'cds.yaml': xdsFile('cds', version, scenario.cdsBytes),
    'lds.yaml': xdsFile('lds', version, scenario.ldsBytes, { probePort }),
  });
  // Contents are prepared before the stream, so this process does little while it runs.
  const payloads = Array.from({ length: scenario.changes + 1 }, (_, version) => payload(version));
  const writer = new AtomicWriter(source);
  const write = (version: number) => writer.write(payloads[version] ?? {});
  await write(0);
  // The init container's job, done the same way for both sidecars: the target starts at version 0.
  if (impl.envoyReads === 'target') for (const file of ['envoy.yaml', ...FILES]) await copyFile(join(source, file), join(target, file));

  const dir = impl.envoyReads === 'target' ? target : source;
  const envoy = await startEnvoy({
    bootstrap: {
      text: bootstrapYaml({
        cds: join(dir, 'cds.yaml'),
        lds: join(dir, 'lds.yaml'),
        ...(impl.envoyReads === 'source' ? { watchedDirectory: source } : {}),
      }),
    },
    logLevel: 'warning',
    // Replaced listeners close at once instead of draining for 10 minutes.
    args: ['--drain-time-s', '1', '--drain-strategy', 'immediate'],
  });
  try {
    await envoy.waitForBody(probePort, ldsProbeBody(0), 60_000);
    const before = { 'cds.yaml': await counters(envoy, 'cds.yaml'), 'lds.yaml': await counters(envoy, 'lds.yaml') };
    const renames = await EnvoyStandIn.start(dir, FILES, { watchedDirectory: impl.envoyReads === 'source' });
    const running = await impl.start(source, target, work, envoy.adminUrl.replace(/^http:\/\//, ''));
    let rssMax: number | undefined;
    const rssAtReady = running === undefined ? undefined : rssAnonKiB(running.pid);
    const sampler = setInterval(() => {
      const rss = running === undefined ? undefined : rssAnonKiB(running.pid);
      if (rss !== undefined) rssMax = Math.max(rssMax ?? 0, rss);
    }, 25);
    const poller = new ServedPoller(probePort);

    const renamedAt = new Map<number, number>();
    for (let version = 1; version <= scenario.changes; version++) {
      const at = await write(version);
      if (at !== undefined) renamedAt.set(version, at);
      poller.want(version);
      if (scenario.intervalMs > 0) await sleep(scenario.intervalMs);
    }
    const last = scenario.changes;
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
    clearInterval(sampler);
    await poller.stop();
    await running?.stop();
    await renames.stop();
    const after = { 'cds.yaml': await counters(envoy, 'cds.yaml'), 'lds.yaml': await counters(envoy, 'lds.yaml') };

    const latencies: number[] = [];
    for (let version = 1; version <= last; version++) {
      const served = poller.firstServed.get(version);
      const renamed = renamedAt.get(version);
      if (served === undefined || renamed === undefined || scenario.intervalMs === 0) continue;
      latencies.push(served - renamed);
      if (process.env.BENCH_DUMP) process.stderr.write(`${impl.name} v${version} ${(served - renamed).toFixed(2)} ms\n`);
    }
    // What each rename Envoy reacted to delivered, by content.
    let torn = 0;
    let stale = 0;
    let lost = 0;
    for (const file of FILES) {
      // As written (seed, watched_directory) and as the watcher publishes it (its version_info set).
      const known = new Map(payloads.flatMap((files, version) => [[sha256(files[file]), version], [sha256(publishedText(file, files[file])), version]] as [string, number][]));
      const stats = analyzeReloads(renames.reloadsOf(file), known);
      torn += stats.torn;
      stale += stats.stale;
      const delivered = new Set(stats.delivered);
      if (scenario.intervalMs > 0) {
        for (let version = 1; version <= last; version++) if (!delivered.has(version)) lost++;
      } else if (!delivered.has(last)) {
        lost++;
      }
    }
    const lastRenamed = renamedAt.get(last);
    const lastServed = poller.firstServed.get(last);
    const verdictLatencies: number[] = [];
    for (const { at, line } of running?.lines ?? []) {
      const version = acceptedLdsVersion(line);
      const renamed = version === undefined ? undefined : renamedAt.get(version);
      if (renamed !== undefined && scenario.intervalMs > 0) verdictLatencies.push(at - renamed);
    }
    latencies.sort((a, b) => a - b);
    verdictLatencies.sort((a, b) => a - b);
    return {
      impl: impl.name,
      scenario: scenario.name,
      placement: scenario.placement,
      sourceFs,
      targetFs,
      attemptsPerChange: {
        'cds.yaml': (after['cds.yaml'].attempt - before['cds.yaml'].attempt) / scenario.changes,
        'lds.yaml': (after['lds.yaml'].attempt - before['lds.yaml'].attempt) / scenario.changes,
      },
      refused: after['cds.yaml'].bad - before['cds.yaml'].bad + after['lds.yaml'].bad - before['lds.yaml'].bad,
      torn,
      stale,
      lost,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      lastServedMs: lastRenamed === undefined || lastServed === undefined ? undefined : lastServed - lastRenamed,
      verdictP50: percentile(verdictLatencies, 50),
      verdictP99: percentile(verdictLatencies, 99),
      rssAnonMaxKiB: impl.name === 'watch' ? rssMax : undefined,
      rssAnonReadyKiB: impl.name === 'watch' ? rssAtReady : undefined,
    };
  } finally {
    await envoy.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function table(results: Result[]): string {
  const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));
  const mib = (kib: number | undefined) => (kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`);
  const rows = [
    ['scenario', 'dirs on', 'implementation', 'Envoy updates/change cds lds', 'Envoy refused', 'torn', 'stale', 'lost', 'p50 ms', 'p99 ms', 'last version ms', 'verdict p50/p99 ms', 'RssAnon ready', 'RssAnon max'],
    ...results.map((r) => [
      r.scenario,
      r.sourceFs === r.targetFs ? r.sourceFs : `${r.sourceFs}+${r.targetFs}`,
      r.impl,
      `${r.attemptsPerChange['cds.yaml'].toFixed(3)} ${r.attemptsPerChange['lds.yaml'].toFixed(3)}`,
      String(r.refused),
      String(r.torn),
      String(r.stale),
      String(r.lost),
      ms(r.p50),
      ms(r.p99),
      ms(r.lastServedMs),
      r.verdictP50 === undefined ? '-' : `${ms(r.verdictP50)}/${ms(r.verdictP99)}`,
      mib(r.rssAnonReadyKiB),
      mib(r.rssAnonMaxKiB),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const envoy = await envoyBinary();
  const watcher = watcherImplementation(buildApp());
  const script = inotifyScriptImplementation();
  const floor = watchedDirectoryImplementation();
  const results: Result[] = [];
  // BENCH_ONLY=steady,burst,steady-disk and BENCH_IMPL=watch|inotify|envoy narrow a run while investigating.
  const only = process.env.BENCH_ONLY?.split(',');
  const scenarios = SCENARIOS.filter((s) => only === undefined || only.includes(s.id));
  const impls = [watcher, script, floor].filter((i) => i.name.startsWith(process.env.BENCH_IMPL ?? ''));
  const roots = await findRoots();
  try {
    for (const scenario of scenarios) {
      for (const impl of impls) {
        process.stderr.write(`running ${impl.name}: ${scenario.name}\n`);
        results.push(await runScenario(impl, scenario, roots));
      }
    }
  } finally {
    await roots.cleanUp();
  }
  const version = execFileSync(envoy, ['--version'], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  console.log(`\nbench:sync (node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(`Envoy: ${envoy} (${version.replace(/^.*version: /, '')}), --concurrency 1`);
  console.log(`deployed (ConfigMap volume + emptyDir medium: Memory): source and target under ${roots.memoryNote}, ${filesystemOf(roots.memory)}`);
  console.log(`on disk (extra scenario, not deployed): source and target under ${roots.disk}, ${filesystemOf(roots.disk)}`);
  const env = Object.entries(WATCHER_ENV).map(([name, value]) => `${name}="${value}"`).join(' ');
  console.log(`watcher: ${env} node dist/cli/main.js watch`);
  console.log('p50/p99: from kubelet\'s ..data rename to Envoy first serving that version (steady scenarios)');
  console.log(table(results));
  // Latency targets are judged on the deployed configuration; correctness and memory everywhere.
  const steady = (name: string) => results.find((r) => r.impl === name && r.placement === 'memory' && r.scenario.startsWith('steady'));
  const steadyWatch = steady('watch');
  const steadyScript = steady(script.name);
  const steadyFloor = steady(floor.name);
  const watchRows = results.filter((r) => r.impl === 'watch');
  const perChange = (r: Result) => Object.values(r.attemptsPerChange);
  // The limit the webhook gives the watch container by default (src/inject/config.ts).
  const limitMiB = (parseQuantity(defaultConfig('bench').resources.memoryLimit) ?? 0) / 2 ** 20;
  const checks: [string, boolean][] = [
    ['watch: 0 torn / stale / lost, 0 loads refused by Envoy (all scenarios)', watchRows.every((r) => r.torn === 0 && r.stale === 0 && r.lost === 0 && r.refused === 0)],
    [
      'watch: exactly 1 Envoy update per changed file per change (steady), at most 1 (burst)',
      watchRows.every((r) => perChange(r).every((n) => (r.scenario.startsWith('steady') ? n === 1 : n <= 1))),
    ],
    [
      `watch: steady p99 within 5 ms of watched_directory's (${steadyFloor?.p99?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      (steadyWatch?.p99 ?? Infinity) <= (steadyFloor?.p99 ?? -Infinity) + 5,
    ],
    [`watch: steady p99 <= half inotify.sh's (${steadyScript?.p99?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`, (steadyWatch?.p99 ?? Infinity) <= (steadyScript?.p99 ?? 0) / 2],
    [
      'watch: swap → Envoy\'s verdict p99 < 1000 ms (steady)',
      watchRows.filter((r) => r.scenario.startsWith('steady')).every((r) => (r.verdictP99 ?? Infinity) < 1000),
    ],
    [
      `watch: RssAnon max leaves >= 30 % of the injected memory limit (${limitMiB.toFixed(0)} MiB; the cgroup charge also counts file pages: npm run bench:verdict with BENCH_CGROUP=1)`,
      watchRows.every((r) => (r.rssAnonMaxKiB ?? Infinity) <= 0.7 * limitMiB * 1024),
    ],
  ];
  console.log('');
  for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'MISS'}  ${what}`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
