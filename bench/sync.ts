// npm run bench:sync — the watcher against the seed's inotify.sh, on the test harness: kubelet's
// AtomicWriter swaps versions of a ConfigMap volume, an Envoy stand-in (inotifywait -e moved_to)
// reads each watched file at the moment it is renamed into place.
//
// Prints, per implementation and scenario: reloads per changed file, torn/stale/lost counts, p50/p99
// latency from the `..data` rename to the stand-in's IN_MOVED_TO delivering that version, and the
// watcher's anonymous RSS (/proc/PID/status RssAnon). Bounded in time: every wait has a deadline.
//
// Where the directories live matters more than anything else for latency (fsync). The targets are
// judged on what the injector deploys: the ConfigMap volume (kubelet: tmpfs) and the memory-backed
// `envoy-xds-config` emptyDir, so both directories go on a tmpfs. The same stream on the disk is
// kept as a labelled extra scenario, so the figures stay honest about what fsync costs there.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AtomicWriter,
  BOOTSTRAP,
  EnvoyStandIn,
  analyzeReloads,
  repoRoot,
  rssAnonKiB,
  sha256,
  versionOf,
  xdsFile,
} from '../test/sync/harness.js';

/** What the injected watcher container should run with (see docs/sync.md, "Memory"). */
const WATCHER_ENV: Record<string, string> = {
  NODE_OPTIONS: process.env.WATCHER_NODE_OPTIONS ?? '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1',
  // glibc: one malloc arena, and give freed memory back to the kernel instead of keeping it.
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_TOP_PAD_: '0',
};
const SEED_MD = process.env.SEED_MD ?? join(repoRoot, '..', 'shared', 'seed', 'configmap-as-envoy-xds.md');
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
  { id: 'burst', name: 'burst: 500 changes back to back, 256+64 KiB', placement: 'memory', changes: 500, intervalMs: 0, cdsBytes: 256 * 1024, ldsBytes: 64 * 1024 },
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
}

interface Implementation {
  name: string;
  start: (source: string, target: string, work: string) => Promise<Running>;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  process.kill(-child.pid, 'SIGTERM'); // the process group we created: the seed is sh + inotifywait
  return exited;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function buildWatcher(): string {
  // Measure what the image runs: tsc output, not tsx. Laid out like the image (package.json beside dist/).
  const app = join(repoRoot, '.bench', 'app');
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { stdio: 'pipe' });
  } catch (err) {
    // Type errors elsewhere in src/ do not stop tsc from emitting; only a missing entry point does.
    if (!existsSync(join(app, 'dist/cli/main.js'))) throw err;
  }
  execFileSync('cp', [join(repoRoot, 'package.json'), join(app, 'package.json')]);
  return join(app, 'dist/cli/main.js');
}

function watcherImplementation(main: string): Implementation {
  return {
    name: 'watch',
    async start(source, target) {
      const ready = join(target, '..envoy-xds-watch.ready');
      const child = spawn(process.execPath, [main, 'watch', '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml'], {
        // BENCH_DUMP keeps the watcher's debug log (per-pass timings) in the work dir's parent.
        stdio: ['ignore', process.env.BENCH_DUMP ? openSync(join(repoRoot, '.bench', 'watch.log'), 'a') : 'ignore', 'inherit'],
        detached: true,
        env: {
          ...process.env,
          ...WATCHER_ENV,
          LOG_LEVEL: process.env.BENCH_DUMP ? 'debug' : 'info',
        },
      });
      if (!(await waitUntil(() => existsSync(ready), 30_000))) throw new Error('watcher never became ready');
      return { pid: child.pid ?? -1, stop: () => stopGroup(child) };
    },
  };
}

/** The seed's inotify.sh, verbatim except its hard-coded writable directory /tmp. */
function seedImplementation(): Implementation {
  const markdown = readFileSync(SEED_MD, 'utf8');
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === 'inotify.sh: |');
  if (start < 0) throw new Error(`no inotify.sh in ${SEED_MD}`);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```') || (line.trim() !== '' && !line.startsWith('    '))) break;
    body.push(line.slice(4));
  }
  const script = body.join('\n');
  return {
    name: 'seed inotify.sh',
    async start(source, target, work) {
      const path = join(work, 'inotify.sh');
      await writeFile(path, script.replaceAll('/tmp/', `${target}/`));
      // As the seed's sidecar runs it: `sh /tmp/inotify.sh /configs`.
      const child = spawn('sh', [path, source], { stdio: 'ignore', detached: true });
      await sleep(1000); // inotifywait -q prints nothing when its watches are up
      return { pid: child.pid ?? -1, stop: () => stopGroup(child) };
    },
  };
}

interface Result {
  impl: string;
  scenario: string;
  placement: Placement;
  /** Filesystems of the source and target directories (statfs type). */
  sourceFs: string;
  targetFs: string;
  reloadsPerChangedFile: number;
  torn: number;
  stale: number;
  lost: number;
  p50: number | undefined;
  p99: number | undefined;
  lastDeliveredMs: number | undefined;
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
  const payload = (version: number) => ({
    'envoy.yaml': BOOTSTRAP,
    'cds.yaml': xdsFile('cds', version, scenario.cdsBytes),
    'lds.yaml': xdsFile('lds', version, scenario.ldsBytes),
  });
  // Contents are prepared before the stream and hashed after it, so the bench process (which also
  // hosts the Envoy stand-in) does as little as possible while the stream runs.
  const payloads = Array.from({ length: scenario.changes + 1 }, (_, version) => payload(version));
  const writer = new AtomicWriter(source);
  const write = (version: number) => writer.write(payloads[version] ?? {});
  await write(0);
  // The init container's job, done the same way for both: the target starts at version 0.
  for (const file of ['envoy.yaml', ...FILES]) await copyFile(join(source, file), join(target, file));

  const envoy = await EnvoyStandIn.start(target, [...FILES, 'envoy.yaml']);
  const running = await impl.start(source, target, work);
  let rssMax: number | undefined;
  const rssAtReady = rssAnonKiB(running.pid);
  const sampler = setInterval(() => {
    const rss = rssAnonKiB(running.pid);
    if (rss !== undefined) rssMax = Math.max(rssMax ?? 0, rss);
  }, 25);

  const renamedAt = new Map<number, number>();
  for (let version = 1; version <= scenario.changes; version++) {
    const at = await write(version);
    if (at !== undefined) renamedAt.set(version, at);
    if (scenario.intervalMs > 0) await sleep(scenario.intervalMs);
  }
  const last = scenario.changes;
  const delivered = (file: string) => envoy.reloadsOf(file).some((reload) => versionOf(reload.content) === last);
  await waitUntil(() => FILES.every(delivered), 60_000);
  // Let late or duplicate reloads show up: the seed keeps going after the last version arrived.
  let count = envoy.reloads.length;
  let quietSince = Date.now();
  await waitUntil(() => {
    if (envoy.reloads.length !== count) {
      count = envoy.reloads.length;
      quietSince = Date.now();
    }
    return Date.now() - quietSince > 1500;
  }, 30_000);
  clearInterval(sampler);
  await running.stop();
  await envoy.stop();
  const known = new Map<string, Map<string, number>>(FILES.map((file) => [file, new Map()]));
  for (const [version, files] of payloads.entries()) {
    for (const file of FILES) known.get(file)?.set(sha256(files[file]), version);
  }

  let torn = 0;
  let stale = 0;
  let lost = 0;
  let reloads = 0;
  const latencies: number[] = [];
  let lastDeliveredMs: number | undefined;
  for (const file of FILES) {
    const fileReloads = envoy.reloadsOf(file);
    const stats = analyzeReloads(fileReloads, known.get(file) ?? new Map());
    torn += stats.torn;
    stale += stats.stale;
    reloads += stats.reloads;
    const seen = new Set<number>();
    for (const [index, version] of stats.delivered.entries()) {
      const reload = fileReloads[index];
      if (version === undefined || reload === undefined || seen.has(version)) continue;
      seen.add(version);
      const renamed = renamedAt.get(version);
      if (renamed !== undefined && scenario.intervalMs > 0) {
        latencies.push(reload.at - renamed);
        if (process.env.BENCH_DUMP) process.stderr.write(`${impl.name} ${file} v${version} ${(reload.at - renamed).toFixed(2)} ms\n`);
      }
      if (version === last && renamed !== undefined) lastDeliveredMs = Math.max(lastDeliveredMs ?? 0, reload.at - renamed);
    }
    // Steady stream: every version should reach Envoy. Burst: only the last one must.
    if (scenario.intervalMs > 0) {
      for (let version = 1; version <= last; version++) if (!seen.has(version)) lost++;
    } else if (!seen.has(last)) {
      lost++;
    }
  }
  await rm(work, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    impl: impl.name,
    scenario: scenario.name,
    placement: scenario.placement,
    sourceFs,
    targetFs,
    reloadsPerChangedFile: reloads / (scenario.changes * FILES.length),
    torn,
    stale,
    lost,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    lastDeliveredMs,
    rssAnonMaxKiB: impl.name === 'watch' ? rssMax : undefined,
    rssAnonReadyKiB: impl.name === 'watch' ? rssAtReady : undefined,
  };
}

function table(results: Result[]): string {
  const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));
  const mib = (kib: number | undefined) => (kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`);
  const rows = [
    ['scenario', 'dirs on', 'implementation', 'reloads/changed file', 'torn', 'stale', 'lost', 'p50 ms', 'p99 ms', 'last version ms', 'RssAnon ready', 'RssAnon max'],
    ...results.map((r) => [
      r.scenario,
      r.sourceFs === r.targetFs ? r.sourceFs : `${r.sourceFs}+${r.targetFs}`,
      r.impl,
      r.reloadsPerChangedFile.toFixed(3),
      String(r.torn),
      String(r.stale),
      String(r.lost),
      ms(r.p50),
      ms(r.p99),
      ms(r.lastDeliveredMs),
      mib(r.rssAnonReadyKiB),
      mib(r.rssAnonMaxKiB),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const watcher = watcherImplementation(buildWatcher());
  const seed = seedImplementation();
  const results: Result[] = [];
  // BENCH_ONLY=steady,burst,steady-disk and BENCH_IMPL=watch|seed narrow a run while investigating.
  const only = process.env.BENCH_ONLY?.split(',');
  const scenarios = SCENARIOS.filter((s) => only === undefined || only.includes(s.id));
  const impls = [watcher, seed].filter((i) => i.name.startsWith(process.env.BENCH_IMPL ?? ''));
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
  console.log(`\nbench:sync (node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(`deployed (ConfigMap volume + emptyDir medium: Memory): source and target under ${roots.memoryNote}, ${filesystemOf(roots.memory)}`);
  console.log(`on disk (extra scenario, not deployed): source and target under ${roots.disk}, ${filesystemOf(roots.disk)}`);
  const env = Object.entries(WATCHER_ENV).map(([name, value]) => `${name}="${value}"`).join(' ');
  console.log(`watcher: ${env} node dist/cli/main.js watch`);
  console.log(table(results));
  // Latency targets are judged on the deployed configuration; correctness and memory everywhere.
  const steadyWatch = results.find((r) => r.impl === 'watch' && r.placement === 'memory' && r.scenario.startsWith('steady'));
  const steadySeed = results.find((r) => r.impl !== 'watch' && r.placement === 'memory' && r.scenario.startsWith('steady'));
  const watchRows = results.filter((r) => r.impl === 'watch');
  const checks: [string, boolean][] = [
    ['watch: 0 torn / stale / lost (all scenarios)', watchRows.every((r) => r.torn === 0 && r.stale === 0 && r.lost === 0)],
    ['watch: <= 1 reload per changed file (all scenarios)', watchRows.every((r) => r.reloadsPerChangedFile <= 1)],
    ['watch: steady p99 <= 10 ms (deployed: tmpfs)', (steadyWatch?.p99 ?? Infinity) <= 10],
    ['watch: steady p99 <= half the seed p99 (deployed: tmpfs)', (steadyWatch?.p99 ?? Infinity) <= (steadySeed?.p99 ?? 0) / 2],
    ['watch: RssAnon <= 16 MiB (all scenarios)', watchRows.every((r) => (r.rssAnonMaxKiB ?? Infinity) <= 16 * 1024)],
  ];
  console.log('');
  for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'MISS'}  ${what}`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
