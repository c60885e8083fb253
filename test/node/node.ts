// A real Kubernetes node next to the e2e control plane (test/e2e/cluster.ts): containerd + runc
// (Debian's), a bridge CNI, kubelet and kube-scheduler v1.33 (built by build-control-plane.sh
// node), with the images of test/node/build-images.sh imported into containerd. Pods run for real.
//
//   const cluster = await startCluster(NODE_CLUSTER_OPTIONS);
//   const node = await startNode(cluster, { syncFrequency: '3s' });
//   try { ... } finally { await node.stop(); await cluster.stop(); }
//
// Facts this relies on (measured on the development VMs):
// - the VM's root lacks CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj to the -998 the kubelet
//   asks for sandboxes: containerd's CRI `restrict_oom_score_adj = true` clamps it instead;
// - no systemd: cgroupDriver cgroupfs (containerd SystemdCgroup = false), failSwapOn false;
// - every configurable path lives under the node's own directory; the kubelet bind-mounts its
//   root dir onto itself (rshared) and mounts Pod volumes below it, so stop() unmounts everything
//   under that directory, deletes runc's containers, the shims, the bridge and the CNI results.
//
// Env knobs:
//   NODE_K8S_BIN_DIR     dir with kubelet + kube-scheduler (skips build-control-plane.sh node)
//   NODE_IMAGES_DIR      dir with NAME.oci.tar + NAME.ref (skips test/node/build-images.sh)
//   NODE_POD_CIDR        bridge subnet (default 10.244.0.0/24)
//   E2E_KEEP_WORKDIR=1   keep the node dir (configs, logs) after stop()
import { KUBERNETES_SERVICE_IP, removeServiceAddress, startKubernetesServiceProxy } from './service-proxy.js';
import type { ServiceProxy } from './service-proxy.js';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as k8s from '@kubernetes/client-node';
import { hostIPv4, type Cluster, type ClusterOptions, DEFAULT_CONTROLLERS } from '../e2e/cluster.js';
import { httpGet } from '../e2e/http.js';
import { describeExit, freePorts, run, startProcess, waitFor, type ManagedProcess, type RunResult } from '../e2e/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const e2eDir = join(here, '..', 'e2e');

/** The node's name (its kubelet client certificate is system:node:<name>). */
export const NODE_NAME = 'envoy-xds-node';
/** containerd's sandbox_image: test/node/pause.c, built by build-images.sh. */
export const PAUSE_IMAGE = 'localhost/envoy-xds-injector-e2e/pause:static';
const CNI_NETWORK = 'envoy-xds-e2e';
const BRIDGE = 'exdsi0';
const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

/**
 * What the control plane needs for a kubelet (real-node.md, point 7): Node+RBAC authorization and
 * NodeRestriction, a kubelet client certificate for logs/exec/the node proxy, and the controllers
 * that make Pods run and Services route: root-ca-cert-publisher (without `kube-root-ca.crt` the
 * ServiceAccount token volume cannot mount), endpoint/endpointslice (the apiserver resolves the
 * webhook's Service through its Endpoints: --enable-aggregator-routing, no kube-proxy), nodelifecycle
 * (removes the not-ready taint), job, disruption (PDB status), podgc, ttl-after-finished.
 */
export const NODE_CLUSTER_OPTIONS: ClusterOptions = {
  forceLocal: true,
  authorizationModes: ['Node', 'RBAC'],
  admissionPlugins: ['NodeRestriction'],
  kubeletClient: true,
  controllers: [
    ...DEFAULT_CONTROLLERS,
    'root-ca-cert-publisher',
    'endpoint',
    'endpointslice',
    'nodelifecycle',
    'job',
    'disruption',
    'podgc',
    'ttl-after-finished',
  ],
};

export interface NodeOptions {
  /** kubelet syncFrequency: how often it resyncs each Pod, which bounds ConfigMap volume updates (default '1m', the kubelet's). */
  syncFrequency?: string;
  /** Overall start timeout, binaries and images builds excluded (default 120 s). */
  startTimeoutMs?: number;
}

export interface TestNode {
  readonly name: string;
  /** The node's InternalIP (this host's first non-loopback IPv4). */
  readonly ip: string;
  /** containerd, kubelet, CNI configs and logs. */
  readonly dir: string;
  readonly containerdSocket: string;
  /** kubelet --root-dir (Pod volumes live under pods/<uid>/volumes). */
  readonly kubeletRoot: string;
  readonly kubelet: ManagedProcess;
  /** Restart the kubelet with another syncFrequency (running Pods stay; e.g. benchmarks). */
  restartKubelet(syncFrequency: string): Promise<void>;
  readonly containerd: ManagedProcess;
  readonly scheduler: ManagedProcess;
  /** Image references imported into containerd, by build-images.sh name (pause, envoy, injector). */
  readonly images: Readonly<Record<string, string>>;
  readonly startSeconds: number;
  /** `ctr -n k8s.io` against this node's containerd. */
  ctr(args: string[]): Promise<RunResult>;
  /** The kubelet's /stats/summary through the apiserver's node proxy. */
  statsSummary(): Promise<KubeletSummary>;
  /** kube-proxy's stand-in for the `kubernetes` Service (service-proxy.ts): Pods reach the API. */
  readonly serviceProxy: ServiceProxy;
  /** Tear everything down (idempotent): processes, containers, mounts, bridge, CNI state, dir. */
  stop(): Promise<void>;
}

/** The parts of the kubelet's stats/v1alpha1 Summary the tests read. */
export interface KubeletSummary {
  pods?: {
    podRef: { name: string; namespace: string; uid: string };
    containers?: { name: string; memory?: { workingSetBytes?: number; rssBytes?: number; usageBytes?: number } }[];
  }[];
}

function log(msg: string): void {
  if (process.env.E2E_VERBOSE === '1') process.stderr.write(`[node] ${msg}\n`);
}

function which(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', ...extraDirs]) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** What the machine lacks to run containers, as sentences (empty when nothing is missing). */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (containerd, runc, mounts and the bridge need it)');
  const buildsImages = (process.env.NODE_IMAGES_DIR ?? '') === '';
  for (const [bin, pkg] of [
    ['containerd', 'containerd'],
    ['ctr', 'containerd'],
    ['runc', 'runc'],
    ['ip', 'iproute2'],
    // build-images.sh (not needed with NODE_IMAGES_DIR)
    ...(buildsImages
      ? ([
          ['buildah', 'buildah'],
          ['debootstrap', 'debootstrap'],
          ['busybox', 'busybox-static'],
          ['gcc', 'gcc libc6-dev'],
        ] as const)
      : []),
  ] as const) {
    if (which(bin) === undefined) missing.push(`\`${bin}\` (Debian: apt-get install ${pkg})`);
  }
  for (const plugin of ['bridge', 'host-local', 'loopback']) {
    if (!CNI_BIN_DIRS.some((d) => existsSync(join(d, plugin)))) {
      missing.push(`the CNI plugin \`${plugin}\` in ${CNI_BIN_DIRS.join(' or ')} (Debian: apt-get install containernetworking-plugins)`);
    }
  }
  if (hostIPv4() === undefined) missing.push('a non-loopback IPv4 address (the node IP may not be loopback)');
  if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    missing.push('a cgroup filesystem at /sys/fs/cgroup');
  }
  return missing;
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      if (process.env.E2E_VERBOSE === '1' || !/\bcached\b/.test(err)) process.stderr.write(c);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last !== '') resolve(last);
      else reject(new Error(`${script} ${args.join(' ')} failed (${describeExit({ code, signal })}): ${err.trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

let nodeBinDir: Promise<string> | undefined;
/** kubelet + kube-scheduler (built once by build-control-plane.sh node, then cached). */
export function nodeBinaries(): Promise<string> {
  const explicit = process.env.NODE_K8S_BIN_DIR;
  if (explicit !== undefined && explicit !== '') return Promise.resolve(explicit);
  nodeBinDir ??= runScript(join(e2eDir, 'build-control-plane.sh'), ['node']);
  return nodeBinDir;
}

let imagesDir: Promise<string> | undefined;
/** The OCI archives (pause, envoy, injector), built once by build-images.sh, then cached. */
export function nodeImages(): Promise<string> {
  const explicit = process.env.NODE_IMAGES_DIR;
  if (explicit !== undefined && explicit !== '') return Promise.resolve(explicit);
  imagesDir ??= runScript(join(here, 'build-images.sh'), ['all']);
  return imagesDir;
}

function containerdConfig(dir: string, cniBin: string): string {
  const q = JSON.stringify; // TOML basic strings accept JSON string escapes
  return `version = 2
root = ${q(join(dir, 'containerd', 'root'))}
state = ${q(join(dir, 'containerd', 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = ${q(join(dir, 'containerd.sock'))}

[ttrpc]
  address = ${q(join(dir, 'containerd.sock.ttrpc'))}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, 'containerd', 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(PAUSE_IMAGE)}
  # The VM's root cannot lower oom_score_adj (no CAP_SYS_RESOURCE): clamp instead of failing runc.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(join(dir, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(cniBin)}
    conf_dir = ${q(join(dir, 'cni', 'net.d'))}
    max_conf_num = 1
`;
}

function cniConflist(dir: string, subnet: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          // No masquerade and no portmap: nothing touches iptables; the host reaches Pod IPs on the bridge.
          ipMasq: false,
          hairpinMode: true,
          // The `kubernetes` Service's ClusterIP through the node, where service-proxy.ts answers
          // (kube-proxy's job in a cluster). Only that address: no default route, so nothing else
          // leaves the Pod (cluster DNS at 10.96.0.10 fails at once, as before, instead of timing out).
          ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: `${KUBERNETES_SERVICE_IP}/32` }], dataDir: join(dir, 'cni', 'ipam') },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** Mount points at or below `dir`, deepest (latest) first, from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .reverse();
}

function unmountAll(dir: string): void {
  // A mount can be stacked (the kubelet's self bind-mount): loop until nothing is left.
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          // gone already (a parent was lazily unmounted)
        }
      }
    }
  }
}

/** PIDs of containerd shims serving `socket` (their command line names it). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.includes('containerd-shim') === true && cmd.includes(socket)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** PIDs whose cgroup path ends in one of the container ids `ids`. */
function pidsInCgroups(ids: string[]): number[] {
  if (ids.length === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cg = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      if (ids.some((id) => cg.includes(`/${id}\n`))) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Remove empty kubelet cgroups (kubepods/...) in each v1 controller, leaves first; best effort. */
function removeKubepodsCgroups(): void {
  const rmTree = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d).filter((e) => {
        try {
          return statSync(join(d, e)).isDirectory();
        } catch {
          return false;
        }
      });
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(d, e));
    try {
      rmdirSync(d);
    } catch {
      // busy (a process left) or not ours
    }
  };
  let controllers: string[];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return;
  }
  for (const c of controllers) {
    const d = join('/sys/fs/cgroup', c, 'kubepods');
    if (existsSync(d)) rmTree(d);
  }
  if (existsSync('/sys/fs/cgroup/kubepods')) rmTree('/sys/fs/cgroup/kubepods');
}

/**
 * Synchronous tear-down of everything the node left outside its processes: runc containers
 * (killed and deleted), shims (by PID), mounts under `dir`, the bridge, CNI results, the
 * /var/log/containers links into `dir`, empty kubepods cgroups. Safe to run twice.
 */
function teardownSync(dir: string, socket: string, runcRoot: string): void {
  // containerd's runc shim keeps each container's state in <Root>/<containerd namespace>/<id>.
  const runc = which('runc');
  const containers: { root: string; id: string }[] = [];
  for (const ns of existsSync(runcRoot) ? readdirSync(runcRoot) : []) {
    try {
      for (const id of readdirSync(join(runcRoot, ns))) containers.push({ root: join(runcRoot, ns), id });
    } catch {
      // not a directory
    }
  }
  const ids = containers.map((c) => c.id);
  if (runc !== undefined) {
    for (const c of containers) {
      try {
        execFileSync(runc, ['--root', c.root, 'delete', '--force', c.id], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // already gone
      }
    }
  }
  // Anything still running in one of those containers' cgroups (cgroupfs: .../pod<uid>/<id>).
  for (const pid of pidsInCgroups(ids)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const pid of shimPids(socket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  unmountAll(dir);
  removeServiceAddress();
  try {
    execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
  } catch {
    // no bridge (no Pod ever ran)
  }
  // libcni caches each attachment's result in /var/lib/cni/results (not configurable), named
  // <network>-<sandbox id>-<ifname>; containerd's loopback attachment is cni-loopback-<id>-lo.
  const unlinkIn = (d: string, match: (entry: string, path: string) => boolean): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      try {
        if (match(e, p)) unlinkSync(p);
      } catch {
        // not a link, or gone
      }
    }
  };
  unlinkIn('/var/lib/cni/results', (e) => e.startsWith(`${CNI_NETWORK}-`) || ids.some((id) => e === `cni-loopback-${id}-lo`));
  unlinkIn('/var/log/containers', (_, p) => readlinkSync(p).startsWith(`${dir}/`));
  removeKubepodsCgroups();
}

const MACHINE_LOCK = join(tmpdir(), 'envoy-xds-injector-node.lock');

/** Take the machine-wide node lock (a directory holding the owner's PID); a dead owner's lock is taken over. */
async function acquireMachineLock(timeoutMs = 30 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(MACHINE_LOCK);
      writeFileSync(join(MACHINE_LOCK, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(MACHINE_LOCK, 'pid'), 'utf8'));
    } catch {
      // being created right now: retry
    }
    let alive = false;
    if (Number.isInteger(owner) && owner > 0) {
      try {
        process.kill(owner, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (Number.isInteger(owner) && !alive) {
      rmSync(MACHINE_LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another test node (PID ${owner}) holds ${MACHINE_LOCK}`);
    if (!told) process.stderr.write(`[node] waiting for the test node of PID ${owner} to stop (${MACHINE_LOCK})\n`);
    told = true;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

function releaseMachineLock(): void {
  try {
    if (Number(readFileSync(join(MACHINE_LOCK, 'pid'), 'utf8')) === process.pid) rmSync(MACHINE_LOCK, { recursive: true, force: true });
  } catch {
    // not ours, or gone
  }
}

/**
 * Start containerd, kubelet and kube-scheduler against `cluster` (started with
 * NODE_CLUSTER_OPTIONS), import the images, and wait until the node is Ready. Throws, naming what
 * is missing, when the machine cannot run containers. Always pair with stop().
 */
export async function startNode(cluster: Cluster, opts: NodeOptions = {}): Promise<TestNode> {
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`this machine cannot run the test node; missing:\n  - ${missing.join('\n  - ')}\n(.ci/run installs them)`);
  }
  const [binDir, imgDir] = await Promise.all([nodeBinaries(), nodeImages()]);
  const t0 = Date.now();
  const deadline = t0 + (opts.startTimeoutMs ?? 120_000);
  const remaining = (): number => Math.max(1_000, deadline - Date.now());
  const ip = hostIPv4() ?? '';
  const cniBin = CNI_BIN_DIRS.find((d) => existsSync(join(d, 'bridge'))) ?? CNI_BIN_DIRS[0] ?? '';
  const dir = join(cluster.workDir, 'node');
  const logs = join(dir, 'logs');
  const socket = join(dir, 'containerd.sock');
  const runcRoot = join(dir, 'runc');
  const kubeletRoot = join(dir, 'kubelet');
  await Promise.all(
    [logs, join(dir, 'cni', 'net.d'), kubeletRoot, join(dir, 'pod-logs'), join(dir, 'volume-plugins'), runcRoot].map((d) =>
      mkdir(d, { recursive: true }),
    ),
  );
  // One node per machine at a time: the bridge, /var/lib/cni/results and the kubepods cgroups are
  // machine-wide. A second suite (e.g. the bench) waits here for the first.
  await acquireMachineLock();
  // Anything a previous run left on this machine (a crash) would collide: the bridge and its results.
  teardownSync(join(dir, 'none'), socket, runcRoot);

  const processes: ManagedProcess[] = [];
  let stopped = false;
  const onExit = (): void => {
    // The test process is exiting without stop(): proc.ts SIGKILLs our process groups; the
    // containers, mounts and the bridge are ours to clean.
    if (!stopped) {
      teardownSync(dir, socket, runcRoot);
      releaseMachineLock();
    }
  };
  process.on('exit', onExit);
  let serviceProxy: ServiceProxy | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await serviceProxy?.close();
    for (const p of [...processes].reverse()) await p.stop(10_000);
    teardownSync(dir, socket, runcRoot);
    releaseMachineLock();
    process.off('exit', onExit);
    if (process.env.E2E_KEEP_WORKDIR !== '1') rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const ctr = (args: string[]): Promise<RunResult> =>
    run('ctr', ['--address', socket, '--connect-timeout', '5s', '-n', 'k8s.io', ...args]);

  try {
    // Pods reach the API at the `kubernetes` Service's ClusterIP, as in a cluster (no kube-proxy here).
    serviceProxy = await startKubernetesServiceProxy(cluster.server);

    // --- containerd ----------------------------------------------------------------------------
    const subnet = process.env.NODE_POD_CIDR ?? '10.244.0.0/24';
    await writeFile(join(dir, 'containerd.toml'), containerdConfig(dir, cniBin));
    await writeFile(join(dir, 'cni', 'net.d', '10-bridge.conflist'), cniConflist(dir, subnet));
    const containerd = startProcess('containerd', 'containerd', ['--config', join(dir, 'containerd.toml')], {
      logFile: join(logs, 'containerd.log'),
      cwd: dir,
    });
    processes.push(containerd);
    await waitFor(
      'containerd',
      async () => ((await ctr(['version'])).code === 0 ? true : undefined),
      { timeoutMs: remaining(), abortIf: exited(containerd) },
    );
    log(`containerd up in ${Date.now() - t0}ms`);

    // --- images --------------------------------------------------------------------------------
    const images: Record<string, string> = {};
    const archives = (await readdir(imgDir)).filter((f) => f.endsWith('.oci.tar'));
    await Promise.all(
      archives.map(async (f) => {
        const name = f.slice(0, -'.oci.tar'.length);
        const r = await ctr(['images', 'import', join(imgDir, f)]);
        if (r.code !== 0) throw new Error(`ctr images import ${f} failed: ${r.stderr}`);
        images[name] = (await readFile(join(imgDir, `${name}.ref`), 'utf8')).trim();
      }),
    );
    if (images.pause !== PAUSE_IMAGE) throw new Error(`no ${PAUSE_IMAGE} in ${imgDir}`);
    log(`images imported in ${Date.now() - t0}ms: ${Object.values(images).join(', ')}`);

    // --- PKI and kubeconfigs -------------------------------------------------------------------
    const [kubeletPort, healthzPort, schedPort] = (await freePorts(3)) as [number, number, number];
    const [client, serving, sched] = await Promise.all([
      cluster.ca.issue('kubelet-client', { commonName: `system:node:${NODE_NAME}`, organizations: ['system:nodes'], usages: ['client'] }),
      cluster.ca.issue('kubelet-serving', { commonName: NODE_NAME, dnsNames: [NODE_NAME], ipAddresses: [ip, '127.0.0.1'], usages: ['server'] }),
      cluster.ca.issue('kube-scheduler', { commonName: 'system:kube-scheduler', organizations: ['system:masters'], usages: ['client'] }),
    ]);
    const kubeconfig = (user: string, pair: { cert: string; key: string }): string => {
      const b64 = (s: string): string => Buffer.from(s).toString('base64');
      return `${JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': b64(cluster.ca.cert) } }],
        users: [{ name: user, user: { 'client-certificate-data': b64(pair.cert), 'client-key-data': b64(pair.key) } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user } }],
        'current-context': 'e2e',
      })}\n`;
    };
    await writeFile(join(dir, 'kubelet.kubeconfig'), kubeconfig('kubelet', client), { mode: 0o600 });
    await writeFile(join(dir, 'kube-scheduler.kubeconfig'), kubeconfig('kube-scheduler', sched), { mode: 0o600 });

    // --- kubelet -------------------------------------------------------------------------------
    const kubeletConfig = (syncFrequency: string): Record<string, unknown> => ({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: '0.0.0.0',
      port: kubeletPort,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort,
      tlsCertFile: serving.certFile,
      tlsPrivateKeyFile: serving.keyFile,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: cluster.ca.certFile } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${socket}`,
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      syncFrequency,
      // A cluster DNS IP (nothing answers there) so Pods get ClusterFirst as in a cluster, without
      // the kubelet's MissingClusterDNS warning on every Pod.
      clusterDNS: ['10.96.0.10'],
      clusterDomain: 'cluster.local',
      // The shared CI disk must never evict or garbage-collect the imported images.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      makeIPTablesUtilChains: false,
      podLogsDir: join(dir, 'pod-logs'),
      volumePluginDir: join(dir, 'volume-plugins'),
      serializeImagePulls: false,
    });
    const startKubelet = async (syncFrequency: string): Promise<ManagedProcess> => {
      await writeFile(join(dir, 'kubelet.yaml'), `${JSON.stringify(kubeletConfig(syncFrequency), null, 2)}\n`);
      const p = startProcess(
        'kubelet',
        join(binDir, 'kubelet'),
        [
          `--config=${join(dir, 'kubelet.yaml')}`,
          `--kubeconfig=${join(dir, 'kubelet.kubeconfig')}`,
          `--root-dir=${kubeletRoot}`,
          `--node-ip=${ip}`,
          `--hostname-override=${NODE_NAME}`,
          '--v=1',
        ],
        { logFile: join(logs, 'kubelet.log'), cwd: dir },
      );
      // Started right after containerd: stop() stops it (reverse order) before containerd.
      processes.splice(1, 0, p);
      return p;
    };
    let kubelet = await startKubelet(opts.syncFrequency ?? '1m');

    // --- kube-scheduler ------------------------------------------------------------------------
    const schedKubeconfig = join(dir, 'kube-scheduler.kubeconfig');
    const scheduler = startProcess(
      'kube-scheduler',
      join(binDir, 'kube-scheduler'),
      [
        `--kubeconfig=${schedKubeconfig}`,
        `--authentication-kubeconfig=${schedKubeconfig}`,
        `--authorization-kubeconfig=${schedKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        '--leader-elect=false',
        '--v=1',
      ],
      { logFile: join(logs, 'kube-scheduler.log'), cwd: dir },
    );
    processes.push(scheduler);

    await waitFor(
      `node ${NODE_NAME} Ready`,
      async () => {
        const n = await cluster.core.readNode({ name: NODE_NAME });
        const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        const tainted = (n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready');
        return ready && !tainted ? true : undefined;
      },
      { timeoutMs: remaining(), abortIf: exited(kubelet, containerd, scheduler) },
    );
    await waitFor(
      'kube-scheduler /healthz',
      async () => ((await httpGet(`https://127.0.0.1:${schedPort}/healthz`, { insecure: true, timeoutMs: 2_000 })).status === 200 ? true : undefined),
      { timeoutMs: remaining(), abortIf: exited(scheduler) },
    );
    const startSeconds = (Date.now() - t0) / 1000;
    log(`node ${NODE_NAME} Ready in ${startSeconds.toFixed(1)}s`);
    return {
      name: NODE_NAME,
      ip,
      dir,
      containerdSocket: socket,
      kubeletRoot,
      get kubelet() {
        return kubelet;
      },
      async restartKubelet(syncFrequency: string) {
        await kubelet.stop(10_000);
        processes.splice(processes.indexOf(kubelet), 1);
        kubelet = await startKubelet(syncFrequency);
        await waitFor(
          'the restarted kubelet to report the node Ready',
          async () => {
            const n = await cluster.core.readNode({ name: NODE_NAME });
            const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
            return ready?.status === 'True' && new Date(ready.lastHeartbeatTime ?? 0).getTime() > Date.now() - 5_000 ? true : undefined;
          },
          { timeoutMs: 60_000, abortIf: exited(kubelet) },
        );
      },
      containerd,
      scheduler,
      images,
      startSeconds,
      ctr,
      serviceProxy,
      async statsSummary() {
        const r = await cluster.apiGet(`/api/v1/nodes/${NODE_NAME}/proxy/stats/summary`);
        if (r.status !== 200) throw new Error(`stats/summary: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
        return JSON.parse(r.body) as KubeletSummary;
      },
      stop,
    };
  } catch (err) {
    const tails = processes
      .map((p) => {
        const info = p.exitInfo();
        return `--- ${p.name} (${info === undefined ? 'running' : describeExit(info)}), last lines of ${p.logFile}:\n${p.tail(25)}`;
      })
      .join('\n');
    await stop();
    throw new Error(`the test node failed to start: ${err instanceof Error ? err.message : String(err)}\n${tails}`, { cause: err });
  }
}

function exited(...procs: ManagedProcess[]): () => string | undefined {
  return () => {
    for (const p of procs) {
      const info = p.exitInfo();
      if (info !== undefined) return `${p.name} exited (${describeExit(info)}):\n${p.tail(25)}`;
    }
    return undefined;
  };
}

/**
 * Why a Pod is not (yet) running, for failure messages: phase, each container's state, and the
 * Pod's Events (e.g. FailedCreatePodSandBox says what the sandbox lacks).
 */
export async function describePod(cluster: Cluster, namespace: string, name: string): Promise<string> {
  try {
    const pod = await cluster.core.readNamespacedPod({ namespace, name });
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
      .map((s) => `${s.name}: ${JSON.stringify(s.state)} ready=${String(s.ready)} restarts=${s.restartCount}`)
      .join('\n    ');
    const events = await cluster.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return `Pod ${namespace}/${name} phase=${pod.status?.phase ?? '?'} node=${pod.spec?.nodeName ?? '-'}\n    ${statuses}\n  events:\n    ${events.items
      .map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`)
      .join('\n    ')}`;
  } catch (err) {
    return `Pod ${namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** describePod() of every Pod in `namespace` (matching `labelSelector`). */
export async function describePods(cluster: Cluster, namespace: string, labelSelector?: string): Promise<string> {
  const pods = await listPods(cluster, namespace, labelSelector).catch(() => []);
  return (await Promise.all(pods.map((p) => describePod(cluster, namespace, p.metadata?.name ?? '')))).join('\n');
}

/** Pods in `namespace` matching `labelSelector`. */
export async function listPods(cluster: Cluster, namespace: string, labelSelector?: string): Promise<k8s.V1Pod[]> {
  return (await cluster.core.listNamespacedPod({ namespace, ...(labelSelector !== undefined ? { labelSelector } : {}) })).items;
}

export function isReady(pod: k8s.V1Pod): boolean {
  return pod.metadata?.deletionTimestamp === undefined && pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/**
 * Wait until `count` Pods matching `labelSelector` are Ready; on timeout the error describes each
 * Pod (container states and Events), so a node that cannot run containers says why.
 */
export async function waitForReadyPods(
  cluster: Cluster,
  namespace: string,
  labelSelector: string,
  count: number,
  timeoutMs = 180_000,
): Promise<k8s.V1Pod[]> {
  try {
    return await waitFor(
      `${count} Ready Pod(s) ${labelSelector} in ${namespace}`,
      async () => {
        const ready = (await listPods(cluster, namespace, labelSelector)).filter(isReady);
        return ready.length >= count ? ready : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch (err) {
    const pods = await listPods(cluster, namespace, labelSelector).catch(() => []);
    const details = await Promise.all(pods.map((p) => describePod(cluster, namespace, p.metadata?.name ?? '')));
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${details.join('\n')}`, { cause: err });
  }
}
