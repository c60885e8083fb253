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
import { appendFileSync, existsSync, readFileSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as perfConstants, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapYaml, envoyBinary, freePorts, startEnvoy, type EnvoyProcess } from '../test/envoy/envoy.js';
import { AtomicWriter, BOOTSTRAP, EnvoyStandIn, analyzeReloads, ldsProbeBody, publishedText, repoRoot, rssAnonKiB, sha256, xdsFile } from '../test/sync/harness.js';
import { buildApp, buildAppAt } from './app.js';
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
/**
 * Loaded into the watcher with `node --import` (not part of the product). Writes to BENCH_GC_LOG
 * one line per V8 garbage collection, `gc <start> <duration> <kind> <flags>` (kind and flags as in
 * perf_hooks.constants; written from the gc observer, which Node calls after the collection), and
 * one line per verdict log line as the watcher hands it to stdout, `verdict <at> <log line>` (pino
 * writes through fs.write/fs.writeSync): its arrival here, through a pipe on a loaded machine, can
 * come after a collection the watcher ran once the verdict was out. Times in ms on the monotonic
 * clock every process shares (process.hrtime).
 */
const GC_LOG_PRELOAD = `data:text/javascript,${encodeURIComponent(`
import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
const fd = fs.openSync(process.env.BENCH_GC_LOG, 'a');
const append = fs.writeSync;
const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) append(fd, \`gc \${(offset + e.startTime).toFixed(3)} \${e.duration.toFixed(3)} \${e.detail.kind} \${e.detail.flags}\\n\`);
}).observe({ entryTypes: ['gc'] });
for (const name of ['write', 'writeSync']) {
  const original = fs[name];
  fs[name] = function (out, data, ...rest) {
    if (out === 1 && String(data).includes('"event":"verdict"')) {
      const at = (Number(process.hrtime.bigint()) / 1e6).toFixed(3);
      for (const line of String(data).split('\\n')) if (line.includes('"event":"verdict"')) append(fd, \`verdict \${at} \${line}\\n\`);
    }
    return original.call(this, out, data, ...rest);
  };
}
`)}`;
/** performance.now() of this process + this = the monotonic clock of GC_LOG_PRELOAD's lines. */
const MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();

interface GcEntry {
  /** performance.now() of this process. */
  at: number;
  ms: number;
  major: boolean;
  forced: boolean;
}

interface GcLog {
  gcs: GcEntry[];
  /** Verdict log lines as the watcher wrote them, with performance.now() of this process. */
  verdicts: { at: number; line: string }[];
}

function readGcLog(path: string): GcLog {
  const log: GcLog = { gcs: [], verdicts: [] };
  if (!existsSync(path)) return log;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [what, at, ...rest] = line.split(' ');
    if (at === undefined) continue;
    if (what === 'verdict') log.verdicts.push({ at: Number(at) - MONOTONIC_OFFSET_MS, line: rest.join(' ') });
    if (what !== 'gc') continue;
    const [duration, kind, flags] = rest.map(Number);
    if (duration === undefined || kind === undefined || flags === undefined || Number.isNaN(flags)) continue;
    log.gcs.push({
      at: Number(at) - MONOTONIC_OFFSET_MS,
      ms: duration,
      major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR,
      forced: (flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0,
    });
  }
  return log;
}

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
  /**
   * Split the changes into this many rounds, alternating which implementation goes first, so
   * that load from other jobs on the machine falls on each alike (default 1: one run each).
   */
  rounds?: number;
  /** Implementations this scenario compares (default all). */
  impls?: string[];
}

const SCENARIOS: Scenario[] = [
  // What most ConfigMaps are: a few resources. Here the watcher's own cost per change is not
  // hidden behind Envoy's work, so it is compared with watched_directory in alternating rounds.
  { id: 'small', name: 'small: 200 changes, 1 per 50 ms, 0.3+0.9 KiB', placement: 'memory', changes: 200, intervalMs: 50, cdsBytes: 1, ldsBytes: 1, rounds: 4, impls: ['watch', 'envoy watched_directory'] },
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
  /** The process's garbage collections and verdict lines so far (GC_LOG_PRELOAD). */
  gcLog?: () => GcLog;
}

interface Implementation {
  name: string;
  /** Where Envoy reads cds.yaml/lds.yaml: the emptyDir the sidecar publishes into, or the ConfigMap mount. */
  envoyReads: 'target' | 'source';
  /** The init container's job, before Envoy starts (default: copy the files as they are). */
  init?: (source: string, target: string) => void;
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

function watcherImplementation(main: string, name = 'watch'): Implementation {
  return {
    name,
    envoyReads: 'target',
    // Its own init container, `copy`: what it publishes carries the versions the watcher stamps, so
    // the watcher's first pass has nothing to republish (a plain copy would cost Envoy one update).
    init(source, target) {
      execFileSync(process.execPath, [main, 'copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml'], { stdio: 'pipe', env: { ...process.env, ...WATCHER_ENV } });
    },
    async start(source, target, work, admin) {
      const ready = join(target, '..envoy-xds-watch.ready');
      // Outside both directories: nothing Envoy or the watcher watches.
      const gcLog = join(work, 'gc.log');
      // The bootstrap in the ConfigMap says admin port 0 (Envoy picks one): tell the watcher which.
      // BENCH_NODE_ARGS: extra node flags for the watcher while investigating (--cpu-prof --cpu-prof-dir=DIR).
      const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter((arg) => arg !== '') ?? [];
      const child = spawn(process.execPath, [...nodeArgs, '--import', GC_LOG_PRELOAD, main, 'watch', '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml', '--admin', admin], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
        env: { ...process.env, ...WATCHER_ENV, LOG_LEVEL: process.env.BENCH_DUMP ? 'debug' : 'info', BENCH_GC_LOG: gcLog },
      });
      const lines: { at: number; line: string }[] = [];
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        lines.push({ at: performance.now(), line });
        if (process.env.BENCH_DUMP) process.stderr.write(`watch: ${line}\n`);
      });
      if (!(await waitUntil(() => existsSync(ready), 30_000))) throw new Error('watcher never became ready');
      return { pid: child.pid ?? -1, stop: () => stopGroup(child), lines, gcLog: () => readGcLog(gcLog) };
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
// "outcome":"accepted","xdsVersion":"N+sha256:<12 hex>",...}: xdsFile() writes version_info "N", which
// the watcher keeps as the user's part of the version it stamps. Returns N for an accepted lds.yaml,
// else undefined: swap → verdict per version.
function acceptedLdsVersion(line: string): number | undefined {
  if (!line.includes('"verdict"')) return undefined;
  try {
    const entry = JSON.parse(line) as { event?: string; file?: string; outcome?: string; xdsVersion?: string };
    if (entry.event !== 'verdict' || entry.file !== 'lds.yaml' || entry.outcome !== 'accepted') return undefined;
    const version = /^(\d+)(\+sha256:[0-9a-f]+)?$/.exec(entry.xdsVersion ?? '')?.[1];
    return version === undefined ? undefined : Number(version);
  } catch {
    return undefined;
  }
}

interface Result {
  impl: string;
  /** Scenario id and name. */
  id: string;
  scenario: string;
  /** Changes paced (steady, small), or back to back (burst). */
  paced: boolean;
  placement: Placement;
  /** Filesystems of the source and target directories (statfs type). */
  sourceFs: string;
  targetFs: string;
  changes: number;
  /** Envoy's update_attempt over the run, per file. */
  attempts: Record<keyof typeof SUBSCRIPTIONS, number>;
  /** Loads Envoy refused (update_rejected + update_failure). */
  refused: number;
  torn: number;
  stale: number;
  lost: number;
  /**
   * ms from the `..data` rename to Envoy first serving that version or a newer one, per change
   * (steady and small scenarios).
   */
  latencies: number[];
  /** Of those, changes whose own version Envoy never served: a newer one came first. */
  superseded: number;
  lastServedMs: number | undefined;
  /** ms from the `..data` rename to the watcher's accepted verdict line, per change. */
  verdictLatencies: number[];
  /** The watcher's garbage collections that started between a `..data` rename and its accepted lds.yaml verdict line (as written). */
  gc: GcInWindows | undefined;
  rssAnonMaxKiB: number | undefined;
  rssAnonReadyKiB: number | undefined;
}

interface GcInWindows {
  /** Changes with a verdict line (the windows looked at). */
  windows: number;
  /** Of those, windows in which at least one collection started. */
  withGc: number;
  major: number;
  minor: number;
  /** Of those, forced (the watcher's own gc() call). */
  forced: number;
  /** Time spent in them. */
  ms: number;
}

/** Rounds of one implementation and scenario as one result. */
function merge(rounds: Result[]): Result {
  const [first, ...rest] = rounds;
  if (first === undefined) throw new Error('no rounds to merge');
  const sum = (pick: (r: Result) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  const maxOf = (pick: (r: Result) => number | undefined) => rounds.reduce<number | undefined>((max, r) => { const v = pick(r); return v === undefined ? max : Math.max(max ?? v, v); }, undefined);
  const gcs = rounds.flatMap((r) => (r.gc === undefined ? [] : [r.gc]));
  return rest.length === 0 ? first : {
    ...first,
    changes: sum((r) => r.changes),
    attempts: { 'cds.yaml': sum((r) => r.attempts['cds.yaml']), 'lds.yaml': sum((r) => r.attempts['lds.yaml']) },
    refused: sum((r) => r.refused),
    torn: sum((r) => r.torn),
    stale: sum((r) => r.stale),
    lost: sum((r) => r.lost),
    latencies: rounds.flatMap((r) => r.latencies),
    superseded: sum((r) => r.superseded),
    lastServedMs: maxOf((r) => r.lastServedMs),
    verdictLatencies: rounds.flatMap((r) => r.verdictLatencies),
    gc: gcs.length === 0 ? undefined : {
      windows: gcs.reduce((t, g) => t + g.windows, 0),
      withGc: gcs.reduce((t, g) => t + g.withGc, 0),
      major: gcs.reduce((t, g) => t + g.major, 0),
      minor: gcs.reduce((t, g) => t + g.minor, 0),
      forced: gcs.reduce((t, g) => t + g.forced, 0),
      ms: gcs.reduce((t, g) => t + g.ms, 0),
    },
    rssAnonMaxKiB: maxOf((r) => r.rssAnonMaxKiB),
    rssAnonReadyKiB: maxOf((r) => r.rssAnonReadyKiB),
  };
}

function perChange(r: Result): number[] {
  return Object.values(r.attempts).map((n) => n / r.changes);
}

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
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
  if (impl.init !== undefined) impl.init(source, target);
  else if (impl.envoyReads === 'target') for (const file of ['envoy.yaml', ...FILES]) await copyFile(join(source, file), join(target, file));

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

    // A change that took longer than the pause to the next one may never be served itself: Envoy
    // (or the watcher) went straight to the newer version. Its latency runs until that newer one is
    // served; leaving it out would leave out exactly the slowest changes, and more of them for the
    // slower implementation (its p90 looked better than the floor's).
    const servedFrom = new Map<number, number>();
    for (let version = last, first: number | undefined; version >= 1; version--) {
      const own = poller.firstServed.get(version);
      if (own !== undefined) first = first === undefined ? own : Math.min(first, own);
      if (first !== undefined) servedFrom.set(version, first);
    }
    const latencies: number[] = [];
    let superseded = 0;
    for (let version = 1; version <= last; version++) {
      const served = servedFrom.get(version);
      const renamed = renamedAt.get(version);
      if (served === undefined || renamed === undefined || scenario.intervalMs === 0) continue;
      latencies.push(served - renamed);
      if (!poller.firstServed.has(version)) superseded++;
      if (process.env.BENCH_DUMP) process.stderr.write(`${impl.name} v${version} ${(served - renamed).toFixed(2)} ms\n`);
      // On the monotonic clock every process shares, to line up with the watcher's or Envoy's own timestamps.
      if (process.env.BENCH_TIMES) appendFileSync(process.env.BENCH_TIMES, `${impl.name} ${scenario.id} ${version} ${(renamed + MONOTONIC_OFFSET_MS).toFixed(3)} ${(served + MONOTONIC_OFFSET_MS).toFixed(3)} ${poller.firstServed.has(version) ? 'own' : 'newer'}\n`);
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
    let gc: GcInWindows | undefined;
    const gcLog = running?.gcLog?.();
    if (gcLog !== undefined && scenario.intervalMs > 0) {
      gc = { windows: 0, withGc: 0, major: 0, minor: 0, forced: 0, ms: 0 };
      for (const { at, line } of gcLog.verdicts) {
        const version = acceptedLdsVersion(line);
        const renamed = version === undefined ? undefined : renamedAt.get(version);
        if (renamed === undefined) continue;
        gc.windows++;
        const inside = gcLog.gcs.filter((entry) => entry.at >= renamed && entry.at <= at);
        if (inside.length > 0) gc.withGc++;
        for (const entry of inside) {
          if (entry.major) gc.major++;
          else gc.minor++;
          if (entry.forced) gc.forced++;
          gc.ms += entry.ms;
        }
      }
    }
    return {
      impl: impl.name,
      id: scenario.id,
      scenario: scenario.name,
      paced: scenario.intervalMs > 0,
      placement: scenario.placement,
      sourceFs,
      targetFs,
      changes: scenario.changes,
      attempts: {
        'cds.yaml': after['cds.yaml'].attempt - before['cds.yaml'].attempt,
        'lds.yaml': after['lds.yaml'].attempt - before['lds.yaml'].attempt,
      },
      refused: after['cds.yaml'].bad - before['cds.yaml'].bad + after['lds.yaml'].bad - before['lds.yaml'].bad,
      torn,
      stale,
      lost,
      latencies,
      superseded,
      lastServedMs: lastRenamed === undefined || lastServed === undefined ? undefined : lastServed - lastRenamed,
      verdictLatencies,
      gc,
      rssAnonMaxKiB: running === undefined ? undefined : rssMax,
      rssAnonReadyKiB: rssAtReady,
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
    ['scenario', 'dirs on', 'implementation', 'Envoy updates/change cds lds', 'Envoy refused', 'torn', 'stale', 'lost', 'served newer first', 'p50 ms', 'p90 ms', 'p99 ms', 'last version ms', 'verdict p50/p99 ms', 'GC in swap → verdict', 'RssAnon ready', 'RssAnon max'],
    ...results.map((r) => [
      r.scenario,
      r.sourceFs === r.targetFs ? r.sourceFs : `${r.sourceFs}+${r.targetFs}`,
      r.impl,
      perChange(r).map((n) => n.toFixed(3)).join(' '),
      String(r.refused),
      String(r.torn),
      String(r.stale),
      String(r.lost),
      r.paced ? String(r.superseded) : '-',
      ms(percentile(r.latencies, 50)),
      ms(percentile(r.latencies, 90)),
      ms(percentile(r.latencies, 99)),
      ms(r.lastServedMs),
      r.verdictLatencies.length === 0 ? '-' : `${ms(percentile(r.verdictLatencies, 50))}/${ms(percentile(r.verdictLatencies, 99))}`,
      r.gc === undefined || r.gc.windows === 0 ? '-' : `${r.gc.withGc}/${r.gc.windows}: ${r.gc.major} major, ${r.gc.minor} minor (${r.gc.forced} forced), ${r.gc.ms.toFixed(1)} ms`,
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
  // BENCH_BEFORE=<git ref>: the watcher as built from that revision runs too, as `watch@<ref>`, in
  // the same rounds (a before/after comparison under the same load).
  const before = process.env.BENCH_BEFORE === undefined ? [] : [watcherImplementation(buildAppAt(process.env.BENCH_BEFORE), `watch@${process.env.BENCH_BEFORE}`)];
  const impls = [watcher, ...before, script, floor].filter((i) => i.name.startsWith(process.env.BENCH_IMPL ?? ''));
  const roots = await findRoots();
  try {
    for (const scenario of scenarios) {
      const mine = impls.filter((impl) => scenario.impls === undefined || scenario.impls.includes(impl.name.replace(/@.*$/, '')));
      // BENCH_ROUNDS: more, shorter rounds, so that a burst of load from other jobs (seconds long) falls on each implementation alike.
      const rounds = Number(process.env.BENCH_ROUNDS ?? '') || (scenario.rounds ?? 1);
      const byImpl = new Map<string, Result[]>(mine.map((impl) => [impl.name, []]));
      for (let round = 0; round < rounds; round++) {
        // Alternate who goes first, so a burst of load from other jobs hits each alike.
        const order = round % 2 === 0 ? mine : [...mine].reverse();
        for (const impl of order) {
          process.stderr.write(`running ${impl.name}: ${scenario.name}${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}\n`);
          byImpl.get(impl.name)?.push(await runScenario(impl, { ...scenario, changes: Math.ceil(scenario.changes / rounds) }, roots));
        }
      }
      for (const impl of mine) results.push(merge(byImpl.get(impl.name) ?? []));
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
  console.log('p50/p90/p99: from kubelet\'s ..data rename to Envoy first serving that version or a newer one (steady and small scenarios); served newer first: changes Envoy never served themselves (counted until the newer one was served)');
  console.log('GC in swap → verdict: changes in whose window (..data rename → the watcher writes its lds.yaml verdict line) the watcher started a garbage collection / changes with a verdict; those collections, their time');
  console.log(table(results));
  // Latency targets are judged on the deployed configuration; correctness and memory everywhere.
  const row = (id: string, name: string) => results.find((r) => r.impl === name && r.id === id);
  const p = (r: Result | undefined, at: number) => (r === undefined ? undefined : percentile(r.latencies, at));
  const steadyWatch = row('steady', 'watch');
  const steadyScript = row('steady', script.name);
  const steadyFloor = row('steady', floor.name);
  const smallWatch = row('small', 'watch');
  const smallFloor = row('small', floor.name);
  const watchRows = results.filter((r) => r.impl === 'watch');
  // The limit the webhook gives the watch container by default (src/inject/config.ts).
  const limitMiB = (parseQuantity(defaultConfig('bench').resources.memoryLimit) ?? 0) / 2 ** 20;
  const checks: [string, boolean | undefined][] = [
    ['watch: 0 torn / stale / lost, 0 loads refused by Envoy (all scenarios)', watchRows.every((r) => r.torn === 0 && r.stale === 0 && r.lost === 0 && r.refused === 0)],
    [
      'watch: exactly 1 Envoy update per changed file per change (steady, small), at most 1 (burst)',
      watchRows.every((r) => perChange(r).every((n) => (r.paced ? n === 1 : n <= 1))),
    ],
    [
      `watch: small p90 within 3 ms of watched_directory's (${p(smallFloor, 90)?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      smallWatch === undefined || smallFloor === undefined ? undefined : (p(smallWatch, 90) ?? Infinity) <= (p(smallFloor, 90) ?? -Infinity) + 3,
    ],
    [
      'watch: no garbage collection between a ..data rename and its verdict (small)',
      smallWatch?.gc === undefined ? undefined : smallWatch.gc.withGc === 0,
    ],
    [
      `watch: steady p99 within 5 ms of watched_directory's (${p(steadyFloor, 99)?.toFixed(2) ?? '-'} ms; deployed: tmpfs)`,
      steadyWatch === undefined || steadyFloor === undefined ? undefined : (p(steadyWatch, 99) ?? Infinity) <= (p(steadyFloor, 99) ?? -Infinity) + 5,
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
