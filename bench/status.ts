// npm run bench:status — one workload-wide `status deployment/NAME` over BENCH_PODS (default 100)
// Pods, on the e2e control plane (etcd + kube-apiserver v1.33, test/e2e/cluster.ts).
//
// What is real: the apiserver, the Deployment whose selector is resolved, 100 Pods injected by the
// webhook's own rules (injectPod on manifests/examples' pod template) with their status set to
// Running, the ConfigMap of manifests/examples, and everything `status` does on the operator's side
// (KubeConfig, get the Deployment, list the Pods, get the ConfigMap once, the fan-out at its
// concurrency, the rules, the table).
// What is a stand-in: the per-Pod read. `status` execs the Pod-local status in each watcher
// container; without a kubelet no exec can run, and no fake kubelet is available. The stand-in
// answers each Pod's read with a Pod-local status JSON after BENCH_STATUS_READ_MS (default 1000 ms:
// `kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector status --json` measured 1016 and 1039 ms
// on the test node, test/node/status.test.ts, load average ~27 on 2 cores; kubectl's own start is in
// it, so it is an upper bound of what status's in-process exec costs there). On a cluster those reads
// run in the Pods' own nodes, in parallel up to the concurrency (50), so their cost here is a wait,
// not this machine's CPU.
//
// Side by side in one run: the floor (the same API calls alone: get Deployment, list Pods, get
// ConfigMap, what `kubectl get pods -l` costs), status with an instant stand-in (the API side and the
// rules), status with the measured per-Pod latency, and a small workload (3 Pods). Last line: JSON.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { defaultConfig, injectPod } from '../src/inject/index.js';
import { formatWorkload } from '../src/status/format.js';
import { kubeStatusApi, loadKube } from '../src/status/kube-api.js';
import { gatherWorkload, wantedFiles, type PodReader } from '../src/status/workload.js';
import { repoRoot, startCluster, type Cluster } from '../test/e2e/cluster.js';
import { plain } from '../test/e2e/objects.js';
import { waitFor } from '../test/e2e/proc.js';

const PODS = Number(process.env.BENCH_PODS ?? 100);
const READ_MS = Number(process.env.BENCH_STATUS_READ_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const NS = 'bench-status';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const round1 = (n: number): number => Math.round(n * 10) / 10;

async function createWorkload(cluster: Cluster, name: string, count: number): Promise<void> {
  const [deployment] = k8s.loadAllYaml(readFileSync(join(repoRoot, 'manifests', 'examples', 'deployment.yaml'), 'utf8')) as k8s.V1Deployment[];
  if (deployment?.spec === undefined) throw new Error('no Deployment in manifests/examples/deployment.yaml');
  const labels = { app: name };
  const template = structuredClone(deployment.spec.template);
  template.metadata = plain<k8s.V1ObjectMeta>({ ...(structuredClone(template.metadata) as object), labels });
  // replicas 0: the deployment controller makes no Pods of its own; the ones below match its selector.
  await cluster.apps.createNamespacedDeployment({ namespace: NS, body: plain<k8s.V1Deployment>({
    metadata: { name }, spec: { replicas: 0, selector: { matchLabels: labels }, template },
  }) });
  const podSpec = structuredClone(template.spec);
  if (podSpec === undefined) throw new Error('no pod spec');
  podSpec.automountServiceAccountToken = false;
  podSpec.nodeName = 'stand-in-node'; // no such node: nothing runs them
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const injected = injectPod(plain<k8s.V1Pod>({ metadata: template.metadata, spec: podSpec }), defaultConfig(version));
  if (injected.decision !== 'injected') throw new Error(`not injected: ${JSON.stringify(injected)}`);
  const running = (n: string): k8s.V1ContainerStatus => plain<k8s.V1ContainerStatus>({ name: n, image: 'x', imageID: 'x', ready: true, restartCount: 0, state: { running: { startedAt: new Date() } } });
  for (let start = 0; start < count; start += 20) {
    await Promise.all(Array.from({ length: Math.min(20, count - start) }, async (_, i) => {
      const podName = `${name}-${String(start + i)}`;
      const body = structuredClone(injected.pod);
      body.metadata = plain<k8s.V1ObjectMeta>({ ...(structuredClone(injected.pod.metadata) as object), name: podName });
      const pod = await cluster.core.createNamespacedPod({ namespace: NS, body });
      pod.status = plain<k8s.V1PodStatus>({
        phase: 'Running',
        initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => (c.name === 'envoy-xds-copy'
          ? plain<k8s.V1ContainerStatus>({ name: c.name, image: 'x', imageID: 'x', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } })
          : running(c.name))),
        containerStatuses: (pod.spec?.containers ?? []).map((c) => running(c.name)),
      });
      await cluster.core.replaceNamespacedPodStatus({ namespace: NS, name: podName, body: pod });
    }));
  }
}

async function main(): Promise<void> {
  console.log(`bench:status (node ${process.version}, ${String(cpus().length)} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  const cluster = await startCluster();
  try {
    await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name: NS } }) });
    await waitFor('the default ServiceAccount', async () => (await cluster.core.listNamespacedServiceAccount({ namespace: NS })).items.some((s) => s.metadata?.name === 'default') ? true : undefined);
    const [cmDoc] = k8s.loadAllYaml(readFileSync(join(repoRoot, 'manifests', 'examples', 'configmap.yaml'), 'utf8')) as k8s.V1ConfigMap[];
    if (cmDoc === undefined) throw new Error('no ConfigMap in manifests/examples');
    const cm = await cluster.core.createNamespacedConfigMap({ namespace: NS, body: cmDoc });
    const t0 = performance.now();
    await createWorkload(cluster, 'envoy', PODS);
    await createWorkload(cluster, 'small', 3);
    console.log(`created ${String(PODS + 3)} injected Pods (status Running) in ${String(Math.round(performance.now() - t0))} ms`);

    // What each watcher would answer: Envoy runs the ConfigMap's version of every file.
    const files = (await wantedFiles(cm)).map((w) => ({ file: w.file, held: false, configMap: w.version, published: w.version, subscribed: w.file !== 'envoy.yaml', ...(w.file === 'envoy.yaml' ? {} : { envoy: { version: w.version, live: true } }) }));
    const answer = JSON.stringify({ targetDir: '/var/run/envoy-xds-injector/config', watcherPid: 1, watcherRunning: true, updatedAt: new Date().toISOString(), files });
    const standIn = (ms: number): PodReader => () => new Promise((resolve) => setTimeout(() => { resolve(answer); }, ms));

    const kube = loadKube({ kubeconfig: cluster.kubeconfigPath, namespace: NS });
    const api = kubeStatusApi(kube.kubeConfig);
    const scenarios: { name: string; run: () => Promise<unknown> }[] = [
      { name: `floor: get Deployment + list ${String(PODS)} Pods + get ConfigMap`, run: async () => {
        const sel = await api.workloadSelector('deployment', NS, 'envoy');
        await api.listPods(NS, `app=${sel?.matchLabels?.app ?? ''}`);
        await api.readConfigMap(NS, cm.metadata?.name ?? '');
      } },
      { name: `status deployment/envoy, ${String(PODS)} Pods, instant stand-in reads`, run: () => gatherWorkload({ api, read: standIn(0), namespace: NS, target: { kind: 'deployment', name: 'envoy' } }).then(formatWorkload) },
      { name: `status deployment/envoy, ${String(PODS)} Pods, stand-in reads of ${String(READ_MS)} ms`, run: () => gatherWorkload({ api, read: standIn(READ_MS), namespace: NS, target: { kind: 'deployment', name: 'envoy' } }).then(formatWorkload) },
      { name: `status deployment/small, 3 Pods, stand-in reads of ${String(READ_MS)} ms`, run: () => gatherWorkload({ api, read: standIn(READ_MS), namespace: NS, target: { kind: 'deployment', name: 'small' } }).then(formatWorkload) },
    ];
    const times = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
    // Rotating order, so no scenario always runs on a warmer (or colder) apiserver.
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < scenarios.length; i++) {
        const s = scenarios[(i + r) % scenarios.length];
        if (s === undefined) continue;
        const t = performance.now();
        await s.run();
        times.get(s.name)?.push(performance.now() - t);
      }
    }
    const check = await gatherWorkload({ api, read: standIn(0), namespace: NS, target: { kind: 'deployment', name: 'envoy' } });
    if (check.pods.length !== PODS || check.counts.SYNCED !== PODS) throw new Error(`expected ${String(PODS)} SYNCED Pods, got ${JSON.stringify(check.counts)}`);
    for (const s of scenarios) {
      const xs = times.get(s.name) ?? [];
      console.log(`${s.name}: median ${String(round1(median(xs)))} ms (${xs.map((x) => String(Math.round(x))).join(', ')})`);
    }
    const m = (i: number): number => round1(median(times.get(scenarios[i]?.name ?? '') ?? []));
    console.log(JSON.stringify({ pods: PODS, ms: m(2), readMs: READ_MS, apiSideMs: m(1), floorMs: m(0), smallPods: 3, smallMs: m(3), rounds: ROUNDS }));
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
