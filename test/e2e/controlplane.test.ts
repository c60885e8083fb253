// Smoke test of the e2e harness itself: the control plane starts, accepts a Namespace, ConfigMap
// and Deployment, and the deployment + replicaset controllers turn the Deployment into a Pod
// (which stays Pending: there is no scheduler and no kubelet).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, test } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { kubectl, startCluster, type Cluster } from './cluster.js';
import { plain } from './objects.js';
import { freePort, waitFor } from './proc.js';
import { exposeWebhook, waitForEvent } from './webhook.js';

// The first run may build kube-apiserver (minutes); later runs start in seconds.
const BUILD_AND_START_TIMEOUT = 45 * 60_000;

describe('e2e control plane', { timeout: BUILD_AND_START_TIMEOUT }, () => {
  let cluster: Cluster;
  const ns = `smoke-${Date.now().toString(36)}`;

  before(async () => {
    cluster = await startCluster();
    process.stderr.write(
      `[e2e] control plane ${cluster.local ? 'started' : 'attached'} in ${cluster.startSeconds.toFixed(1)}s at ${cluster.server}\n`,
    );
  });

  after(async () => {
    // `cluster` is unset if before() failed; startCluster() already cleaned up then.
    if (typeof cluster !== 'undefined') {
      if (!cluster.local) {
        await cluster.core.deleteNamespace({ name: ns }).catch(() => undefined);
      }
      await cluster.stop();
    }
  });

  test('apiserver is ready and reports v1.33', async () => {
    const ready = await cluster.apiGet('/readyz');
    assert.equal(ready.status, 200, ready.body);
    const version = JSON.parse((await cluster.apiGet('/version')).body) as { major: string; minor: string };
    if (cluster.local) {
      assert.equal(version.major, '1');
      assert.equal(version.minor, '33');
    }
  });

  test('Namespace, ConfigMap and Deployment can be created', async () => {
    await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name: ns } }) });
    const cm = await cluster.core.createNamespacedConfigMap({
      namespace: ns,
      body: plain<k8s.V1ConfigMap>({
        metadata: { name: 'envoy-xds' },
        data: { 'lds.yaml': 'resources: []\n', 'cds.yaml': 'resources: []\n' },
      }),
    });
    assert.equal(cm.metadata?.name, 'envoy-xds');
    const labels = { app: 'smoke' };
    const dep = await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: plain<k8s.V1Deployment>({
        metadata: { name: 'smoke' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'app', image: 'registry.invalid/smoke:1' }] },
          },
        },
      }),
    });
    assert.equal(dep.metadata?.name, 'smoke');
  });

  test('the replicaset controller creates a Pending Pod', async () => {
    const pod = await waitFor(
      `a Pod of Deployment ${ns}/smoke`,
      async () => {
        const pods = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=smoke' });
        return pods.items[0];
      },
      { timeoutMs: 60_000 },
    );
    assert.match(pod.metadata?.name ?? '', /^smoke-[a-z0-9]+-[a-z0-9]+$/);
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.spec?.nodeName, undefined, 'no scheduler: the Pod must not be bound');
    const owner = pod.metadata?.ownerReferences?.[0];
    assert.equal(owner?.kind, 'ReplicaSet');
    // ServiceAccount admission ran (the serviceaccount controller created `default` first).
    assert.equal(pod.spec?.serviceAccountName, 'default');
  });

  test('controller Events can be listed', async () => {
    const events = await waitForEvent(cluster, ns, { kind: 'Deployment', name: 'smoke', reason: 'ScalingReplicaSet' });
    assert.match(events[0]?.message ?? '', /Scaled up replica set smoke-/);
  });

  test('a webhook on this host is called through a Service reference', async (t) => {
    // A stand-in for `envoy-xds-injector serve`: labels every Pod it admits.
    const serviceName = 'fake-webhook';
    const tls = await cluster.ca.issue('fake-webhook', {
      commonName: serviceName,
      dnsNames: [`${serviceName}.${ns}.svc`],
      usages: ['server'],
    });
    let calls = 0;
    const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string } };
        const patch = [{ op: 'add', path: '/metadata/labels/e2e-mutated', value: 'true' }];
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            },
          }),
        );
      });
    });
    const port = await freePort('0.0.0.0');
    await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));

    const service = await exposeWebhook(cluster, { namespace: ns, name: serviceName, targetPort: port });
    const mwcName = `e2e-fake-${ns}`;
    await cluster.admissionregistration.createMutatingWebhookConfiguration({
      body: plain<k8s.V1MutatingWebhookConfiguration>({
        metadata: { name: mwcName },
        webhooks: [
          {
            name: 'fake.e2e.envoy-xds-injector.io',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 5,
            clientConfig: { service: { ...service, path: '/mutate' }, caBundle: Buffer.from(cluster.ca.cert).toString('base64') },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
          },
        ],
      }),
    });
    t.after(() => cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName }));

    // Webhook configurations reach the apiserver's admission chain asynchronously.
    const pod = await waitFor(
      'a Pod mutated by the fake webhook',
      async () => {
        const name = `direct-${Date.now().toString(36)}`;
        const created = await cluster.core.createNamespacedPod({
          namespace: ns,
          body: plain<k8s.V1Pod>({
            metadata: { name, labels: { app: 'direct' } },
            spec: { containers: [{ name: 'app', image: 'registry.invalid/direct:1' }] },
          }),
        });
        if (created.metadata?.labels?.['e2e-mutated'] === 'true') return created;
        await cluster.core.deleteNamespacedPod({ name, namespace: ns });
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal(pod.metadata?.labels?.['e2e-mutated'], 'true');
    assert.ok(calls >= 1);
  });

  test('kubectl talks to the cluster through the written kubeconfig', async () => {
    const res = await kubectl(cluster, ['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'Active');
  });
});
