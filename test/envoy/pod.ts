// A Pod as the verdict tests run it, on this machine: a ConfigMap volume (kubelet's AtomicWriter
// layout), the emptyDir `copy` fills, a real Envoy 1.40 started on the bootstrap from the
// ConfigMap, and `watch` judging what Envoy does with each publish. Shared by verdict*.test.ts.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicWriter, CliProcess, makeTempDirs, runCli, waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import { bootstrapYaml, freePorts, startEnvoy } from './envoy.js';
import type { EnvoyProcess } from './envoy.js';

export const TIMEOUT = { timeout: 240_000 };
export const READY = '..envoy-xds-watch.ready';
export const CASES = new URL('../fixtures/cases/', import.meta.url).pathname;

/** The shared case (parses, has its @types, Envoy refuses it), on our listener port. */
export async function refusedLds(port: number): Promise<string> {
  const text = await readFile(join(CASES, 'envoy-rejects-parses-fine.lds.yaml'), 'utf8');
  assert.match(text, /port_value: 18080/);
  return text.replace('port_value: 18080', `port_value: ${String(port)}`);
}

export const verdicts = (logs: LogLine[], file: string) => logs.filter((line) => line.event === 'verdict' && line.file === file);

export interface Pod {
  source: string;
  target: string;
  port: number;
  adminPort: number;
  writer: AtomicWriter;
  envoy: EnvoyProcess | undefined;
  watcher: CliProcess;
  bootstrapText: string;
  startEnvoy(): Promise<EnvoyProcess>;
  stop(): Promise<void>;
}

export function running(pod: Pod): EnvoyProcess {
  assert.ok(pod.envoy, 'Envoy is not running');
  return pod.envoy;
}

/** ConfigMap volume + emptyDir + copy + Envoy (bootstrap from the ConfigMap) + watch. */
export async function startPod(opts: {
  lds: (port: number, target: string) => Promise<string> | string;
  /** More ConfigMap keys; `cds.yaml` among them also goes into the bootstrap's cds_config. */
  extra?: (target: string) => Record<string, string>;
  watchArgs?: string[];
  startEnvoy?: boolean;
  /** The watcher reaches Envoy's admin API (port `adminPort`) at the address this gives (`--admin`). */
  adminVia?: (adminPort: number) => Promise<string>;
}): Promise<Pod> {
  const dirs = await makeTempDirs('envoy-verdict-');
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const writer = new AtomicWriter(dirs.source);
  const extra = opts.extra?.(dirs.target) ?? {};
  const bootstrapText = bootstrapYaml({
    lds: join(dirs.target, 'lds.yaml'),
    ...('cds.yaml' in extra ? { cds: join(dirs.target, 'cds.yaml') } : {}),
    admin: { port: adminPort },
  });
  await writer.write({ 'envoy.yaml': bootstrapText, 'lds.yaml': await opts.lds(port, dirs.target), ...extra });
  const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml']);
  assert.equal(copy.code, 0, copy.stdout);
  const envoyDir = join(dirs.root, 'envoy');
  const pod: Pod = {
    ...dirs,
    port,
    adminPort,
    writer,
    envoy: undefined,
    bootstrapText,
    watcher: undefined as unknown as CliProcess,
    async startEnvoy() {
      await rm(envoyDir, { recursive: true, force: true });
      await mkdir(envoyDir);
      pod.envoy = await startEnvoy({ bootstrap: { path: join(dirs.target, 'envoy.yaml') }, workDir: envoyDir });
      return pod.envoy;
    },
    async stop() {
      await pod.watcher.stop();
      await pod.envoy?.stop();
      await rm(dirs.root, { recursive: true, force: true });
    },
  };
  if (opts.startEnvoy !== false) await pod.startEnvoy();
  pod.watcher = new CliProcess([
    'watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY), '--bootstrap', 'envoy.yaml',
    ...(opts.watchArgs ?? []),
    ...(opts.adminVia === undefined ? [] : ['--admin', await opts.adminVia(adminPort)]),
  ]);
  try {
    await waitFor(() => existsSync(join(dirs.target, READY)) || pod.watcher.logs.some((l) => (l.level ?? 0) >= 50 && l.event !== 'verdict'), 'ready file');
  } catch (err) {
    await pod.stop();
    throw err;
  }
  return pod;
}
