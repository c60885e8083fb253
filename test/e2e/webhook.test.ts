// The real webhook against a real kube-apiserver: `envoy-xds-injector serve` runs as a child
// process with the shipped config, the MutatingWebhookConfiguration is the one from manifests/base
// (plus a caBundle), and the apiserver reaches the webhook through its Service, as in a cluster.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubectl, startCluster, type Cluster } from './cluster.js';
import { plain } from './objects.js';
import { waitFor } from './proc.js';
import {
  apiMessage,
  applyObjects,
  EXCLUDED_NAMESPACES,
  INJECTOR_NAMESPACE,
  INJECTOR_SERVICE,
  installShippedWebhook,
  metricValue,
  ensureNamespace,
  envoyDeployment,
  envoyPod,
  optIn,
  REQUESTS_METRIC,
  reviewLogs,
  runCli,
  scrapeMetrics,
  type ServeProcess,
  SHIPPED_CONFIG,
  startServe,
  STATUS_ANNOTATION,
  waitForEvent,
} from './webhook.js';

type Json = Record<string, unknown>;

function asObjects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter((v): v is Json => v !== null && typeof v === 'object') : [];
}

function field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) cur = cur !== null && typeof cur === 'object' ? (cur as Json)[key] : undefined;
  return cur;
}

// What the apiserver itself adds to a Pod after the webhook's patch (none of it is ours; v1.33):
//  - ServiceAccount admission: a projected volume `kube-api-access-<random>` and its mount at
//    /var/run/secrets/kubernetes.io/serviceaccount in every container and init container (the
//    example does not set automountServiceAccountToken: false, so our copy/watch containers get it too).
//  - Defaulting (pkg/apis/core/v1/defaults.go): the fields below, with these values.
// A field is dropped from the stored Pod only where `inject` did not set it and only when it holds
// exactly this default, so a webhook answer differing from `inject` in any of them still fails.
const CONTAINER_DEFAULTS: Json = {
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent', // tagged image, not :latest
};
const PROBE_DEFAULTS: Json = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };
const PORT_DEFAULTS: Json = { protocol: 'TCP' };
const CONFIGMAP_SOURCE_DEFAULTS: Json = { defaultMode: 420 };
const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `actual` without the keys `expected` lacks whose value is exactly their default. */
function withoutDefaults(actual: Json, expected: Json | undefined, defaults: Json): Json {
  return Object.fromEntries(
    Object.entries(actual).filter(
      ([key, value]) => !(key in defaults && !(key in (expected ?? {})) && isDeepStrictEqual(value, defaults[key])),
    ),
  );
}

function normalizeContainer(actual: Json, expected: Json | undefined, apiAccessVolume: string | undefined): Json {
  const out = withoutDefaults(actual, expected, CONTAINER_DEFAULTS);
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const p = out[probe];
    if (p !== null && typeof p === 'object') out[probe] = withoutDefaults(p as Json, field(expected, probe) as Json | undefined, PROBE_DEFAULTS);
  }
  if (Array.isArray(out.ports)) {
    const expectedPorts = asObjects(expected?.ports);
    out.ports = asObjects(out.ports).map((p, i) => withoutDefaults(p, expectedPorts[i], PORT_DEFAULTS));
  }
  if (Array.isArray(out.volumeMounts)) {
    const mounts = asObjects(out.volumeMounts).filter(
      (m) => !(m.name === apiAccessVolume && m.mountPath === SERVICE_ACCOUNT_MOUNT),
    );
    if (mounts.length > 0) out.volumeMounts = mounts;
    else delete out.volumeMounts;
  }
  return out;
}

/** The parts of a Pod (or pod template) the injector writes, with the apiserver's additions removed. */
interface InjectedParts {
  status: unknown;
  volumes: Json[];
  initContainers: Json[];
  containers: Json[];
}

function injectedParts(template: Json): InjectedParts {
  return {
    status: field(template, 'metadata', 'annotations', STATUS_ANNOTATION),
    volumes: asObjects(field(template, 'spec', 'volumes')),
    initContainers: asObjects(field(template, 'spec', 'initContainers')),
    containers: asObjects(field(template, 'spec', 'containers')),
  };
}

function storedParts(pod: Json, expected: InjectedParts): InjectedParts {
  const parts = injectedParts(pod);
  const apiAccess = parts.volumes.find((v) => typeof v.name === 'string' && v.name.startsWith('kube-api-access-'));
  const apiAccessName = apiAccess?.name as string | undefined;
  const byName = (list: Json[], name: unknown): Json | undefined => list.find((c) => c.name === name);
  return {
    status: parts.status,
    volumes: parts.volumes
      .filter((v) => v !== apiAccess)
      .map((v) => {
        const source = v.configMap;
        if (source === null || typeof source !== 'object') return v;
        const want = field(byName(expected.volumes, v.name), 'configMap') as Json | undefined;
        return { ...v, configMap: withoutDefaults(source as Json, want, CONFIGMAP_SOURCE_DEFAULTS) };
      }),
    initContainers: parts.initContainers.map((c) => normalizeContainer(c, byName(expected.initContainers, c.name), apiAccessName)),
    containers: parts.containers.map((c) => normalizeContainer(c, byName(expected.containers, c.name), apiAccessName)),
  };
}

describe('webhook on a real apiserver', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  let server: ServeProcess;
  const ns = `inject-${Date.now().toString(36)}`;
  const EXAMPLE_NS = 'envoy-xds-demo'; // manifests/examples/kustomization.yaml
  let mwcName = '';
  const createdNamespaces: string[] = [];

  before(async () => {
    cluster = await startCluster();
    server = await startServe(cluster, { dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`], config: SHIPPED_CONFIG });
    for (const name of [ns, EXAMPLE_NS]) if (await ensureNamespace(cluster, name)) createdNamespaces.push(name);
    await cluster.core.createNamespacedConfigMap({
      namespace: ns,
      body: plain<k8s.V1ConfigMap>({ metadata: { name: 'edge-xds' }, data: { 'envoy.yaml': '{}\n' } }),
    });
    mwcName = await installShippedWebhook(cluster, server, ns);
  });

  after(async () => {
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      // Leave a shared cluster as we found it: a failurePolicy=Fail webhook pointing at a stopped
      // process would refuse every opted-in Pod.
      if (mwcName !== '') {
        await cluster.admissionregistration.deleteMutatingWebhookConfiguration({ name: mwcName }).catch(() => undefined);
      }
      for (const name of createdNamespaces) await cluster.core.deleteNamespace({ name }).catch(() => undefined);
    }
    await cluster.stop(); // also stops `serve`
  });

  test('a Deployment opting in gets a Pod with the copy and watch containers', async () => {
    await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: envoyDeployment('edge', optIn('edge-xds')),
    });
    const pod = await waitFor('a Pod of Deployment edge', async () => {
      const pods = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=edge' });
      return pods.items[0];
    });
    assert.equal(pod.status?.phase, 'Pending');
    const status = JSON.parse(pod.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as { configmap?: string };
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

  test('the shipped example: the replicaset controller creates the Pod exactly as `inject -f` renders it', async () => {
    // What a user applies: the example kustomization, rendered by kubectl v1.33.
    const rendered = await kubectl(cluster, ['kustomize', 'manifests/examples']);
    assert.equal(rendered.code, 0, rendered.stderr);
    await applyObjects(cluster, k8s.loadAllYaml(rendered.stdout));

    // The offline CLI on the same stream, with the same config the server runs with.
    const offline = await runCli(['inject', '-f', '-', '--config', SHIPPED_CONFIG], { input: rendered.stdout });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.stderr, '', 'the shipped example draws no warnings');
    const deployment = parseAllDocuments(offline.stdout)
      .map((d) => d.toJS() as Json)
      .find((o) => o.kind === 'Deployment');
    const template = field(deployment, 'spec', 'template') as Json | undefined;
    assert.ok(template !== undefined, `no Deployment in the output of inject:\n${offline.stdout}`);
    const expected = injectedParts(template);
    assert.equal(typeof expected.status, 'string', 'inject wrote the status annotation');

    // The Pod as stored (raw JSON: no client-side model conversion in between).
    const pod = await waitFor(
      'a Pod of the example Deployment',
      async () => {
        const res = await cluster.apiGet(`/api/v1/namespaces/${EXAMPLE_NS}/pods?labelSelector=app.kubernetes.io%2Fname%3Denvoy`);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body}`);
        return asObjects((JSON.parse(res.body) as Json).items)[0];
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(field(pod, 'metadata', 'ownerReferences', '0', 'kind'), 'ReplicaSet');
    // envoy-xds-demo enforces PodSecurity `restricted` (manifests/examples/namespace.yaml): the
    // Pod exists, so the apiserver's validation and PodSecurity admission accepted the injected Pod.
    assert.deepEqual(storedParts(pod, expected), expected);
  });

  test('one webhook call per injected Pod: the re-run ServiceAccount plugin finds its token mount already on copy and watch', async () => {
    const before = metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0;
    const count = 5;
    for (let i = 0; i < count; i++) {
      await cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod(`one-call-${String(i)}`, optIn('edge-xds')) });
    }
    const calls = (metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0) - before;
    assert.equal(calls, count, `webhook calls for ${String(count)} Pods`);
    const pod = await cluster.core.readNamespacedPod({ name: 'one-call-0', namespace: ns });
    const token = (pod.spec?.volumes ?? []).find((v) => v.name.startsWith('kube-api-access-'));
    assert.ok(token !== undefined, 'the ServiceAccount plugin mounted a token (the case this test is about)');
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      const mounts = (c.volumeMounts ?? []).filter((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
      assert.deepEqual(mounts.map((m) => [m.name, m.readOnly]), [[token.name, true]], c.name);
    }
  });

  test('Pods without the annotation never reach the webhook (matchConditions)', async () => {
    const before = metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0;
    const pod = await cluster.core.createNamespacedPod({ namespace: ns, body: envoyPod('plain', {}) });
    assert.equal(pod.metadata?.annotations?.[STATUS_ANNOTATION], undefined);
    assert.equal(pod.spec?.initContainers, undefined);
    assert.equal(metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0, before);
  });

  test('warnings reach the client (kubectl prints them)', async () => {
    const pod = envoyPod('bootstrap-elsewhere', optIn('edge-xds'), { bootstrap: '/opt/envoy/envoy.yaml' });
    const res = await kubectl(cluster, ['create', '-n', ns, '-f', '-', '-o', 'name'], { input: JSON.stringify(pod) });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'pod/bootstrap-elsewhere');
    assert.match(
      res.stderr,
      /^Warning: container envoy starts Envoy with -c \/opt\/envoy\/envoy\.yaml, which is outside mount-path \/etc\/envoy/m,
    );
    // A warning, not a denial: the Pod was created and injected.
    const stored = await cluster.core.readNamespacedPod({ name: 'bootstrap-elsewhere', namespace: ns });
    assert.notEqual(stored.metadata?.annotations?.[STATUS_ANNOTATION], undefined);
  });

  test("an Envoy relying on its image's default command (shared case): kubectl prints the warning, copy and watch get --bootstrap", async () => {
    const [deployment] = parseAllDocuments(await readFile(new URL('../fixtures/manifests/envoy-image-default-command.yaml', import.meta.url), 'utf8'))
      .map((d) => d.toJS() as Json);
    const template = field(deployment, 'spec', 'template') as Json;
    const pod = { apiVersion: 'v1', kind: 'Pod', ...template, metadata: { ...(template.metadata as Json), name: 'image-default-command' } };
    const res = await kubectl(cluster, ['create', '-n', ns, '-f', '-', '-o', 'json'], { input: JSON.stringify(pod) });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /^Warning: container envoy has no command or args, so it runs its image's default command, which for envoyproxy\/envoy images is "envoy -c \/etc\/envoy\/envoy\.yaml"; mount-path \/etc\/envoy hides everything the image has in \/etc\/envoy/m,
    );
    const stored = JSON.parse(res.stdout) as Json;
    for (const c of asObjects(field(stored, 'spec', 'initContainers'))) {
      assert.deepEqual((c.args as string[]).slice(-2), ['--bootstrap', 'envoy.yaml'], String(c.name));
    }
  });

  test('a server-side dry-run returns the injected Pod and its warnings, and leaves nothing behind', async () => {
    const name = 'dry-run';
    const reviewsBefore = metricValue(await scrapeMetrics(server), REQUESTS_METRIC, { result: 'injected' }) ?? 0;
    // With a bootstrap outside the mount path: README promises the dry-run shows the warnings too.
    const res = await kubectl(cluster, ['create', '--dry-run=server', '-n', ns, '-f', '-', '-o', 'json'], {
      input: JSON.stringify(envoyPod(name, optIn('edge-xds'), { bootstrap: '/opt/envoy/envoy.yaml' })),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /^Warning: container envoy starts Envoy with -c \/opt\/envoy\/envoy\.yaml/m);
    const returned = JSON.parse(res.stdout) as Json;
    assert.equal(typeof field(returned, 'metadata', 'annotations', STATUS_ANNOTATION), 'string');
    assert.deepEqual(
      asObjects(field(returned, 'spec', 'initContainers')).map((c) => c.name),
      ['envoy-xds-copy', 'envoy-xds-watch'],
    );
    // Nothing stored...
    await assert.rejects(cluster.core.readNamespacedPod({ name, namespace: ns }), (err: unknown) => {
      assert.ok(err instanceof k8s.ApiException && err.code === 404, apiMessage(err));
      return true;
    });
    // ...but the webhook did answer it, and was told it was a dry run.
    assert.equal(metricValue(await scrapeMetrics(server), REQUESTS_METRIC, { result: 'injected' }), reviewsBefore + 1);
    const review = await waitFor('the dry-run review in the serve log', () =>
      Promise.resolve(reviewLogs(server).find((r) => r.pod === name && r.namespace === ns)),
    );
    assert.equal(review.dryRun, true);
    assert.equal(review.decision, 'injected');
  });

  test('excluded namespaces never reach the webhook, even with the annotation (namespaceSelector)', async () => {
    // kube-* exist from the apiserver's start; installShippedWebhook created the injector's own.
    const before = metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0;
    for (const namespace of EXCLUDED_NAMESPACES) {
      // ServiceAccount admission refuses Pods until the namespace's `default` ServiceAccount exists.
      await waitFor(`ServiceAccount ${namespace}/default`, () =>
        cluster.core.readNamespacedServiceAccount({ name: 'default', namespace }),
      );
      const pod = await cluster.core.createNamespacedPod({ namespace, body: envoyPod('opted-in', optIn('edge-xds')) });
      assert.equal(pod.metadata?.annotations?.[STATUS_ANNOTATION], undefined, namespace);
      assert.equal(pod.spec?.initContainers, undefined, namespace);
      await cluster.core.deleteNamespacedPod({ name: 'opted-in', namespace });
    }
    assert.equal(metricValue(await scrapeMetrics(server), REQUESTS_METRIC) ?? 0, before);
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
    assert.ok((metricValue(metrics, REQUESTS_METRIC, { result: 'denied' }) ?? 0) >= 1);
  });

  test('a denied Deployment surfaces as a FailedCreate Event on its ReplicaSet', async () => {
    await cluster.apps.createNamespacedDeployment({
      namespace: ns,
      body: envoyDeployment('broken', { 'envoy-xds-injector.io/inject': 'true' }),
    });
    const events = await waitForEvent(cluster, ns, { kind: 'ReplicaSet', reason: 'FailedCreate', type: 'Warning' });
    assert.match(events[0]?.message ?? '', /envoy-xds-injector\.io\/configmap/);
  });

  test('metrics count what the apiserver sent', async () => {
    const metrics = await scrapeMetrics(server);
    assert.ok((metricValue(metrics, REQUESTS_METRIC, { result: 'injected' }) ?? 0) >= 2); // probe + edge Pod
    assert.equal(metricValue(metrics, REQUESTS_METRIC, { result: 'error' }) ?? 0, 0);
  });
});
