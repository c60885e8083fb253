// `npm run bench:node`: figures from a real node (test/node: containerd, kubelet v1.33, Envoy 1.40,
// the Dockerfile's image), installed as README tells it (plain-certificate overlay, then
// `kubectl apply -k manifests/examples`). Prints, never asserts:
//
//  1. Pod create -> Ready: the example's Envoy Pod injected (copy init container + native watcher +
//     Envoy, config from the ConfigMap through the emptyDir) vs the same Pod uninjected (the
//     ConfigMap mounted directly at /etc/envoy). Bare Pods, alternating, BENCH_PODS of each.
//  2. ConfigMap edit -> Envoy serving the new body, through the kubelet with its DEFAULT
//     syncFrequency (1m): BENCH_EDITS edits of lds.yaml, each timed from the API write to the first
//     HTTP answer with the new body (polled every 100 ms on the Pod IP).
//  3. envoy-xds-watch's memory working set (kubelet /stats/summary) idle, and after BENCH_MANY_EDITS
//     edits delivered one by one (the kubelet restarted with syncFrequency 1s for this part only).
//
// Env: BENCH_PODS (default 5), BENCH_EDITS (default 3), BENCH_MANY_EDITS (default 100).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../test/e2e/cluster.js';
import { plain } from '../test/e2e/objects.js';
import { waitFor } from '../test/e2e/proc.js';
import { describePods, isReady, NODE_CLUSTER_OPTIONS, startNode, waitForReadyPods, type TestNode } from '../test/node/node.js';
import {
  DEMO_CONFIGMAP,
  DEMO_NS,
  DEMO_SELECTOR,
  editConfigMap,
  installPlainCertificate,
  sh,
  userCheckout,
  waitForBody,
  withBody,
} from '../test/node/user.js';

const PODS = Number(process.env.BENCH_PODS ?? 5);
const EDITS = Number(process.env.BENCH_EDITS ?? 3);
const MANY_EDITS = Number(process.env.BENCH_MANY_EDITS ?? 100);

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return `n=${s.length} min ${(s[0] ?? NaN).toFixed(2)}s median ${(s[Math.floor(s.length / 2)] ?? NaN).toFixed(2)}s mean ${mean.toFixed(2)}s max ${(s[s.length - 1] ?? NaN).toFixed(2)}s`;
};

async function createToReady(cluster: Cluster, pod: k8s.V1Pod): Promise<number> {
  const name = pod.metadata?.name ?? '';
  const t0 = performance.now();
  await cluster.core.createNamespacedPod({ namespace: DEMO_NS, body: pod });
  await waitFor(
    `Pod ${name} Ready`,
    async () => (isReady(await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name })) ? true : undefined),
    { timeoutMs: 180_000, intervalMs: 50 },
  ).catch(async (err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await describePods(cluster, DEMO_NS)}`);
  });
  const seconds = (performance.now() - t0) / 1000;
  await cluster.core.deleteNamespacedPod({ namespace: DEMO_NS, name, gracePeriodSeconds: 0 });
  await waitFor(`Pod ${name} gone`, async () => {
    try {
      await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name });
      return undefined;
    } catch {
      return true;
    }
  }, { timeoutMs: 120_000 });
  return seconds;
}

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let node: TestNode | undefined;
  try {
    cluster = await startCluster(NODE_CLUSTER_OPTIONS);
    node = await startNode(cluster); // the kubelet's default syncFrequency (1m)
    const c = cluster;
    const repo = await userCheckout(join(c.workDir, 'user'));
    await installPlainCertificate(c, repo, (ns) => describePods(c, ns));
    await sh(c, repo, 'kubectl', ['apply', '-k', 'manifests/examples']);
    const [demo] = await waitForReadyPods(c, DEMO_NS, DEMO_SELECTOR, 1);
    if (demo === undefined) throw new Error('no demo Pod');
    out(`node: control plane ${c.startSeconds.toFixed(1)}s, node Ready ${node.startSeconds.toFixed(1)}s; kubelet syncFrequency 1m (default)`);

    // --- 1. Pod create -> Ready ------------------------------------------------------------------
    const [deployment] = k8s.loadAllYaml(
      await readFile(join(repo, 'manifests', 'examples', 'deployment.yaml'), 'utf8'),
    ) as k8s.V1Deployment[];
    const template = deployment?.spec?.template;
    const podSpec = template?.spec;
    if (podSpec === undefined) throw new Error('no pod template in manifests/examples/deployment.yaml');
    const annotations = template?.metadata?.annotations ?? {};
    const injected = (i: number): k8s.V1Pod =>
      plain<k8s.V1Pod>({ metadata: { name: `bench-injected-${i}`, annotations }, spec: structuredClone(podSpec) });
    const uninjected = (i: number): k8s.V1Pod => {
      const spec = structuredClone(podSpec);
      spec.volumes = [plain<k8s.V1Volume>({ name: 'envoy-config', configMap: { name: DEMO_CONFIGMAP } })];
      for (const ctr of spec.containers) {
        if (ctr.name === 'envoy') ctr.volumeMounts = [plain<k8s.V1VolumeMount>({ name: 'envoy-config', mountPath: '/etc/envoy', readOnly: true })];
      }
      return plain<k8s.V1Pod>({ metadata: { name: `bench-plain-${i}` }, spec });
    };
    const times = { injected: [] as number[], uninjected: [] as number[] };
    await createToReady(c, uninjected(0)); // warm-up (first sandbox, first Envoy start)
    await createToReady(c, injected(0));
    for (let i = 1; i <= PODS; i++) {
      // Alternate the order so drift on the shared machine hits both alike.
      if (i % 2 === 1) {
        times.injected.push(await createToReady(c, injected(i)));
        times.uninjected.push(await createToReady(c, uninjected(i)));
      } else {
        times.uninjected.push(await createToReady(c, uninjected(i)));
        times.injected.push(await createToReady(c, injected(i)));
      }
    }
    out(`Pod create -> Ready, injected:   ${stats(times.injected)}`);
    out(`Pod create -> Ready, uninjected: ${stats(times.uninjected)}`);

    // --- 2. ConfigMap edit -> Envoy, default syncFrequency ---------------------------------------
    const ip = demo.status?.podIP ?? '';
    const sidecarMemory = async (): Promise<number> => {
      const n = node;
      if (n === undefined) throw new Error('no node');
      return waitFor('kubelet stats for envoy-xds-watch', async () => {
        const s = await n.statsSummary();
        const p = s.pods?.find((x) => x.podRef.uid === demo.metadata?.uid);
        return p?.containers?.find((x) => x.name === 'envoy-xds-watch')?.memory?.workingSetBytes;
      });
    };
    const idle = await sidecarMemory();
    const editTimes: number[] = [];
    for (let i = 1; i <= EDITS; i++) {
      const body = `bench edit ${i}\n`;
      const t0 = performance.now();
      await editConfigMap(c, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, body));
      await waitForBody(ip, 10000, body, 300_000);
      editTimes.push((performance.now() - t0) / 1000);
      out(`  edit ${i}: ${(editTimes[editTimes.length - 1] ?? 0).toFixed(1)}s`);
    }
    out(`ConfigMap edit -> Envoy serving (kubelet syncFrequency 1m): ${stats(editTimes)}`);

    // --- 3. the watcher's memory after many edits ----------------------------------------------
    await node.restartKubelet('1s');
    const fast: number[] = [];
    for (let i = 1; i <= MANY_EDITS; i++) {
      const body = `bench many ${i}\n`;
      const t0 = performance.now();
      await editConfigMap(c, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, body));
      await waitForBody(ip, 10000, body, 120_000);
      fast.push((performance.now() - t0) / 1000);
    }
    const afterMany = await sidecarMemory();
    const limit = demo.spec?.initContainers?.find((x) => x.name === 'envoy-xds-watch')?.resources?.limits?.memory ?? '?';
    out(`ConfigMap edit -> Envoy serving (kubelet syncFrequency 1s): ${stats(fast)}`);
    out(`envoy-xds-watch memory working set: idle ${(idle / 2 ** 20).toFixed(1)} MiB, after ${EDITS + MANY_EDITS} edits ${(afterMany / 2 ** 20).toFixed(1)} MiB (limit ${limit})`);
    const restarts = (await c.core.readNamespacedPod({ namespace: DEMO_NS, name: demo.metadata?.name ?? '' })).status?.initContainerStatuses?.find(
      (s) => s.name === 'envoy-xds-watch',
    )?.restartCount;
    out(`envoy-xds-watch restarts: ${String(restarts)}`);
  } finally {
    if (node !== undefined) await node.stop();
    if (cluster !== undefined) await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:node failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
