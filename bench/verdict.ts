// npm run bench:verdict — Envoy's verdict on what `watch` publishes, with the official Envoy 1.40
// reading the files (test/envoy/fetch-envoy.sh). A kubelet AtomicWriter swaps ConfigMap versions
// (the LDS body changes; a 16 KiB CDS file stays); every 25th change is a file Envoy refuses
// (test/fixtures/cases/envoy-rejects-parses-fine.lds.yaml: it parses, and Envoy refuses a field's value).
//
// Prints: swap → verdict line p50/p99 (the `..data` rename to the watcher's verdict log line on its
// stdout), the watcher's own publish → verdict latencyMs, verdicts by outcome, rollbacks, what
// became of each refused change (rolled back, replaced by the next change before its verdict, or
// left on disk), and the
// watcher's memory at ready and at its peak (RssAnon; RssFile, the node binary's pages, which the
// container's cgroup is charged for too), against the injected memory limit. Figures only: no
// assertion. BENCH_CHANGES (default 200) and BENCH_INTERVAL_MS (default 50) size the run.
// BENCH_REFUSE=duplicate refuses with a duplicate listener name instead of that file: a
// refusal Envoy's listener manager gives a reason for, which the watcher reads from /config_dump
// before the rollback (the bad-value file fails Envoy's parse: no reason to read). BENCH_REFUSE_EVERY
// (default 25) sets how often.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy } from '../test/envoy/envoy.js';
import { AtomicWriter, repoRoot, sha256, xdsFile } from '../test/sync/harness.js';
import { stampVersion } from '../src/sync/envoy/version-stamp.js';
import { defaultConfig } from '../src/inject/config.js';
import { parseQuantity } from '../src/inject/quantity.js';
import { buildApp } from './app.js';
import { SYNC_ENV } from '../src/inject/containers.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 50);
const REFUSE_EVERY = Number(process.env.BENCH_REFUSE_EVERY ?? 25);
const REFUSE = process.env.BENCH_REFUSE ?? 'bad-value';
if (REFUSE !== 'bad-value' && REFUSE !== 'duplicate') throw new Error(`BENCH_REFUSE: bad-value or duplicate, not ${REFUSE}`);
// The env the injected copy/watch containers get (src/inject), so the bench runs what a Pod runs.
const WATCHER_ENV: Record<string, string> = Object.fromEntries(SYNC_ENV.map((e) => [e.name, e.value]));

interface Line {
  at: number;
  json: Record<string, unknown>;
}

function memKiB(pid: number): { anon: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const anon = /RssAnon:\s+(\d+) kB/.exec(status)?.[1];
    const file = /RssFile:\s+(\d+) kB/.exec(status)?.[1];
    return anon === undefined || file === undefined ? undefined : { anon: Number(anon), file: Number(file) };
  } catch {
    return undefined;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const mainJs = buildApp('verdict-app');
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = await mkdtemp(join(base, 'envoy-xds-bench-verdict-'));
  const source = join(root, 'source');
  const target = join(root, 'target');
  await mkdir(source);
  await mkdir(target);
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const writer = new AtomicWriter(source);
  const bootstrap = bootstrapYaml({ lds: join(target, 'lds.yaml'), cds: join(target, 'cds.yaml'), admin: { port: adminPort } });
  const badValue = (await readFile(join(repoRoot, 'test/fixtures/cases/envoy-rejects-parses-fine.lds.yaml'), 'utf8')).replace('port_value: 18080', `port_value: ${String(port)}`);
  // The same listener twice (the copy on another port): Envoy's LDS API refuses the duplicate name.
  const duplicate = (n: number) => `${ldsYaml({ port, body: `v${String(n)}` })}${ldsYaml({ port: port + 1, body: `v${String(n)}` }).split('\n').slice(1).join('\n')}`;
  const isRefused = (n: number) => n > 0 && n % REFUSE_EVERY === 0;
  const payload = (n: number) => ({
    'envoy.yaml': bootstrap,
    'lds.yaml': isRefused(n) ? (REFUSE === 'bad-value' ? badValue : duplicate(n)) : ldsYaml({ port, body: `v${String(n)}` }),
    // Constant: a CDS change that renames 30 clusters keeps Envoy's main thread (and so its admin
    // API) busy for 40-140 ms here, which would measure Envoy's CDS work rather than the verdict.
    'cds.yaml': xdsFile('cds', 0, 16 * 1024).replace(/STRICT_DNS/g, 'STATIC').replace(/backend-\d+\.default\.svc\.cluster\.local/g, '127.0.0.1'),
  });
  await writer.write(payload(0));
  execFileSync(process.execPath, [mainJs, 'copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml'], { stdio: 'pipe', env: { ...process.env, ...WATCHER_ENV } });
  const envoyDir = join(root, 'envoy');
  await mkdir(envoyDir);
  const envoy = await startEnvoy({ bootstrap: { path: join(target, 'envoy.yaml') }, workDir: envoyDir, logLevel: 'warning' });

  const ready = join(target, '..envoy-xds-watch.ready');
  // BENCH_CGROUP=1 (root, cgroup v1 memory controller): run the watcher in a memory cgroup of its
  // own and print what the kernel charged it (what a container limit is compared with).
  // BENCH_NODE runs another node binary (a fresh copy: its pages are then charged to this cgroup).
  const cgroup = process.env.BENCH_CGROUP === '1' ? `/sys/fs/cgroup/memory/envoy-xds-bench-verdict-${String(process.pid)}` : undefined;
  // BENCH_CGROUP_LIMIT_MIB sets the cgroup's memory limit (e.g. 70 % of the injected one, to check
  // that 30 % headroom is left): the kernel then reclaims file pages, and OOM-kills if anon does not fit.
  const cgroupLimitMiB = process.env.BENCH_CGROUP_LIMIT_MIB;
  if (cgroup !== undefined) {
    await mkdir(cgroup);
    if (cgroupLimitMiB !== undefined) await writeFile(join(cgroup, 'memory.limit_in_bytes'), String(Math.round(Number(cgroupLimitMiB) * 2 ** 20)));
  }
  const node = process.env.BENCH_NODE ?? process.execPath;
  const watchArgv = [node, mainJs, 'watch'];
  const argv0 = cgroup === undefined ? node : 'sh';
  const argvRest = cgroup === undefined ? watchArgv.slice(1) : ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', ...watchArgv];
  const child = spawn(argv0, [...argvRest, '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...WATCHER_ENV, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' },
  });
  const lines: Line[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (process.env.BENCH_DUMP !== undefined) process.stderr.write(`${text}\n`);
    try {
      lines.push({ at: performance.now(), json: JSON.parse(text) as Record<string, unknown> });
    } catch {
      // not a log line
    }
  });
  const pid = child.pid ?? -1;
  try {
    for (let waited = 0; !existsSync(ready); waited += 10) {
      if (waited > 120_000 || child.exitCode !== null) throw new Error(`watcher never became ready (exit ${String(child.exitCode)}, signal ${String(child.signalCode)})`);
      await sleep(10);
    }
    // The first verdicts (files copy published) come right after ready.
    const initial = Date.now();
    while (lines.filter((l) => l.json.event === 'verdict').length < 2 && Date.now() - initial < 30_000) await sleep(10);
    const atReady = memKiB(pid);
    let peak = atReady;
    const sampler = setInterval(() => {
      const now = memKiB(pid);
      if (now !== undefined && (peak === undefined || now.anon + now.file > peak.anon + peak.file)) peak = now;
    }, 25);

    const swaps: { n: number; at: number }[] = [];
    for (let n = 1; n <= CHANGES; n++) {
      const at = await writer.write(payload(n));
      if (at !== undefined) swaps.push({ n, at });
      await sleep(INTERVAL_MS);
    }
    // Until the last change's verdicts are in (or 30 s).
    const lastSwap = swaps.at(-1)?.at ?? 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !lines.some((l) => l.json.event === 'verdict' && l.at > lastSwap)) await sleep(20);
    await sleep(500);
    clearInterval(sampler);

    // Match each swap to the lds.yaml verdict on its version (a swap superseded by the next one
    // before Envoy's verdict gets none: counted apart).
    const ldsVerdicts = lines.filter((l) => l.json.event === 'verdict' && l.json.file === 'lds.yaml');
    // Every refused change carries the same file, so the same version: a swap's lines are the first
    // `published` line of its version after the swap (and before the next swap with that file) and
    // the verdict on that version before the next publish of it, not any later line with that version.
    const publishedLds = lines.filter((l) => l.json.msg === 'published' && l.json.file === 'lds.yaml');
    const linesOf = (swap: { n: number; at: number }, next: { at: number } | undefined) => {
      const text = Buffer.from(payload(swap.n)['lds.yaml']);
      const version = stampVersion('lds.yaml', text, sha256(text)).version;
      const until = next?.at ?? Infinity;
      const published = publishedLds.find((l) => l.at > swap.at && l.at < until && l.json.xdsVersion === version);
      const verdict = published === undefined ? undefined : ldsVerdicts.find((l) => l.at > published.at && l.json.xdsVersion === version && !publishedLds.some((p) => p.at > published.at && p.at < l.at && p.json.xdsVersion === version));
      return { version, published, verdict };
    };
    // The next swap that carries the same file (only refused changes repeat one).
    const nextSwap = (swap: { n: number }) => (isRefused(swap.n) ? swaps.find((s) => s.n > swap.n && isRefused(s.n)) : undefined);
    const swapToVerdict: number[] = [];
    const swapToRejection: number[] = [];
    const reasons = new Map<string, number>();
    const publishToVerdict: number[] = [];
    let superseded = 0;
    for (const swap of swaps) {
      const { verdict } = linesOf(swap, nextSwap(swap));
      if (verdict === undefined) {
        superseded++;
        continue;
      }
      swapToVerdict.push(verdict.at - swap.at);
      if (verdict.json.outcome === 'rejected') {
        swapToRejection.push(verdict.at - swap.at);
        const reason = typeof verdict.json.reason === 'string' ? verdict.json.reason : typeof verdict.json.envoyLog === 'string' ? `(none; grep "${verdict.json.envoyLog}")` : '(none)';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      if (typeof verdict.json.latencyMs === 'number') publishToVerdict.push(verdict.json.latencyMs);
    }
    const outcomes = new Map<string, number>();
    for (const l of lines) if (l.json.event === 'verdict') outcomes.set(`${String(l.json.file)} ${String(l.json.outcome)}`, (outcomes.get(`${String(l.json.file)} ${String(l.json.outcome)}`) ?? 0) + 1);
    const rollbacks = lines.filter((l) => l.json.event === 'verdict' && l.json.rolledBack === true).length;
    // Every refused change: rolled back, or replaced on disk by the next change's lds.yaml before
    // its verdict (then there is nothing to roll back: the rollback only renames over the inode it
    // judged), or left on disk (a product fault). From the watcher's own lines.
    const refusedFate = { rolledBack: 0, replaced: 0, neverPublished: 0, leftOnDisk: [] as number[] };
    for (const swap of swaps.filter((s) => isRefused(s.n))) {
      const { version, published, verdict } = linesOf(swap, nextSwap(swap));
      if (verdict?.json.rolledBack === true) refusedFate.rolledBack++;
      else if (published === undefined) refusedFate.neverPublished++;
      else if (publishedLds.some((l) => l.at > published.at && (verdict === undefined || l.at < verdict.at) && l.json.xdsVersion !== version)) refusedFate.replaced++;
      else refusedFate.leftOnDisk.push(swap.n);
    }
    const onDiskAtEnd = await readFile(join(target, 'lds.yaml'), 'utf8');
    const refusedAtEnd = swaps.some((s) => isRefused(s.n) && onDiskAtEnd === stampVersion('lds.yaml', Buffer.from(payload(s.n)['lds.yaml']), sha256(Buffer.from(payload(s.n)['lds.yaml']))).content.toString('utf8'));
    const charged = cgroup === undefined ? undefined : readCgroup(cgroup);
    const limitText = defaultConfig('bench').resources.memoryLimit;
    const limitMiB = (parseQuantity(limitText) ?? NaN) / 2 ** 20;
    const mib = (kib: number | undefined) => (kib === undefined ? '-' : (kib / 1024).toFixed(1));
    const total = (m: { anon: number; file: number } | undefined) => (m === undefined ? undefined : m.anon + m.file);
    const headroom = (m: { anon: number; file: number } | undefined) => (m === undefined ? '-' : `${(100 * (1 - (m.anon + m.file) / 1024 / limitMiB)).toFixed(0)} %`);

    process.stdout.write(
      [
        `bench:verdict  Envoy 1.40 (official), ${String(CHANGES)} changes ${String(INTERVAL_MS)} ms apart, lds.yaml changes (every ${String(REFUSE_EVERY)}th refused: ${REFUSE === 'bad-value' ? 'a bad field value' : 'a duplicate listener name'}), cds.yaml constant; dirs on ${base}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
        `swap → verdict line (ms)        p50 ${percentile(swapToVerdict, 50).toFixed(2)}  p99 ${percentile(swapToVerdict, 99).toFixed(2)}  max ${Math.max(...swapToVerdict).toFixed(2)}  (n=${String(swapToVerdict.length)} of ${String(swaps.length)} swaps; ${String(superseded)} without a verdict of their own)`,
        swapToRejection.length === 0
          ? `swap → rejection line (ms)      - (no refused change in this run: BENCH_CHANGES >= BENCH_REFUSE_EVERY, ${String(REFUSE_EVERY)})`
          : `swap → rejection line (ms)      p50 ${percentile(swapToRejection, 50).toFixed(2)}  p99 ${percentile(swapToRejection, 99).toFixed(2)}  max ${Math.max(...swapToRejection).toFixed(2)}  (n=${String(swapToRejection.length)}); reasons: ${[...reasons].map(([k, v]) => `${String(v)}x ${k}`).join(', ') || 'none from the admin API'}`,
        `publish → verdict latencyMs     p50 ${percentile(publishToVerdict, 50).toFixed(2)}  p99 ${percentile(publishToVerdict, 99).toFixed(2)}`,
        `verdicts                        ${[...outcomes].map(([k, v]) => `${k}: ${String(v)}`).join(', ')}; rolled back: ${String(rollbacks)}`,
        `refused changes                 ${String(swaps.filter((s) => isRefused(s.n)).length)}: rolled back ${String(refusedFate.rolledBack)}, replaced by the next change's lds.yaml before their verdict ${String(refusedFate.replaced)}, never published (a newer swap came first) ${String(refusedFate.neverPublished)}, ` +
          `LEFT ON DISK ${String(refusedFate.leftOnDisk.length)}${refusedFate.leftOnDisk.length === 0 ? '' : ` (changes ${refusedFate.leftOnDisk.join(', ')})`}; lds.yaml on disk at the end: ${refusedAtEnd ? 'REFUSED CONTENT' : 'not refused content'}`,
        `watcher memory (MiB)            ready RssAnon ${mib(atReady?.anon)} + RssFile ${mib(atReady?.file)} = ${mib(total(atReady))};  peak RssAnon ${mib(peak?.anon)} + RssFile ${mib(peak?.file)} = ${mib(total(peak))}`,
        `memory limit ${String(limitMiB)} MiB (injected default): headroom at ready ${headroom(atReady)}, at peak ${headroom(peak)} (RssAnon + RssFile); ` +
          `at peak ${(100 * (1 - (peak?.anon ?? NaN) / 1024 / limitMiB)).toFixed(0)} % counting only RssAnon (file pages are reclaimable)`,
        ...(charged === undefined
          ? []
          : [
              `cgroup${cgroupLimitMiB === undefined ? '' : ` (limit ${cgroupLimitMiB} MiB)`} charge (MiB)  max_usage ${charged.maxUsage.toFixed(1)}; at end rss ${charged.rss.toFixed(1)}, cache ${charged.cache.toFixed(1)} (mapped_file ${charged.mappedFile.toFixed(1)}, shmem ${charged.shmem.toFixed(1)}); ` +
                `limit hits ${String(charged.failcnt)}, OOM kills ${String(charged.oomKills)}, major faults ${String(charged.majorFaults)}`,
            ]),
        '',
      ].join('\n'),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await envoy.stop();
    await rm(root, { recursive: true, force: true });
    if (cgroup !== undefined) await rmdir(cgroup).catch(() => undefined);
  }
}

function readCgroup(dir: string): { maxUsage: number; rss: number; cache: number; mappedFile: number; shmem: number; failcnt: number; oomKills: number; majorFaults: number } {
  const mib = (bytes: string | undefined) => Number(bytes ?? NaN) / 2 ** 20;
  const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
  const field = (name: string) => new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1];
  return {
    maxUsage: mib(readFileSync(join(dir, 'memory.max_usage_in_bytes'), 'utf8').trim()),
    rss: mib(field('rss')),
    cache: mib(field('cache')),
    mappedFile: mib(field('mapped_file')),
    shmem: mib(field('shmem')),
    failcnt: Number(readFileSync(join(dir, 'memory.failcnt'), 'utf8').trim()),
    oomKills: Number(/^oom_kill (\d+)$/m.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'))?.[1] ?? NaN),
    majorFaults: Number(field('total_pgmajfault') ?? field('pgmajfault')),
  };
}

await main();
