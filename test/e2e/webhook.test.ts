// The real webhook against a real kube-apiserver: `envoy-xds-injector serve` runs as a child
// process, the MutatingWebhookConfiguration is the one from manifests/base (plus a caBundle), and
// the apiserver reaches the webhook through its Service, as in a cluster.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { repoRoot, startCluster, type Cluster } from './cluster.js';
import { plain } from './objects.js';
import { waitFor } from './proc.js';
import {
  applyObjects,
  isConflict,
  metricValue,
  scrapeMetrics,
  startServe,
  waitForEvent,
  webhookClientConfig,
  type ServeProcess,
} from './webhook.js';

const SYSTEM_NS = 'envoy-xds-injector';
const SERVICE = 'envoy-xds-injector';
const STATUS = 'envoy-xds-injector.io/status';
const REQUESTS = 'envoy_xds_injector_admission_requests_total';

function envoyPod(name: string, annotations: Record<string, string>, labels: Record<string, string> = {}) {
  return plain<k8s.V1Pod>({
    metadata: { name, annotations, labels },
    spec: {
      containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.31.2', args: ['-c', '/etc/envoy/envoy.yaml'] }],
    },
  });
}

function apiMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    return typeof body === 'string' ? body : JSON.stringify(body);
  }
  return String(err);
}

describe('webhook on a real apiserver', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  let server: ServeProcess;
  const ns = `inject-${Date.now().toString(36)}`;
  let mwcName = '';

  before(async () => {
    cluster = await startCluster();
    server = await startServe(cluster, { dnsNames: [`${SERVICE}.${SYSTEM_NS}.svc`] });
    for (const name of [SYSTEM_NS, ns]) {
      // SYSTEM_NS may exist already on an E2E_USE_EXISTING_CLUSTER cluster.
      await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name } }) }).catch((err: unknown) => {
        if (!isConflict(err)) throw err;
      });
    }
    await cluster.core.createNamespacedConfigMap({
      namespace: ns,
      body: plain<k8s.V1ConfigMap>({ metadata: { name: 'edge-xds' }, data: { 'envoy.yaml': '{}\n' } }),
    });
    const manifest = await readFile(join(repoRoot, 'manifests', 'base', 'mutatingwebhookconfiguration.yaml'), 'utf8');
    const [mwc] = k8s.loadAllYaml(manifest) as k8s.V1MutatingWebhookConfiguration[];
    assert.ok(mwc?.webhooks !== undefined);
    for (const w of mwc.webhooks) {
      const ref = w.clientConfig.service;
      assert.ok(ref !== undefined, 'the manifest routes through a Service');
      w.clientConfig = await webhookClientConfig(cluster, server, { namespace: ref.namespace, name: ref.name, path: ref.path });
    }
    mwcName = mwc.metadata?.name ?? '';
    await applyObjects(cluster, [mwc]);
    // The apiserver picks webhook configurations up asynchronously: probe until a Pod is injected.
    let i = 0;
    await waitFor(
      'the webhook to be active',
      async () => {
        const name = `probe-${i++}`;
        const pod = await cluster.core.createNamespacedPod({
          namespace: ns,
          body: envoyPod(name, { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'edge-xds' }),
        });
        await cluster.core.deleteNamespacedPod({ name, namespace: ns });
        return pod.metadata?.annotations?.[STATUS] !== undefined ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  });

  after(async () => {
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      // Leave a shared cluster as we found it: a failurePolicy=Fail webhook pointing at a stopped
      // process would refuse every opted-in Pod.
      if (mwcName !== '') {
        await cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName }).catch(() => undefined);
      }
      await cluster.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await cluster.stop(); // also stops `serve`
  });

  test('a Deployment opting in gets a Pod with the copy and watch containers', async () => {
    const labels = { app: 'edge' };
    await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: plain<k8s.V1Deployment>({
        metadata: { name: 'edge' },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'edge-xds' },
            },
            spec: {
              containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.31.2', args: ['-c', '/etc/envoy/envoy.yaml'] }],
            },
          },
        },
      }),
    });
    const pod = await waitFor('a Pod of Deployment edge', async () => {
      const pods = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=edge' });
      return pods.items[0];
    });
    assert.equal(pod.status?.phase, 'Pending');
    const status = JSON.parse(pod.metadata?.annotations?.[STATUS] ?? '{}') as { configmap?: string };
    assert.equal(status.configmap, 'edge-xds');
    assert.deepEqual(
      (pod.spec?.initContainers ?? []).map((c) => c.name),
      ['envoy-xds-copy', 'envoy-xds-watch'],
    );
    const volumes = (pod.spec?.volumes ?? []).map((v) => v.name);
    assert.ok(volumes.includes('envoy-xds-source') && volumes.includes('envoy-xds-config'), volumes.join(','));
    const envoy = pod.spec?.containers.find((c) => c.name === 'envoy');
    assert.ok(envoy?.volumeMounts?.some((m) => m.mountPath === '/etc/envoy' && m.readOnly === true));
  });

  test('Pods without the annotation never reach the webhook (matchConditions)', async () => {
    const before = metricValue(await scrapeMetrics(server), REQUESTS) ?? 0;
    const pod = await cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod('plain', {}) });
    assert.equal(pod.metadata?.annotations?.[STATUS], undefined);
    assert.equal(pod.spec?.initContainers, undefined);
    assert.equal(metricValue(await scrapeMetrics(server), REQUESTS) ?? 0, before);
  });

  test('a Pod that opts in without a ConfigMap is denied with the fix in the message', async () => {
    await assert.rejects(
      cluster.core.createNamespacedPod({
        namespace: ns,
        body: envoyPod('no-configmap', { 'envoy-xds-injector.io/inject': 'true' }),
      }),
      (err: unknown) => {
        assert.match(apiMessage(err), /denied the request.*envoy-xds-injector\.io\/configmap/);
        return true;
      },
    );
    const metrics = await scrapeMetrics(server);
    assert.ok((metricValue(metrics, REQUESTS, { result: 'denied' }) ?? 0) >= 1);
  });

  test('a denied Deployment surfaces as a FailedCreate Event on its ReplicaSet', async () => {
    const labels = { app: 'broken' };
    await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: plain<k8s.V1Deployment>({
        metadata: { name: 'broken' },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { 'envoy-xds-injector.io/inject': 'true' } },
            spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.31.2' }] },
          },
        },
      }),
    });
    const events = await waitForEvent(cluster, ns, { kind: 'ReplicaSet', reason: 'FailedCreate', type: 'Warning' });
    assert.match(events[0]?.message ?? '', /envoy-xds-injector\.io\/configmap/);
  });

  test('metrics count what the apiserver sent', async () => {
    const metrics = await scrapeMetrics(server);
    assert.ok((metricValue(metrics, REQUESTS, { result: 'injected' }) ?? 0) >= 2); // probe + edge Pod
    assert.equal(metricValue(metrics, REQUESTS, { result: 'error' }) ?? 0, 0);
  });
});
