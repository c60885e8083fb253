// README "When the webhook is down", checked on a real apiserver: with the shipped
// failurePolicy Fail and no `serve` answering, opted-in Pods are refused with the apiserver's
// "failed calling webhook" error, everything the matchConditions and namespaceSelector keep away
// is still created, and a ReplicaSet's Pod appears, injected, once the webhook is back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from './cluster.js';
import { waitFor } from './proc.js';
import {
  apiMessage,
  EXCLUDED_NAMESPACES,
  INJECTOR_NAMESPACE,
  INJECTOR_SERVICE,
  installShippedWebhook,
  ensureNamespace,
  envoyDeployment,
  envoyPod,
  optIn,
  type ServeProcess,
  SHIPPED_CONFIG,
  startServe,
  STATUS_ANNOTATION,
  waitForEvent,
} from './webhook.js';

// The README quotes this part of the apiserver's message.
const FAILED_CALLING = /failed calling webhook "inject\.envoy-xds-injector\.io"/;

describe('webhook down (failurePolicy Fail)', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  let server: ServeProcess;
  const ns = `down-${Date.now().toString(36)}`;
  let mwcName = '';

  before(async () => {
    cluster = await startCluster();
    server = await startServe(cluster, { dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`], config: SHIPPED_CONFIG });
    await ensureNamespace(cluster, ns);
    mwcName = await installShippedWebhook(cluster, server, ns);
    // The outage: the only replica is gone; the configuration (and its Service) stay.
    await server.stop();
  });

  after(async () => {
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      if (mwcName !== '') {
        await cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName }).catch(() => undefined);
      }
      await cluster.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await cluster.stop();
  });

  test('an opted-in Pod is refused with "failed calling webhook"', async () => {
    await assert.rejects(
      cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod('opted-in', optIn('edge-xds')) }),
      (err: unknown) => {
        assert.match(apiMessage(err), FAILED_CALLING);
        return true;
      },
    );
  });

  test('a Pod without the annotation is still created (matchConditions)', async () => {
    const pod = await cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod('plain', {}) });
    assert.equal(pod.metadata?.name, 'plain');
    assert.equal(pod.metadata.annotations?.[STATUS_ANNOTATION], undefined);
  });

  test('opted-in Pods in the excluded namespaces are still created, uninjected (namespaceSelector)', async () => {
    for (const namespace of EXCLUDED_NAMESPACES) {
      await waitFor(`ServiceAccount ${namespace}/default`, () =>
        cluster.core.readNamespacedServiceAccount({ name: 'default', namespace }),
      );
      const pod = await cluster.core.createNamespacedPod({ namespace, body: envoyPod('opted-in', optIn('edge-xds')) });
      assert.equal(pod.metadata?.annotations?.[STATUS_ANNOTATION], undefined, namespace);
      await cluster.core.deleteNamespacedPod({ name: 'opted-in', namespace });
    }
  });

  test('a Deployment records FailedCreate, and its Pod appears injected once the webhook is back', async () => {
    await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: envoyDeployment('edge', optIn('edge-xds')),
    });
    const events = await waitForEvent(cluster, ns, { kind: 'ReplicaSet', reason: 'FailedCreate', type: 'Warning' }, 60_000);
    assert.match(events[0]?.message ?? '', FAILED_CALLING);
    assert.equal((await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=edge' })).items.length, 0);

    // A replica comes back where the Service's Endpoints point (same port, same certificate).
    await startServe(cluster, { port: server.port, tls: server.tls, config: SHIPPED_CONFIG });
    // The ReplicaSet controller retries with backoff (5 ms doubling per failure): allow for it.
    const pod = await waitFor(
      'the ReplicaSet to create its Pod after the outage',
      async () => (await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=edge' })).items[0],
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    assert.notEqual(pod.metadata?.annotations?.[STATUS_ANNOTATION], undefined);
    assert.deepEqual(
      (pod.spec?.initContainers ?? []).map((c) => c.name),
      ['envoy-xds-copy', 'envoy-xds-watch'],
    );
  });
});
