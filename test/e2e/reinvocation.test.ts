// reinvocationPolicy: IfNeeded next to another mutating webhook, on the real kube-apiserver.
// Ours (`serve` with the shipped MutatingWebhookConfiguration) runs first; a second webhook
// (peer-webhook.ts, configuration `zz-e2e-peer`) runs after it and, for Pods that ask for it, adds a
// container and an annotation. The apiserver (v1.33) calls mutating webhooks in the order of their
// configurations' names (its webhook configuration manager sorts them; the first test checks that the
// peer saw our injection, so a different order fails there, not silently), and reinvokes an IfNeeded webhook once when a later one changed the object
// after it (k8s.io/apiserver admission/plugin/webhook/mutating dispatcher; "Reinvocation policy" in
// the Kubernetes docs on dynamic admission control). So for such a Pod ours must be called twice and
// answer the second call with no patch; for a Pod the other webhook leaves alone, once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kubectl, startCluster, type Cluster } from './cluster.js';
import { plain } from './objects.js';
import { startPeerWebhook, type PatchOperation, type PeerWebhook } from './peer-webhook.js';
import { waitFor } from './proc.js';
import {
  applyObjects,
  ensureNamespace,
  envoyPod,
  INJECTOR_NAMESPACE,
  INJECTOR_SERVICE,
  installShippedWebhook,
  metricValue,
  optIn,
  reviewLogs,
  type ServeProcess,
  SHIPPED_CONFIG,
  startServe,
  STATUS_ANNOTATION,
} from './webhook.js';

const OURS = 'inject.envoy-xds-injector.io'; // manifests/base
const PEER = 'sidecar.peer.e2e.envoy-xds-injector.io';
/** Sorts after manifests/base's `envoy-xds-injector`, so the apiserver calls the peer after ours. */
const PEER_CONFIGURATION = 'zz-e2e-peer';
/** A Pod carrying this annotation ("true") gets the peer's container and PEER_MUTATED. */
const PEER_OPT_IN = 'peer.e2e.envoy-xds-injector.io/sidecar';
const PEER_MUTATED = 'peer.e2e.envoy-xds-injector.io/mutated';
const PEER_CONTAINER = 'peer-sidecar';
const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The peer's mutation: like agnhost's /mutating-pods-sidecar, a container, plus an annotation. */
function peerMutation(pod: Record<string, unknown>): PatchOperation[] {
  const annotations = (pod.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
  if (annotations[PEER_OPT_IN] !== 'true') return [];
  return [
    { op: 'add', path: '/spec/containers/-', value: { name: PEER_CONTAINER, image: 'registry.k8s.io/pause:3.10' } },
    { op: 'add', path: `/metadata/annotations/${PEER_MUTATED.replace('/', '~1')}`, value: 'true' },
  ];
}

/** Calls the apiserver made to webhook `name` for Pod CREATEs so far (its own admission metrics). */
async function apiserverCalls(cluster: Cluster, name: string): Promise<number> {
  const metrics = (await cluster.apiGet('/metrics')).body;
  return (
    metricValue(metrics, 'apiserver_admission_webhook_admission_duration_seconds_count', { name, operation: 'CREATE', type: 'admit' }) ?? 0
  );
}

describe('reinvocationPolicy IfNeeded with another mutating webhook after ours', { timeout: 10 * 60_000 }, () => {
  let cluster: Cluster;
  let server: ServeProcess;
  let peer: PeerWebhook;
  const ns = `reinvoke-${Date.now().toString(36)}`;

  before(async () => {
    cluster = await startCluster({ forceLocal: true });
    server = await startServe(cluster, { dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`], config: SHIPPED_CONFIG });
    await ensureNamespace(cluster, ns);
    await cluster.core.createNamespacedConfigMap({
      namespace: ns,
      body: plain<k8s.V1ConfigMap>({ metadata: { name: 'edge-xds' }, data: { 'envoy.yaml': '{}\n' } }),
    });
    await installShippedWebhook(cluster, server, ns);

    peer = await startPeerWebhook(cluster, { dnsNames: [`peer-webhook.${ns}.svc`], mutate: peerMutation });
    await applyObjects(cluster, [
      plain<k8s.V1MutatingWebhookConfiguration>({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: PEER_CONFIGURATION },
        webhooks: [
          {
            name: PEER,
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            clientConfig: await peer.clientConfig(ns, 'peer-webhook'),
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
            namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [ns] }] },
            failurePolicy: 'Fail',
            // The peer itself is never reinvoked: every call it gets is the one this test counts.
            reinvocationPolicy: 'Never',
          },
        ],
      }),
    ]);
    // Webhook configurations reach the admission chain through an informer: wait until a Pod reaches the peer.
    let probes = 0;
    await waitFor('the peer webhook to be called', async () => {
      const name = `peer-probe-${String(++probes)}`;
      await cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod(name, {}) });
      await cluster.core.deleteNamespacedPod({ name, namespace: ns });
      return peer.callsFor(name).length > 0 ? true : undefined;
    });
  });

  after(async () => {
    if (typeof peer !== 'undefined') await peer.stop();
    if (typeof cluster !== 'undefined') await cluster.stop(); // also stops `serve`
  });

  /** Create Pod `name` with kubectl (so warnings show on stderr); the stored Pod and the call counts it cost. */
  async function createCounted(name: string, annotations: Record<string, string>) {
    const [oursBefore, peerBefore] = [await apiserverCalls(cluster, OURS), await apiserverCalls(cluster, PEER)];
    const res = await kubectl(cluster, ['create', '-n', ns, '-f', '-', '-o', 'json'], {
      input: JSON.stringify(envoyPod(name, annotations)),
    });
    assert.equal(res.code, 0, res.stderr);
    const pod = JSON.parse(res.stdout) as k8s.V1Pod;
    const ours = (await apiserverCalls(cluster, OURS)) - oursBefore;
    // serve's review lines for this Pod: each is written just after its answer.
    const reviews = await waitFor(`${String(ours)} review lines for ${name} in serve's log`, () => {
      const lines = reviewLogs(server).filter((r) => r.pod === name && r.namespace === ns);
      return Promise.resolve(lines.length >= ours ? lines : undefined);
    }, { timeoutMs: 10_000, intervalMs: 50 });
    return { pod, stderr: res.stderr, ours, peer: (await apiserverCalls(cluster, PEER)) - peerBefore, reviews };
  }

  /** Exactly one injection: our volumes and containers once each, the status annotation naming the ConfigMap. */
  function assertInjectedOnce(pod: k8s.V1Pod, containers: string[]): void {
    const spec = pod.spec;
    assert.ok(spec !== undefined, 'the stored Pod has a spec');
    const volumes = (spec.volumes ?? []).map((v) => v.name);
    assert.deepEqual(volumes.filter((v) => v.startsWith('envoy-xds-')).sort(), ['envoy-xds-config', 'envoy-xds-source']);
    assert.equal(new Set(volumes).size, volumes.length, `volume names: ${volumes.join(', ')}`);
    assert.deepEqual((spec.initContainers ?? []).map((c) => c.name), ['envoy-xds-copy', 'envoy-xds-watch']);
    assert.deepEqual(spec.containers.map((c) => c.name), containers);
    const status = JSON.parse(pod.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as { configmap?: string };
    assert.equal(status.configmap, 'edge-xds');
    const envoy = spec.containers.find((c) => c.name === 'envoy');
    assert.equal(envoy?.volumeMounts?.filter((m) => m.mountPath === '/etc/envoy').length, 1, 'one mount of the xDS files in envoy');
    // The re-run ServiceAccount plugin converged too: one token mount per container, never two.
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      assert.equal((c.volumeMounts ?? []).filter((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT).length, 1, `token mounts in ${c.name}`);
    }
  }

  test('the other webhook changes the Pod after ours: ours is called again, answers with no patch, and both changes stay', async () => {
    const name = 'changed-after-us';
    const got = await createCounted(name, { ...optIn('edge-xds'), [PEER_OPT_IN]: 'true' });

    // The peer saw our injection: it really ran after us.
    const [peerCall, ...morePeerCalls] = peer.callsFor(name);
    assert.equal(morePeerCalls.length, 0, 'the peer is called once');
    assert.notEqual((peerCall?.object.metadata as { annotations?: Record<string, string> }).annotations?.[STATUS_ANNOTATION], undefined);
    assert.equal(peerCall?.patch.length, 2, 'the peer changed the Pod');

    // Counts, from the apiserver's own metrics and from serve's log.
    assert.deepEqual({ ours: got.ours, peer: got.peer }, { ours: 2, peer: 1 });
    assert.deepEqual(
      got.reviews.map((r) => [r.decision, r.patchOperations]),
      [['injected', got.reviews[0]?.patchOperations], ['skipped', 0]],
    );
    assert.ok(Number(got.reviews[0]?.patchOperations) > 0);
    assert.match(String(got.reviews[1]?.reason), /already injected/);
    assert.equal(got.stderr, '', 'no warning: the reinvocation found everything it injected');

    // The stored Pod: one injection, and the peer's change survived.
    assertInjectedOnce(got.pod, ['envoy', PEER_CONTAINER]);
    assert.equal(got.pod.metadata?.annotations?.[PEER_MUTATED], 'true');
  });

  test('a Pod the other webhook leaves alone costs ours exactly one call', async () => {
    const name = 'unchanged-after-us';
    const got = await createCounted(name, optIn('edge-xds'));
    assert.equal(peer.callsFor(name).length, 1);
    assert.deepEqual(peer.callsFor(name)[0]?.patch, []);
    assert.deepEqual({ ours: got.ours, peer: got.peer }, { ours: 1, peer: 1 });
    assert.deepEqual(got.reviews.map((r) => r.decision), ['injected']);
    assert.equal(got.stderr, '');
    assertInjectedOnce(got.pod, ['envoy']);
    assert.equal(got.pod.metadata?.annotations?.[PEER_MUTATED], undefined);
  });
});
