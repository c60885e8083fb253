// The chart on a real node: its quick start (`helm install` with the certificate the chart
// generates), then `helm upgrade` and `helm uninstall`, with the kubelet running the webhook's
// Deployment and the shipped example. One control plane + one node for the whole file; the tests
// run in order and build on each other (install -> example -> upgrade -> uninstall).
//
// test/helm/install.test.ts covers the same commands without a kubelet (serve on the host behind
// the chart's Service); here the chart's own Pods, from the image built from the Dockerfile, serve.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../e2e/cluster.js';
import { plain } from '../e2e/objects.js';
import { sleep, waitFor } from '../e2e/proc.js';
import { apiMessage, STATUS_ANNOTATION } from '../e2e/webhook.js';
import { CHART, helm, helmPath } from '../helm/render.js';
import { describePods, NODE_CLUSTER_OPTIONS, startNode, waitForReadyPods, type TestNode } from './node.js';
import { DEMO_BODY_V1, DEMO_NS, DEMO_SELECTOR, INJECTOR_NS, sh, userCheckout, waitForBody, WEBHOOK_SELECTOR } from './user.js';

// The first run may build kubelet/kube-scheduler and the images (minutes); later runs reuse them.
const SUITE_TIMEOUT = 45 * 60_000;
const RELEASE = 'envoy-xds-injector'; // contains the chart name: objects are named envoy-xds-injector
const TLS_SECRET = `${RELEASE}-tls`;

function report(msg: string): void {
  process.stderr.write(`[node/helm] ${msg}\n`);
}

/** An opted-in Pod that PodSecurity restricted (the demo namespace's level) admits. */
function optedInPod(name: string, image: string): k8s.V1Pod {
  return plain<k8s.V1Pod>({
    metadata: { name, annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'envoy-xds-example' } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 101, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'envoy',
          image,
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  });
}

describe('a real node: helm install (generated certificates), upgrade, uninstall', { timeout: SUITE_TIMEOUT }, () => {
  let cluster: Cluster;
  let node: TestNode;
  let repo: string; // the user's checkout (manifests/)
  let demoPod: k8s.V1Pod;
  let secretData: Record<string, string>;
  const kc = (): { kubeconfig: string } => ({ kubeconfig: cluster.kubeconfigPath });

  const helmOk = async (args: string[]): Promise<string> => {
    const r = await helm(args, kc());
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`);
    return `${r.stdout}\n${r.stderr}`;
  };
  const rolledOut = async (): Promise<k8s.V1Pod[]> => {
    try {
      await sh(cluster, repo, 'kubectl', ['-n', INJECTOR_NS, 'rollout', 'status', `deployment/${RELEASE}`, '--timeout=300s']);
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await describePods(cluster, INJECTOR_NS)}`, { cause: err });
    }
    return waitForReadyPods(cluster, INJECTOR_NS, WEBHOOK_SELECTOR, 2);
  };
  /** The demo's Ready Pod, other than `notUid`; asserts it is injected and serves the demo body. */
  const demoPodServing = async (notUid?: string): Promise<k8s.V1Pod> => {
    const pod = await waitFor(
      'a Ready demo Pod',
      async () => (await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 1)).find((p) => p.metadata?.uid !== notUid),
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    assert.ok(pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined, `not injected: ${JSON.stringify(pod.metadata?.annotations)}`);
    const copy = pod.spec?.initContainers?.find((c) => c.name === 'envoy-xds-copy');
    assert.equal(copy?.image, node.images.injector, 'the injected containers run the locally built image');
    assert.equal(pod.status?.initContainerStatuses?.find((s) => s.name === 'envoy-xds-copy')?.state?.terminated?.exitCode, 0);
    await waitForBody(pod.status.podIP ?? '', 10000, DEMO_BODY_V1);
    return pod;
  };

  before(async () => {
    // Fail here, clearly, rather than halfway: .ci/run builds helm before test:e2e.
    try {
      const version = await helm(['version', '--short']);
      if (version.code !== 0) throw new Error(`${await helmPath()} version exited ${String(version.code)}: ${version.stderr}`);
      report(`helm ${version.stdout.trim()}: ${await helmPath()}`);
    } catch (err) {
      throw new Error(`helm is needed (bash test/helm/build-helm.sh builds and caches it, or set HELM_BIN): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    cluster = await startCluster(NODE_CLUSTER_OPTIONS);
    node = await startNode(cluster, { syncFrequency: '3s' });
    report(`control plane in ${cluster.startSeconds.toFixed(1)}s, node Ready in ${node.startSeconds.toFixed(1)}s (${Object.values(node.images).join(', ')})`);
    repo = await userCheckout(join(cluster.workDir, 'user'));
  });

  after(async () => {
    if (typeof node !== 'undefined') await node.stop();
    if (typeof cluster !== 'undefined') await cluster.stop();
  });

  test('1. helm install --create-namespace: 2 webhook replicas Ready from the local image; the example Pod is injected and serves', async () => {
    const image = node.images.injector ?? '';
    const colon = image.lastIndexOf(':');
    assert.ok(colon > image.lastIndexOf('/'), `no tag in ${image}`);
    const notes = await helmOk([
      'install', RELEASE, CHART, '-n', INJECTOR_NS, '--create-namespace',
      '--set', `image.repository=${image.slice(0, colon)}`,
      '--set', `image.tag=${image.slice(colon + 1)}`,
      '--set', 'image.pullPolicy=Never', // containerd has it; nothing may be pulled
      '--set', `injection.image=${image}`,
      '--set', 'injection.imagePullPolicy=Never',
    ]);
    assert.match(notes, /envoy-xds-injector\.io\/inject: "true"/, 'NOTES.txt');
    const pods = await rolledOut();
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.spec?.containers[0]?.image, image);
      assert.equal(p.spec.nodeName, node.name);
    }
    const secret = await cluster.core.readNamespacedSecret({ namespace: INJECTOR_NS, name: TLS_SECRET });
    secretData = secret.data ?? {};
    assert.deepEqual(Object.keys(secretData).sort(), ['ca.crt', 'tls.crt', 'tls.key']);

    await sh(cluster, repo, 'kubectl', ['apply', '-k', 'manifests/examples']);
    demoPod = await demoPodServing();
  });

  test('2. helm upgrade --reuse-values: the webhook rolls, the certificate Secret is unchanged, a new example Pod is injected and serves', async () => {
    await helmOk(['upgrade', RELEASE, CHART, '-n', INJECTOR_NS, '--reuse-values', '--set', 'logLevel=debug']);
    const pods = await waitFor(
      '2 Ready webhook Pods of the upgraded template',
      async () => {
        const ready = await rolledOut();
        const upgraded = ready.filter((p) => p.spec?.containers[0]?.env?.find((e) => e.name === 'LOG_LEVEL')?.value === 'debug');
        return upgraded.length === 2 ? upgraded : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    assert.equal(pods[0]?.spec?.containers[0]?.image, node.images.injector, '--reuse-values kept the image values');
    const secret = await cluster.core.readNamespacedSecret({ namespace: INJECTOR_NS, name: TLS_SECRET });
    assert.deepEqual(secret.data, secretData, 'the upgrade kept the generated CA, certificate and key');
    const mwc = await cluster.admissionregistration.readMutatingWebhookConfiguration({ name: RELEASE });
    assert.equal(mwc.webhooks?.[0]?.clientConfig.caBundle, secretData['ca.crt']);

    // The ReplicaSet replaces the deleted Pod: the upgraded replicas inject it with the same certificate.
    await cluster.core.deleteNamespacedPod({ namespace: DEMO_NS, name: demoPod.metadata?.name ?? '' });
    const replacement = await demoPodServing(demoPod.metadata?.uid);
    assert.notEqual(replacement.metadata?.uid, demoPod.metadata?.uid);
  });

  test('3. helm uninstall: the webhook configuration goes first; opted-in Pods are admitted throughout and created uninjected after', async () => {
    // Opted-in Pods created (server-side dry-run, 4 at a time) from before `helm uninstall` until
    // the webhook's Pods are gone: with failurePolicy Fail, a webhook configuration that outlived
    // the Service or the Pods would refuse them.
    const refused: string[] = [];
    const probes = { injected: 0, uninjected: 0, running: true };
    const probe = async (worker: number): Promise<void> => {
      for (let i = 0; probes.running; i++) {
        try {
          const pod = await cluster.core.createNamespacedPod({ namespace: DEMO_NS, dryRun: 'All', body: optedInPod(`probe-${worker}-${i}`, node.images.envoy ?? '') });
          if (pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined) probes.injected++;
          else probes.uninjected++;
        } catch (err) {
          refused.push(apiMessage(err));
        }
        await sleep(20);
      }
    };
    const probing = Promise.all([0, 1, 2, 3].map(probe));
    let log: string;
    try {
      await sleep(500); // some probes while the webhook still serves
      log = await helmOk(['uninstall', RELEASE, '-n', INJECTOR_NS, '--debug']);
      await assert.rejects(cluster.admissionregistration.readMutatingWebhookConfiguration({ name: RELEASE }), /404|not found/i);
      await waitFor(
        'the webhook Pods gone',
        async () => ((await cluster.core.listNamespacedPod({ namespace: INJECTOR_NS, labelSelector: WEBHOOK_SELECTOR })).items.length === 0 ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 500 },
      );
    } finally {
      probes.running = false;
      await probing;
    }
    report(`opted-in Pod creations from before helm uninstall until its Pods were gone: ${probes.injected} injected, ${probes.uninjected} uninjected, ${refused.length} refused`);
    // --debug logs each delete as it starts; without the chart's pre-delete hook Helm deletes the
    // Service first and the webhook configuration last. Only this order fails without the hook:
    // Helm's deletes follow each other within milliseconds, and ~700 probes never hit the gap.
    const deletes = [...log.matchAll(/Starting delete for "([^"]+)" (\w+)/g)].map((m) => `${m[2] ?? ''}/${m[1] ?? ''}`);
    assert.equal(deletes[0], `MutatingWebhookConfiguration/${RELEASE}`, deletes.join('\n'));
    assert.deepEqual(refused, [], 'an opted-in Pod was refused during the uninstall');
    assert.ok(probes.injected > 0 && probes.uninjected > 0, JSON.stringify(probes));

    // Nothing calls the webhook any more: a real opted-in Pod is created at once, uninjected.
    const created = await cluster.core.createNamespacedPod({ namespace: DEMO_NS, body: optedInPod('after-uninstall', node.images.envoy ?? '') });
    assert.equal(created.metadata?.annotations?.[STATUS_ANNOTATION], undefined);
    assert.equal(created.spec?.initContainers, undefined);
    assert.deepEqual(created.spec?.containers.map((c) => c.name), ['envoy']);
  });
});
