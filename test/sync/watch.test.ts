import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { bootstrapYaml, freePorts, startEnvoy, type EnvoyProcess } from '../envoy/envoy.js';
import { CORPUS_PORT } from '../envoy/oracle.js';
import {
  AtomicWriter,
  BOOTSTRAP,
  CliProcess,
  EnvoyStandIn,
  ldsProbeBody,
  analyzeReloads,
  makeTempDirs,
  publishedText,
  repoRoot,
  runCli,
  sha256,
  versionOf,
  waitFor,
  xdsFile,
} from './harness.js';
import type { LogLine } from './harness.js';

const READY = '..envoy-xds-watch.ready';
const VERDICT_STATE = '..envoy-xds-verdict'; // Envoy's verdicts (src/sync/verdict/state.ts)
const WATCHED = ['envoy.yaml', 'cds.yaml', 'lds.yaml', 'eds.yaml', 'marker.txt'] as const;
const TIMEOUT = { timeout: 240_000 };

// The port of the LDS files' probe listener (xdsFile's probePort): tests in this file run one at a
// time, each with its own Envoy.
let probePort: number;
before(async () => {
  [probePort] = (await freePorts(1)) as [number];
});

/** Envoy's counters for the xDS file `file` feeds (cds.yaml → CDS, lds.yaml → LDS). */
const SUBSCRIPTION: Record<string, string> = { 'cds.yaml': 'cluster_manager.cds', 'lds.yaml': 'listener_manager.lds' };

/**
 * A Pod in miniature: ConfigMap volume, emptyDir, copy, watch, and real Envoy 1.40 reading cds.yaml
 * and lds.yaml from the emptyDir (`envoy: false` leaves it out). An inotifywait stand-in counts the
 * renames onto every watched name and keeps what each one delivered, so torn and stale reads are
 * recognisable.
 */
async function startPod(options: { initial?: Record<string, string>; copyFirst?: boolean; env?: NodeJS.ProcessEnv; envoy?: boolean } = {}) {
  const dirs = await makeTempDirs();
  const writer = new AtomicWriter(dirs.source);
  // sha256 of every content written, per file, so torn and stale reads are recognisable.
  const known = new Map<string, Map<string, number>>();
  let version = 0;
  const write = async (payload: Record<string, string>) => {
    for (const [file, content] of Object.entries(payload)) {
      const versions = known.get(file) ?? new Map<string, number>();
      versions.set(sha256(publishedText(file, content)), versionOf(Buffer.from(content)) ?? version);
      known.set(file, versions);
    }
    version++;
    return writer.write(payload);
  };
  if (options.initial) await write(options.initial);
  if (options.initial && options.copyFirst !== false) {
    const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target], options.env === undefined ? {} : { env: options.env });
    assert.equal(copy.code, 0, copy.stdout);
  }
  const renames = await EnvoyStandIn.start(dirs.target, WATCHED);
  // Envoy refuses to start when a path_config_source file does not exist ("paths must refer to an
  // existing path"): it reads only the xDS files the Pod starts with (none: no Envoy in this pod).
  const xds: { cds?: string; lds?: string } = {};
  for (const kind of ['cds', 'lds'] as const) if (existsSync(join(dirs.target, `${kind}.yaml`))) xds[kind] = join(dirs.target, `${kind}.yaml`);
  let envoy: EnvoyProcess | undefined;
  try {
    if (options.envoy !== false && Object.keys(xds).length > 0) envoy = await startPodEnvoy(xds);
  } catch (err) {
    await renames.stop();
    await rm(dirs.root, { recursive: true, force: true });
    throw err;
  }
  // Envoy's counters once it has loaded what copy published.
  const startCounts = new Map<string, EnvoyCounts>();
  if (envoy) for (const file of Object.keys(SUBSCRIPTION)) startCounts.set(file, await envoyCounts(envoy, file));
  const watcher = new CliProcess([
    'watch',
    '--from',
    dirs.source,
    '--to',
    dirs.target,
    '--ready-file',
    join(dirs.target, READY),
    '--bootstrap',
    'envoy.yaml',
  ], options.env === undefined ? {} : { env: options.env });
  const stop = async () => {
    await watcher.stop();
    await renames.stop();
    await envoy?.stop();
    await rm(dirs.root, { recursive: true, force: true });
  };
  try {
    // The ready file is created, then written: wait for its content, not just its name.
    const ready = () => readFile(join(dirs.target, READY), 'utf8').then((text) => text !== '', () => false);
    await waitFor(async () => (await ready()) || watcher.logs.some((l) => (l.level ?? 0) >= 50), 'ready file');
  } catch (err) {
    await stop();
    throw err;
  }
  /**
   * Waits until version `wanted` of `file` was renamed into place and, for cds.yaml/lds.yaml, until
   * Envoy reports it as its `version_text` (and, for lds.yaml, serves the probe body of it).
   */
  const reloadedTo = async (file: string, wanted: number) => {
    await waitFor(() => renames.reloadsOf(file).some((reload) => versionOf(reload.content) === wanted), `${file} version ${wanted} renamed into place`);
    const subscription = SUBSCRIPTION[file];
    if (envoy === undefined || subscription === undefined) return;
    // Envoy's admin (its main thread) may be too busy loading a big update to answer in time: retry.
    const reported = async () => (await envoy.textStat(`${subscription}.version_text`).catch(() => '')).startsWith(`${String(wanted)}+sha256:`);
    await waitFor(reported, `Envoy to report ${file} version ${wanted}`, 120_000);
    if (file === 'lds.yaml') await envoy.waitForBody(probePort, ldsProbeBody(wanted), 60_000);
  };
  /** What Envoy counted for `file` since the pod started: one attempt per rename, all successful. */
  const envoyCountsSinceStart = async (file: string): Promise<EnvoyCounts> => {
    if (envoy === undefined) throw new Error('this pod runs no Envoy');
    const now = await envoyCounts(envoy, file);
    const base = startCounts.get(file) ?? { attempt: 0, success: 0, rejected: 0, failure: 0 };
    return { attempt: now.attempt - base.attempt, success: now.success - base.success, rejected: now.rejected - base.rejected, failure: now.failure - base.failure };
  };
  const stats = (file: string) => analyzeReloads(renames.reloadsOf(file), known.get(file) ?? new Map());
  return { ...dirs, writer, write, renames, envoy, watcher, stop, reloadedTo, stats, envoyCountsSinceStart };
}

/** Real Envoy reading the pod's xDS files (`{ cds?: path, lds?: path }`). */
function startPodEnvoy(xds: { cds?: string; lds?: string }): Promise<EnvoyProcess> {
  return startEnvoy({
    bootstrap: { text: bootstrapYaml(xds) },
    logLevel: 'warning',
    // Replaced listeners close at once instead of draining for 10 minutes.
    args: ['--drain-time-s', '1', '--drain-strategy', 'immediate'],
  });
}

interface EnvoyCounts {
  attempt: number;
  success: number;
  rejected: number;
  failure: number;
}

async function envoyCounts(envoy: EnvoyProcess, file: string): Promise<EnvoyCounts> {
  const prefix = SUBSCRIPTION[file] ?? '';
  const stats = await envoy.stats(`^${prefix.replace(/[.]/g, '\\.')}\\.update_`);
  const get = (name: string) => stats.get(`${prefix}.update_${name}`) ?? 0;
  return { attempt: get('attempt'), success: get('success'), rejected: get('rejected'), failure: get('failure') };
}

const v = (n: number) => ({
  'envoy.yaml': BOOTSTRAP,
  'cds.yaml': xdsFile('cds', n, 4000),
  'lds.yaml': xdsFile('lds', n, 2000, { probePort }),
  'marker.txt': '# version: 0\n',
});
const published = (logs: LogLine[], file: string) => logs.filter((line) => line.msg === 'published' && line.file === file);

test('a single update reaches Envoy as exactly one reload of the changed file', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0) });
  try {
    await pod.write({ ...v(0), 'cds.yaml': xdsFile('cds', 1, 4000) });
    await pod.reloadedTo('cds.yaml', 1);
    // A later change to another file: once Envoy sees it, every rename before it has been seen too.
    await pod.write({ ...v(0), 'cds.yaml': xdsFile('cds', 1, 4000), 'marker.txt': '# version: 2\n' });
    await pod.reloadedTo('marker.txt', 2);
    assert.deepEqual(pod.stats('cds.yaml').delivered, [1]);
    assert.equal(pod.renames.reloadsOf('lds.yaml').length, 0);
    assert.equal(pod.renames.reloadsOf('envoy.yaml').length, 0);
    // Envoy: one CDS update, loaded; LDS untouched and still serving version 0.
    assert.deepEqual(await pod.envoyCountsSinceStart('cds.yaml'), { attempt: 1, success: 1, rejected: 0, failure: 0 });
    assert.deepEqual(await pod.envoyCountsSinceStart('lds.yaml'), { attempt: 0, success: 0, rejected: 0, failure: 0 });
    assert.equal((await pod.envoy?.get(probePort))?.body, ldsProbeBody(0));
    const line = published(pod.watcher.logs, 'cds.yaml')[0];
    assert.ok(line);
    assert.equal(line.bytes, Buffer.byteLength(publishedText('cds.yaml', xdsFile('cds', 1, 4000))));
    assert.equal(line.sha256, sha256(publishedText('cds.yaml', xdsFile('cds', 1, 4000))).slice(0, 12));
  } finally {
    await pod.stop();
  }
});

test('the ready file appears after the initial sync; SIGTERM exits 0 and removes it', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0), copyFirst: false, envoy: false });
  try {
    // No copy ran: whatever is in the target when the ready file exists was the watcher's first sync.
    assert.equal(versionOf(await readFile(join(pod.target, 'cds.yaml'))), 0);
    assert.equal(await readFile(join(pod.target, READY), 'utf8'), `${pod.watcher.pid}\n`);
    const { code } = await pod.watcher.stop();
    assert.equal(code, 0);
    assert.deepEqual((await readdir(pod.target)).filter((name) => name !== VERDICT_STATE).sort(), ['cds.yaml', 'envoy.yaml', 'lds.yaml', 'marker.txt']);
  } finally {
    await pod.stop();
  }
});

// 128+32 KiB: big enough for torn reads to show, small enough for real Envoy to load every
// publish of the burst in reasonable time on a loaded 2-core machine.
test('500 back-to-back updates of large files: last version wins, no torn, stale or extra reloads', TIMEOUT, async () => {
  const big = (n: number) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': xdsFile('cds', n, 128 * 1024), 'lds.yaml': xdsFile('lds', n, 32 * 1024, { probePort }) });
  const pod = await startPod({ initial: big(0) });
  try {
    for (let n = 1; n <= 500; n++) await pod.write(big(n));
    await pod.reloadedTo('cds.yaml', 500);
    await pod.reloadedTo('lds.yaml', 500);
    for (const file of ['cds.yaml', 'lds.yaml']) {
      const stats = pod.stats(file);
      assert.equal(stats.torn, 0, `${file}: torn reads`);
      assert.equal(stats.backwards, 0, `${file}: an older version after a newer one`);
      assert.equal(versionOf(await readFile(join(pod.target, file))), 500);
      // Each publish is one rename, each rename one reload, and no content is published twice.
      const renames = published(pod.watcher.logs, file);
      assert.equal(pod.renames.reloadsOf(file).length, renames.length, `${file}: reloads vs renames`);
      assert.ok(renames.length <= 500, `${file}: ${renames.length} renames for 500 changes`);
      const versions = renames.map((line) => Number(/^# version: (\d+)/.exec(xdsFileBySha(file, String(line.sha256)))?.[1]));
      assert.deepEqual(versions, [...new Set(versions)].sort((a, b) => a - b), `${file}: versions published in order, once`);
      // Real Envoy: one update per rename, every one loaded (it never read a torn file).
      const counts = await pod.envoyCountsSinceStart(file);
      assert.deepEqual(counts, { attempt: renames.length, success: renames.length, rejected: 0, failure: 0 }, `${file}: Envoy's updates`);
    }
    // Make before break: in every pass that changed both, clusters were renamed before listeners.
    const order = pod.watcher.logs.filter((line) => line.msg === 'published').map((line) => `${String(line.snapshot)} ${String(line.file)}`);
    for (const [index, entry] of order.entries()) {
      if (entry.endsWith(' lds.yaml')) assert.equal(order[index - 1], entry.replace('lds.yaml', 'cds.yaml'));
    }
    assert.equal(pod.renames.reloadsOf('envoy.yaml').length, 0);
  } finally {
    await pod.stop();
  }

  function xdsFileBySha(file: string, prefix: string): string {
    for (let n = 0; n <= 500; n++) {
      const content = big(n)[file as 'cds.yaml'];
      if (sha256(publishedText(file, content)).startsWith(prefix)) return content;
    }
    return '';
  }
});

test('SIGTERM in the middle of a burst exits 0 and leaves only complete files, no temp files', TIMEOUT, async () => {
  const big = (n: number) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': xdsFile('cds', n, 128 * 1024), 'lds.yaml': xdsFile('lds', n, 32 * 1024) });
  const pod = await startPod({ initial: big(0), envoy: false });
  try {
    for (let n = 1; n <= 40; n++) {
      await pod.write(big(n));
      if (n === 20) pod.watcher.kill('SIGTERM');
    }
    const { code } = await pod.watcher.exited;
    assert.equal(code, 0);
    const names = (await readdir(pod.target)).filter((name) => name !== VERDICT_STATE).sort();
    assert.deepEqual(names, ['cds.yaml', 'envoy.yaml', 'lds.yaml'], 'no temp files, no ready file');
    for (const file of ['cds.yaml', 'lds.yaml'] as const) {
      const content = await readFile(join(pod.target, file), 'utf8');
      const version = versionOf(Buffer.from(content)) ?? -1;
      assert.equal(content, publishedText(file, big(version)[file]), `${file} is a complete version`);
    }
  } finally {
    await pod.stop();
  }
});

// The environment the injector gives the sync containers (docs/sync.md, "Memory"). Its heap ceiling
// must leave room for the largest file a ConfigMap can hold (1 MiB in all, so one key just under it).
const INJECTED_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1',
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_TOP_PAD_: '0',
};

test('a ConfigMap-sized (~1 MiB) xDS file is copied and republished under the injected NODE_OPTIONS', TIMEOUT, async () => {
  const huge = (n: number) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': xdsFile('cds', n, 1024 * 1024 - 8 * 1024) });
  const pod = await startPod({ initial: huge(0), env: INJECTED_ENV });
  try {
    assert.ok(Buffer.byteLength(huge(1)['cds.yaml']) + Buffer.byteLength(BOOTSTRAP) <= 1024 * 1024);
    assert.ok(Buffer.byteLength(huge(1)['cds.yaml']) > 1000 * 1024);
    assert.equal(versionOf(await readFile(join(pod.target, 'cds.yaml'))), 0); // copy's work
    await pod.write(huge(1));
    await pod.reloadedTo('cds.yaml', 1);
    await pod.write(huge(2));
    await pod.reloadedTo('cds.yaml', 2);
    assert.equal(pod.stats('cds.yaml').torn, 0);
    assert.equal(await readFile(join(pod.target, 'cds.yaml'), 'utf8'), publishedText('cds.yaml', huge(2)['cds.yaml']));
    assert.equal(published(pod.watcher.logs, 'cds.yaml').length, 2);
    assert.deepEqual(await pod.envoyCountsSinceStart('cds.yaml'), { attempt: 2, success: 2, rejected: 0, failure: 0 }, 'Envoy loaded both');
    assert.equal(pod.watcher.logs.filter((line) => (line.level ?? 0) >= 50).length, 0, pod.watcher.stdout);
    const { code } = await pod.watcher.stop();
    assert.equal(code, 0, pod.watcher.stderr);
  } finally {
    await pod.stop();
  }
});

test('invalid YAML is held back with file and line; the next valid version goes through', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0) });
  try {
    await pod.write({ ...v(1), 'lds.yaml': 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: [broken\n' });
    const rejection = await pod.watcher.waitForLog((line) => String(line.msg).startsWith('rejected lds.yaml'), 'rejection');
    assert.equal(rejection.file, 'lds.yaml');
    assert.equal(typeof rejection.line, 'number');
    await pod.reloadedTo('cds.yaml', 1);
    assert.equal(versionOf(await readFile(join(pod.target, 'lds.yaml'))), 0, 'the last good lds.yaml stays');
    assert.equal((await pod.envoy?.get(probePort))?.body, ldsProbeBody(0), 'Envoy keeps serving version 0');
    assert.equal((await pod.envoyCountsSinceStart('lds.yaml')).attempt, 0, 'Envoy was not asked to load the invalid file');

    await pod.write(v(2));
    await pod.reloadedTo('lds.yaml', 2);
    const lds = pod.stats('lds.yaml');
    assert.equal(lds.torn, 0);
    assert.deepEqual(lds.delivered, [2], 'Envoy never saw the invalid file');
    assert.deepEqual(await pod.envoyCountsSinceStart('lds.yaml'), { attempt: 1, success: 1, rejected: 0, failure: 0 });
  } finally {
    await pod.stop();
  }
});

test('an update in Envoy\'s own YAML dialect (shared case envoy-accepts-ignore-tag) is published and Envoy serves it', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0) });
  try {
    const fixture = await readFile(join(repoRoot, 'test/fixtures/envoy-corpus/accepts.ignore-tag-on-value.lds.yaml'), 'utf8');
    await pod.write({ ...v(0), 'lds.yaml': fixture.replaceAll(CORPUS_PORT, String(probePort)) });
    await pod.envoy?.waitForBody(probePort, 'v1', 60_000);
    assert.equal(pod.watcher.logs.filter((line) => String(line.msg).startsWith('rejected')).length, 0, pod.watcher.stdout);
    assert.deepEqual(await pod.envoyCountsSinceStart('lds.yaml'), { attempt: 1, success: 1, rejected: 0, failure: 0 });
  } finally {
    await pod.stop();
  }
});

test('keys added are published; keys removed are kept with a warning; re-added keys come back', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0) });
  const eds = (n: number) =>
    `# version: ${n}\nversion_info: "${n}"\nresources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: c${n}\n`;
  try {
    await pod.write({ ...v(0), 'eds.yaml': eds(1) });
    await pod.reloadedTo('eds.yaml', 1);

    const { 'marker.txt': _marker, ...withoutMarker } = v(0);
    await pod.write({ ...withoutMarker, 'cds.yaml': xdsFile('cds', 2, 4000) });
    await pod.reloadedTo('cds.yaml', 2);
    for (const file of ['eds.yaml', 'marker.txt']) {
      await pod.watcher.waitForLog((line) => line.level === 40 && line.file === file && String(line.msg).includes('no longer in the ConfigMap'), `${file} kept`);
      assert.ok(existsSync(join(pod.target, file)), `${file} kept in the target`);
    }
    assert.equal(versionOf(await readFile(join(pod.target, 'eds.yaml'))), 1);

    await pod.write({ ...v(0), 'eds.yaml': eds(3) });
    await pod.reloadedTo('eds.yaml', 3);
    assert.deepEqual(pod.stats('eds.yaml').delivered, [1, 3]);
  } finally {
    await pod.stop();
  }
});

test('a bootstrap change is published with a restart warning', TIMEOUT, async () => {
  const pod = await startPod({ initial: v(0) });
  try {
    await pod.write({ ...v(0), 'envoy.yaml': `${BOOTSTRAP}# changed\n` });
    const warning = await pod.watcher.waitForLog((line) => line.level === 40 && line.file === 'envoy.yaml', 'bootstrap warning');
    assert.match(String(warning.msg), /restart/);
    assert.equal(await readFile(join(pod.target, 'envoy.yaml'), 'utf8'), `${BOOTSTRAP}# changed\n`);
    for (const file of ['cds.yaml', 'lds.yaml']) assert.equal((await pod.envoyCountsSinceStart(file)).attempt, 0, `${file}: no Envoy update`);
  } finally {
    await pod.stop();
  }
});

test('an empty ConfigMap volume at start is waited for, then published', TIMEOUT, async () => {
  const pod = await startPod();
  try {
    await pod.watcher.waitForLog((line) => String(line.msg).includes('is empty'), 'empty warning');
    await pod.write(v(1));
    await pod.reloadedTo('cds.yaml', 1);
    await pod.reloadedTo('lds.yaml', 1);
    // Envoy cannot start before its xDS files exist; once published, it loads them.
    const envoy = await startPodEnvoy({ cds: join(pod.target, 'cds.yaml'), lds: join(pod.target, 'lds.yaml') });
    try {
      await envoy.waitForBody(probePort, ldsProbeBody(1));
      assert.match(await envoy.textStat('cluster_manager.cds.version_text'), /^1\+sha256:/);
    } finally {
      await envoy.stop();
    }
  } finally {
    await pod.stop();
  }
});

test('a plain source directory is watched too (local development)', TIMEOUT, async () => {
  const pod = await startPod({ envoy: false });
  try {
    await writeFile(join(pod.source, 'marker.txt.tmp'), '# version: 7\n');
    await rename(join(pod.source, 'marker.txt.tmp'), join(pod.source, 'marker.txt'));
    await waitFor(() => pod.renames.reloadsOf('marker.txt').some((r) => versionOf(r.content) === 7), 'marker.txt published');
  } finally {
    await pod.stop();
  }
});

test('watch fails fast when the ConfigMap mount or the target is missing', TIMEOUT, async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    const noSource = await runCli(['watch', '--from', join(root, 'nope'), '--to', target]);
    assert.equal(noSource.code, 1);
    assert.match(noSource.logs.map((l) => String(l.msg)).join('\n'), /ConfigMap volume .*nope does not exist/);
    await new AtomicWriter(source).write(v(0));
    const noTarget = await runCli(['watch', '--from', source, '--to', join(root, 'nope')]);
    assert.equal(noTarget.code, 1);
    assert.match(noTarget.logs.map((l) => String(l.msg)).join('\n'), /target directory .*nope does not exist/);
    const badFlag = await runCli(['watch', '--from', source, '--to', target, '--resync', 'often']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--resync/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a remounted source (directory removed, then back) is watched again at once: changes arrive without waiting for the resync', TIMEOUT, async () => {
  const { root, source, target } = await makeTempDirs();
  await new AtomicWriter(source).write(v(0));
  assert.equal((await runCli(['copy', '--from', source, '--to', target])).code, 0);
  const envoy = await EnvoyStandIn.start(target, WATCHED);
  // A resync far beyond the test's timeout: only the re-armed inotify watch can deliver.
  const watcher = new CliProcess(['watch', '--from', source, '--to', target, '--ready-file', join(target, READY), '--resync', '1h']);
  const reloadedTo = (file: string, wanted: number) =>
    waitFor(() => envoy.reloadsOf(file).some((reload) => versionOf(reload.content) === wanted), `${file} version ${wanted} reaching Envoy`);
  try {
    await waitFor(() => existsSync(join(target, READY)), 'ready file');

    // Gone for a while (unmounted), then back with a new version.
    await rm(source, { recursive: true });
    await watcher.waitForLog((line) => String(line.msg).includes('is gone (unmounted or replaced)'), 'gone warning');
    await mkdir(source);
    const writer = new AtomicWriter(source);
    await writer.write(v(1));
    await reloadedTo('cds.yaml', 1);
    await watcher.waitForLog((line) => line.msg === 'ConfigMap volume is back: watching it again', 'back');
    // The watch itself is re-armed: the next change arrives as on the normal path.
    await writer.write(v(2));
    await reloadedTo('cds.yaml', 2);
    assert.equal(watcher.logs.filter((line) => String(line.msg).includes('is gone')).length, 1, 'the gone warning is not repeated per event');

    // Replaced in one go (removed and recreated between two events).
    await rm(source, { recursive: true });
    await mkdir(source);
    const next = new AtomicWriter(source);
    await next.write(v(3));
    await reloadedTo('lds.yaml', 3);
    await next.write(v(4));
    await reloadedTo('lds.yaml', 4);
  } finally {
    await watcher.stop();
    await envoy.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('a key that is a symlink pointing outside the volume is not published, and said so once', TIMEOUT, async () => {
  const { root, source, target } = await makeTempDirs();
  const elsewhere = join(root, 'elsewhere');
  await mkdir(elsewhere);
  await writeFile(join(elsewhere, 'cds.yaml'), xdsFile('cds', 1, 100));
  await mkdir(join(source, 'real'));
  await writeFile(join(source, 'real', 'lds.yaml'), xdsFile('lds', 1, 100));
  await symlink(join(elsewhere, 'cds.yaml'), join(source, 'cds.yaml')); // outside, readable here
  await symlink('/nonexistent/envoy.yaml', join(source, 'envoy.yaml')); // outside, absent here (another container's path)
  await symlink('real/lds.yaml', join(source, 'lds.yaml')); // inside: published
  const watcher = new CliProcess(['watch', '--from', source, '--to', target, '--ready-file', join(target, READY)]);
  try {
    await waitFor(() => existsSync(join(target, READY)), 'ready file');
    assert.ok(existsSync(join(target, 'lds.yaml')), 'a symlink inside the volume is published');
    // More passes: the message is not repeated.
    for (let i = 2; i <= 4; i++) {
      await writeFile(join(source, `marker-${i}.txt`), `${i}\n`);
      await waitFor(() => existsSync(join(target, `marker-${i}.txt`)), `marker-${i}.txt published`);
    }
    for (const [file, link] of [['cds.yaml', join(elsewhere, 'cds.yaml')], ['envoy.yaml', '/nonexistent/envoy.yaml']] as const) {
      assert.equal(existsSync(join(target, file)), false, `${file} not published`);
      const lines = watcher.logs.filter((line) => line.file === file && String(line.msg).includes('outside the ConfigMap volume'));
      assert.equal(lines.length, 1, `${file}: one log line`);
      assert.equal(lines[0]?.msg, `key ${file} is a symlink to ${link}, outside the ConfigMap volume ${source}: not published`);
    }
  } finally {
    await watcher.stop();
    await rm(root, { recursive: true, force: true });
  }
});
