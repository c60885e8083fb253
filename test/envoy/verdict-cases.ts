// The verdict corpus's Pod: a ConfigMap volume filled from a folder of test/fixtures/verdict-cases/
// (placeholders @DST@, @P0@..@P2@, @ADMIN@ replaced), `copy`, a real Envoy 1.40 started on the
// ConfigMap's bootstrap, and `watch` judging each edit. A case is a sequence of ConfigMaps; after
// each one the test compares the watcher's verdicts with Envoy's own counters, and after the last
// one an Envoy restarted from the published directory must serve what the running one served.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { AtomicWriter, CliProcess, makeTempDirs, runCli, waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import type { Outcome } from '../../src/sync/verdict/verdict.js';
import { verdictOccurrence } from '../../src/sync/watch/reporters.js';
import { freePorts, startEnvoy } from './envoy.js';
import type { EnvoyProcess } from './envoy.js';

export const CASES_DIR = new URL('../fixtures/verdict-cases/', import.meta.url).pathname;
export const CASE_FILES = new URL('../fixtures/cases/', import.meta.url).pathname;
export const READY = '..envoy-xds-watch.ready';

/** ConfigMap key → fixture file (relative to the case folder, or `../cases/NAME` for a shared single-file case). */
export type ConfigMapSpec = Record<string, string>;

export interface CasePod {
  readonly folder: string;
  readonly source: string;
  readonly target: string;
  readonly ports: { P0: number; P1: number; P2: number; ADMIN: number };
  writer: AtomicWriter;
  envoy: EnvoyProcess | undefined;
  watcher: CliProcess;
  /** The ConfigMap as last written (key → substituted content). */
  configMap: Record<string, string>;
  /** Fixture text with the placeholders replaced. */
  fixture(name: string): Promise<string>;
  /** Writes the ConfigMap `spec` as kubelet does (one `..data` swap). */
  apply(spec: ConfigMapSpec): Promise<void>;
  startEnvoy(): Promise<EnvoyProcess>;
  /** Stops the watcher and starts it again with the same arguments (its state stays in the target, as in an emptyDir); resolves once it is ready. */
  restartWatcher(): Promise<void>;
  stop(): Promise<void>;
}

export function envoyOf(pod: CasePod): EnvoyProcess {
  assert.ok(pod.envoy, 'Envoy is not running');
  return pod.envoy;
}

export const verdictLines = (pod: CasePod, file: string): LogLine[] => pod.watcher.logs.filter((line) => line.event === 'verdict' && line.file === file);

export interface CaseOptions {
  /** A fixture of the case used as Envoy's bootstrap from outside the ConfigMap (Envoy's own `-c`, as in an image). */
  envoyBootstrap?: string;
  /** Start Envoy only once the watcher is ready, as a native sidecar orders them (default: Envoy first). */
  envoyAfterWatcher?: boolean;
}

/**
 * ConfigMap from `spec` + `copy` + Envoy (on the published bootstrap `envoy.yaml`) + `watch`.
 * Envoy is started before the watcher, as a native sidecar order would not guarantee: the watcher
 * must judge the files `copy` published whichever starts first.
 * With `options.envoyBootstrap`, Envoy's bootstrap is that fixture, kept outside the ConfigMap (as
 * in an image): `copy` and `watch` get no `--bootstrap`, and `watch` gets Envoy's admin by `--admin`.
 * With `options.envoyAfterWatcher`, Envoy starts once the watcher is ready (a native sidecar's order).
 */
export async function startCase(folder: string, spec: ConfigMapSpec, watchArgs: string[] = [], options: CaseOptions = {}): Promise<CasePod> {
  const dirs = await makeTempDirs('envoy-verdict-case-');
  const [P0, P1, P2, ADMIN] = (await freePorts(4)) as [number, number, number, number];
  const ports = { P0, P1, P2, ADMIN };
  const substitute = (text: string): string =>
    text
      .replaceAll('@DST@', dirs.target)
      .replaceAll('@P0@', String(P0))
      .replaceAll('@P1@', String(P1))
      .replaceAll('@P2@', String(P2))
      .replaceAll('@ADMIN@', String(ADMIN))
      .replaceAll('port_value: 18080', `port_value: ${String(P0)}`); // the single-file shared cases
  const envoyDir = join(dirs.root, 'envoy');
  const outside = options.envoyBootstrap === undefined ? undefined : join(dirs.root, 'envoy-bootstrap.yaml');
  const watchCommand: string[] = [];
  const pod: CasePod = {
    folder,
    source: dirs.source,
    target: dirs.target,
    ports,
    writer: new AtomicWriter(dirs.source),
    envoy: undefined,
    watcher: undefined as unknown as CliProcess,
    configMap: {},
    async fixture(name) {
      const path = name.startsWith('../cases/') ? join(CASE_FILES, name.slice('../cases/'.length)) : join(CASES_DIR, folder, name);
      return substitute(await readFile(path, 'utf8'));
    },
    async apply(next) {
      const configMap: Record<string, string> = {};
      for (const [key, name] of Object.entries(next)) configMap[key] = await pod.fixture(name);
      pod.configMap = configMap;
      await pod.writer.write(configMap);
    },
    async startEnvoy() {
      await rm(envoyDir, { recursive: true, force: true });
      await mkdir(envoyDir);
      pod.envoy = await startEnvoy({ bootstrap: { path: outside ?? join(dirs.target, 'envoy.yaml') }, workDir: envoyDir }, 60_000);
      return pod.envoy;
    },
    async restartWatcher() {
      await pod.watcher.stop();
      pod.watcher = new CliProcess(watchCommand);
      await waitFor(() => existsSync(join(dirs.target, READY)), `ready file after the watcher's restart\n${pod.watcher.stdout.slice(-4000)}`);
    },
    async stop() {
      await pod.watcher.stop();
      await pod.envoy?.stop();
      await rm(dirs.root, { recursive: true, force: true });
    },
  };
  await pod.apply(spec);
  if (outside !== undefined) await writeFile(outside, await pod.fixture(options.envoyBootstrap ?? ''));
  const bootstrapArgs = outside === undefined ? ['--bootstrap', 'envoy.yaml'] : [];
  const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, ...bootstrapArgs]);
  assert.equal(copy.code, 0, copy.stdout);
  if (options.envoyAfterWatcher !== true) await pod.startEnvoy();
  watchCommand.push(
    'watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY),
    ...(outside === undefined ? bootstrapArgs : ['--admin', `127.0.0.1:${String(ADMIN)}`]),
    // A loaded 2-core machine: Envoy may take seconds to apply an update; `unknown` must mean it did not answer.
    '--verdict-timeout', '30s',
    ...watchArgs,
  );
  pod.watcher = new CliProcess(watchCommand);
  try {
    await waitFor(() => existsSync(join(dirs.target, READY)) || pod.watcher.logs.some((l) => (l.level ?? 0) >= 50 && l.event !== 'verdict'), 'ready file');
    if (options.envoyAfterWatcher === true) await pod.startEnvoy();
  } catch (err) {
    await pod.stop();
    throw err;
  }
  return pod;
}

/**
 * Waits for the verdict on `file` that follows `after` verdict lines (the count before the edit),
 * and returns it. Fails with the watcher's log if none comes within `timeoutMs`.
 */
export async function nextVerdict(pod: CasePod, file: string, after: number, timeoutMs = 90_000): Promise<LogLine> {
  await waitFor(() => verdictLines(pod, file).length > after, `a verdict on ${file} (after ${String(after)})\n${pod.watcher.stdout.slice(-6000)}`, timeoutMs);
  const line = verdictLines(pod, file)[after];
  assert.ok(line);
  return line;
}

/** Counts of verdict lines per file, taken before an edit. */
export function verdictCounts(pod: CasePod, files: readonly string[]): Map<string, number> {
  return new Map(files.map((file) => [file, verdictLines(pod, file).length]));
}

/** Envoy's counters for one subscription stat prefix (what Envoy says, for comparing with the verdicts). */
export async function subscriptionCounters(envoy: EnvoyProcess, prefix: string): Promise<{ versionText: string; success: number; refused: number; attempt: number }> {
  const escaped = prefix.replace(/[.|]/g, '\\$&');
  const stats = await envoy.stats(`^${escaped}\\.update_`);
  return {
    versionText: await envoy.textStat(`${prefix}.version_text`),
    success: stats.get(`${prefix}.update_success`) ?? 0,
    refused: (stats.get(`${prefix}.update_rejected`) ?? 0) + (stats.get(`${prefix}.update_failure`) ?? 0),
    attempt: stats.get(`${prefix}.update_attempt`) ?? 0,
  };
}

/** The body (or status, or TLS certificate CN) a listener answers with; `-` when nothing answers. */
export async function served(envoy: EnvoyProcess, port: number, how: 'body' | 'status' | 'tls-cn' = 'body'): Promise<string> {
  if (how === 'tls-cn') return tlsCommonName(port);
  const res = await envoy.get(port);
  if (res === undefined) return '-';
  return how === 'status' ? String(res.status) : `${String(res.status)} ${res.body}`;
}

function tlsCommonName(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(typeof cn === 'string' ? cn : '-');
    });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve('-');
    });
    socket.on('error', () => { resolve('-'); });
  });
}

/** What `path` on `port` answers (`-` when nothing listens within 2 s): a case's Lua script answers `/lua`, a direct_response body every other path. */
export async function answer(port: number, path = '/'): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${String(port)}${path}`, { signal: AbortSignal.timeout(2_000) });
    return `${String(res.status)} ${(await res.text()).trim()}`;
  } catch {
    return '-';
  }
}

/** What `port` answers tenant `tenant` (the `x-tenant` header picks a scope of scoped routes); `-` when nothing answers within 2 s. */
export async function tenantServed(port: number, tenant: string): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${String(port)}/`, { headers: { 'x-tenant': tenant }, signal: AbortSignal.timeout(2_000) });
    return `${String(res.status)} ${(await res.text()).trim()}`.trim();
  } catch {
    return '-';
  }
}

/** Polls `probe` until it returns `want` (Envoy applies an update asynchronously). */
export async function waitServed(probe: () => Promise<string>, want: string, what: string, timeoutMs = 30_000): Promise<void> {
  let last = '';
  await waitFor(async () => (last = await probe()) === want, `${what}: want ${JSON.stringify(want)}, last ${JSON.stringify(last)}`, timeoutMs).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (last answer ${JSON.stringify(last)})`);
  });
}

/**
 * What a restart does: stops the running Envoy after reading what it serves (`probes`), starts a
 * new one from the published directory, and returns both answers for the test to compare.
 */
export async function restartFromPublished(pod: CasePod, probes: () => Promise<string[]>): Promise<{ running: string[]; restarted: string[] }> {
  const running = await probes();
  await envoyOf(pod).stop();
  pod.envoy = undefined;
  await pod.startEnvoy();
  // A restarted Envoy loads every file at start; give it the time its listeners and secrets need.
  let restarted = await probes();
  const deadline = Date.now() + 30_000;
  while (JSON.stringify(restarted) !== JSON.stringify(running) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    restarted = await probes();
  }
  return { running, restarted };
}

/**
 * What the kubelet does when the Envoy container is OOMKilled, crashes or fails its liveness probe:
 * the process dies (SIGKILL) and a new one starts from the same bootstrap (the published directory,
 * the same admin address) while the watcher sidecar keeps running. Waits until the old process has
 * run `minUptimeS` seconds first (0: kill it at once, as a crash loop does); `beforeStart` runs between
 * the two (what changed on the node meanwhile). Returns the new process.
 */
export async function restartEnvoyUnderWatcher(pod: CasePod, minUptimeS = 4, beforeStart?: () => Promise<void>): Promise<EnvoyProcess> {
  const old = envoyOf(pod);
  const info = (await (await fetch(`${old.adminUrl}/server_info`)).json()) as { uptime_current_epoch?: string };
  const uptimeS = Number.parseFloat(info.uptime_current_epoch ?? '0');
  if (uptimeS < minUptimeS) await new Promise((resolve) => setTimeout(resolve, (minUptimeS - uptimeS + 0.5) * 1000));
  process.kill(-old.process.pid, 'SIGKILL');
  await old.process.exited;
  pod.envoy = undefined;
  await beforeStart?.();
  return pod.startEnvoy();
}

/** The Event a verdict line makes (what reporters.ts records); `file` defaults to the line's. */
export function eventOfLine(line: LogLine, file = String(line.file)): ReturnType<typeof verdictOccurrence> {
  return verdictOccurrence({
    file,
    version: typeof line.xdsVersion === 'string' ? line.xdsVersion : '',
    outcome: line.outcome as Outcome,
    rolledBack: line.rolledBack === true,
    message: String(line.msg),
    ...(typeof line.latencyMs === 'number' ? { latencyMs: line.latencyMs } : {}),
    ...(typeof line.ignoredFields === 'number' ? { ignoredFields: line.ignoredFields } : {}),
    ...(Array.isArray(line.strandedRoutes) ? { strandedRoutes: line.strandedRoutes as { file: string; clusters: string[] }[] } : {}),
  });
}

/** A watched target and the watcher's lines: a CasePod, or a plain-directory one (plain-dir.ts). */
interface Watched {
  target: string;
  watcher: { logs: LogLine[] };
}

/** The `version_info` of `file` as published in the target (the watcher's stamp). */
export async function publishedVersion(pod: Watched, file: string): Promise<string> {
  const text = await readFile(join(pod.target, file), 'utf8');
  return /^version_info: *"?([^"\n]*)"?/m.exec(text)?.[1] ?? '';
}

/** Waits until the watcher has said nothing for 1.5 s (Envoy's verdicts on a sequence all came). */
export async function quiet(pod: Watched): Promise<void> {
  let seen = -1;
  let since = Date.now();
  await waitFor(() => {
    if (pod.watcher.logs.length !== seen) [seen, since] = [pod.watcher.logs.length, Date.now()];
    return Date.now() - since > 1500;
  }, 'a quiet watcher', 120_000);
}

/** `err` with the watcher's lines (info and above: file, outcome, message) added to its message, for a failing case to show. */
export function withWatcherLines(pod: CasePod, err: unknown): unknown {
  const lines = pod.watcher.logs.filter((l) => (l.level ?? 0) >= 30).map((l) => `${String(l.file)} ${String(l.outcome)} ${String(l.msg)}`);
  if (err instanceof Error) err.message += `\nthe watcher's lines:\n${lines.join('\n')}`;
  return err;
}
