// The real sample of bench/fanout.ts: `envoy-xds-injector watch --source api` processes (tsc output,
// the injected NODE_OPTIONS/MALLOC_* env) each next to a real Envoy 1.40 reading LDS from the
// watcher's target directory, all following the one ConfigMap; and the fleet/probe child process.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { bootstrapYaml, startEnvoy, type EnvoyProcess } from '../test/envoy/envoy.js';
import type { Cluster } from '../test/e2e/cluster.js';
import { plain } from '../test/e2e/objects.js';
import { AtomicWriter, CliProcess, repoRoot, runCli } from '../test/sync/harness.js';
import { SYNC_ENV } from '../src/inject/containers.js';

// The env the injected copy/watch containers get (src/inject), so the bench runs what a Pod runs.
const WATCHER_ENV: Record<string, string> = { ...Object.fromEntries(SYNC_ENV.map((e) => [e.name, e.value])), LOG_LEVEL: 'info' };

export interface RealPod {
  readonly name: string;
  readonly envoy: EnvoyProcess;
  readonly watcher: CliProcess;
  /** Epoch ms of the watcher's last `published` line for `rv` (every changed file renamed into place). */
  publishedAt(rv: string, files: number): number | undefined;
  stop(): Promise<void>;
}

/** `accepted`: the last-accepted store's data as the kubelet projects it, for `copy --accepted` (as an injected source: api Pod). */
export interface PodSpec { namespace: string; serviceAccount: string; configMap: string; name: string; kubeconfig: string; data: Record<string, string>; entry: string; accepted?: Record<string, string> }

export async function startRealPod(cluster: Cluster, spec: PodSpec): Promise<RealPod> {
  await cluster.core.deleteNamespacedPod({ name: spec.name, namespace: spec.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  const pod = await cluster.core.createNamespacedPod({
    namespace: spec.namespace,
    body: plain<k8s.V1Pod>({ metadata: { name: spec.name }, spec: { serviceAccountName: spec.serviceAccount, containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.40.0' }] } }),
  });
  const root = await mkdtemp(join(tmpdir(), 'envoy-xds-fanout-'));
  const source = join(root, 'source');
  const target = join(root, 'target');
  await mkdir(source);
  await mkdir(target);
  await new AtomicWriter(source).write(spec.data);
  const accepted = join(root, 'accepted');
  if (spec.accepted !== undefined) {
    await mkdir(accepted);
    await new AtomicWriter(accepted).write(spec.accepted);
  }
  const copy = await runCli(['copy', '--from', source, '--to', target, ...(spec.accepted === undefined ? [] : ['--accepted', accepted])]);
  if (copy.code !== 0) throw new Error(`copy failed: ${copy.stdout}${copy.stderr}`);
  const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(target, 'lds.yaml') }) }, workDir: root, logLevel: 'warning' });
  const watcher = new CliProcess(
    [
      'watch', '--from', source, '--to', target, '--ready-file', join(target, '..envoy-xds-watch.ready'),
      '--source', 'api', '--configmap', spec.configMap, '--namespace', spec.namespace, '--pod', spec.name,
      '--kubeconfig', spec.kubeconfig, '--admin', envoy.adminUrl.replace(/^http:\/\//, ''),
    ],
    { env: { ...WATCHER_ENV, POD_UID: pod.metadata?.uid ?? '', POD_SERVICE_ACCOUNT: spec.serviceAccount }, entry: [spec.entry] },
  );
  try {
    await watcher.waitForLog((l) => l.msg === 'following the ConfigMap through the Kubernetes API', 'API in use', 120_000);
  } catch (err) {
    await watcher.stop();
    await envoy.stop();
    throw err;
  }
  return {
    name: spec.name,
    envoy,
    watcher,
    publishedAt(rv, files) {
      const lines = watcher.logs.filter((l) => l.msg === 'published' && l.resourceVersion === rv);
      if (lines.length < files) return undefined;
      return Math.max(...lines.map((l) => Number(l.time)));
    },
    async stop() {
      await watcher.stop();
      await envoy.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The child processes' modes (bench/fanout-fleet.ts): our code three ways, the floor two. */
export type FleetMode = 'ours' | 'ours-bookmarks' | 'ours-split' | 'ours-sync' | 'ours-kept' | 'ours-rewatch' | 'floor' | 'floor-load' | 'floor-h2' | 'floor-h2-go' | 'floor-h2-lean' | 'floor-h2-reflector' | 'floor-h2-start' | 'floor-h2-readyz' | 'floor-h2-store' | 'floor-h2-store-late' | 'ours-http1' | 'ours-refused' | 'ours-nostore' | 'ours-store-cache' | 'ours-store-get';

/** The fleet (`ours*`) or probe (`floor*`) child process (bench/fanout-fleet.ts), spoken to over IPC. */
export class Fleet {
  private readonly child: ChildProcess;
  private readonly waiters: { op: string; rv?: string; resolve: (msg: FleetMessage) => void; reject: (err: Error) => void }[] = [];

  constructor(mode: FleetMode, configPath: string) {
    this.child = fork(join(repoRoot, 'bench/fanout-fleet.ts'), [mode, configPath], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (msg: FleetMessage) => {
      const i = this.waiters.findIndex((w) => w.op === msg.op && (w.rv === undefined || w.rv === msg.rv));
      if (i !== -1) this.waiters.splice(i, 1)[0]?.resolve(msg);
    });
    this.child.on('exit', (code, signal) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`fleet exited (${String(code ?? signal)})`));
    });
  }

  get pid(): number { return this.child.pid ?? 0; }

  private ask(msg: Record<string, unknown>, reply: string, rv?: string): Promise<FleetMessage> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ op: reply, ...(rv === undefined ? {} : { rv }), resolve, reject });
      this.child.send(msg);
    });
  }

  open(from: number, to: number): Promise<FleetMessage> { return this.ask({ op: 'open', from, to }, 'opened'); }
  delivered(rv: string, timeoutMs: number): Promise<FleetMessage> { return this.ask({ op: 'expect', rv, timeoutMs }, 'delivered', rv); }
  status(): Promise<FleetMessage> { return this.ask({ op: 'status' }, 'status'); }
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    await Promise.race([this.ask({ op: 'close' }, 'closed').catch(() => undefined), new Promise((r) => setTimeout(r, 20_000))]);
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * The fleet split over `procs` child processes, each holding an equal share of the watchers: Pods
 * are separate processes, and one Node.js thread doing a thousand TLS handshakes at once after an
 * apiserver restart, on a loaded machine, measures itself rather than the apiserver.
 */
export class Fleets {
  private readonly fleets: Fleet[];
  private ranges: [number, number][] = [];

  constructor(mode: FleetMode, configPath: string, procs: number) {
    this.fleets = Array.from({ length: Math.max(1, procs) }, () => new Fleet(mode, configPath));
  }

  async open(from: number, to: number): Promise<FleetMessage> {
    const k = this.fleets.length;
    const size = Math.ceil((to - from) / k);
    this.ranges = this.fleets.map((_, i) => [from + i * size, Math.min(to, from + (i + 1) * size)]);
    const replies = await Promise.all(this.fleets.map((f, i) => {
      const [a, b] = this.ranges[i] ?? [0, 0];
      return a < b ? f.open(a, b) : Promise.resolve<FleetMessage>({ op: 'opened', ready: 0, failed: 0 });
    }));
    return { op: 'opened', ready: sum(replies, 'ready'), failed: sum(replies, 'failed') };
  }

  async delivered(rv: string, timeoutMs: number): Promise<FleetMessage> {
    const active = this.fleets.filter((_, i) => { const [a, b] = this.ranges[i] ?? [0, 0]; return a < b; });
    const replies = await Promise.all(active.map((f) => f.delivered(rv, timeoutMs)));
    return { op: 'delivered', rv, times: replies.flatMap((r) => r.times ?? []) };
  }

  async status(): Promise<FleetMessage> {
    const replies = await Promise.all(this.fleets.map((f) => f.status()));
    return {
      op: 'status', available: sum(replies, 'available'), lists: sum(replies, 'lists'), watches: sum(replies, 'watches'), failures: sum(replies, 'failures'),
      probes: sum(replies, 'probes'), checks: sum(replies, 'checks'), bookmarks: sum(replies, 'bookmarks'), silent: sum(replies, 'silent'), storeGets: sum(replies, 'storeGets'), storeAlone: sum(replies, 'storeAlone'),
      connections: sum(replies, 'connections'), resumed: sum(replies, 'resumed'),
      loopDelayMaxMs: Math.max(...replies.map((r) => r.loopDelayMaxMs ?? 0)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.fleets.map((f) => f.close()));
  }
}

type Counter = 'ready' | 'failed' | 'available' | 'lists' | 'watches' | 'failures' | 'probes' | 'checks' | 'bookmarks' | 'silent' | 'storeGets' | 'storeAlone' | 'connections' | 'resumed';
const sum = (replies: FleetMessage[], k: Counter): number => replies.reduce((s, r) => s + (r[k] ?? 0), 0);

export interface FleetMessage { op: string; rv?: string; times?: number[]; ready?: number; failed?: number; available?: number; lists?: number; watches?: number; failures?: number; probes?: number; checks?: number; bookmarks?: number; silent?: number; storeGets?: number; storeAlone?: number; connections?: number; resumed?: number; loopDelayMaxMs?: number }
