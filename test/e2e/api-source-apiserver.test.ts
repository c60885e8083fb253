// `watch --source api` against a real kube-apiserver and real Envoy, when the apiserver goes away or
// the ConfigMap does: a restarted apiserver (the watch resumed from its resourceVersion, listed
// again on 410), a compacted resourceVersion, the ConfigMap deleted and created again, and the
// in-cluster config a Pod's ServiceAccount mount gives. The edits, the verdicts' Events and the
// last-accepted store: api-source.test.ts.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { ldsYaml } from '../envoy/envoy.js';
import { waitFor } from '../sync/harness.js';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import type { ConfigMapEvent, ConfigMapWatchOptions } from '../../src/sync/kube/configmap-watch.js';
import { inClusterConnection } from '../../src/sync/kube/connection.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import type * as k8s from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { clusterPerFile } from './cluster-per-file.js';
import { plain } from './objects.js';
import { setupApiNamespace, startApiPodInUse } from './api-source.js';

const TIMEOUT = { timeout: 600_000 };
let cluster: Cluster;
clusterPerFile((started) => { cluster = started; });

/** A watch of the ConfigMap envoy-xds in `namespace` as the ServiceAccount of `kubeconfig`, its lines silent; `rest`: the handlers and the rest. */
function watchConfigMap(kubeconfig: string, namespace: string, rest: Omit<ConfigMapWatchOptions, 'connection' | 'namespace' | 'name' | 'logger'>): ConfigMapWatch {
  return new ConfigMapWatch({ connection: kubeconfigConnection(kubeconfig), namespace, name: 'envoy-xds', logger: pino({ level: 'silent' }), ...rest });
}

test('apiserver restarted mid-stream: the watch resumes and the last version is served; the lagging volume never wins', TIMEOUT, async () => {
  const pod = await startApiPodInUse(cluster, 'api-restart');
  try {
    for (let i = 1; i <= 5; i++) await pod.setBody(`r${String(i)}`);
    await pod.envoy.waitForBody(pod.port, 'r5', 60_000);
    const restart = cluster.restartApiServer();
    // While the API is down the volume (still v0, a minute behind) changes: it must not replace r5.
    await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Kubernetes API unreachable'), 'fallback line', 120_000);
    await pod.volume.write({ 'lds.yaml': ldsYaml({ port: pod.port, body: 'r3' }) });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await pod.envoy.get(pod.port))?.body, 'r5', 'an older volume version was published');
    await restart;
    await pod.watcher.waitForLog((l) => l.msg === 'Kubernetes API usable again: following the ConfigMap through the API', 'API back', 120_000);
    for (let i = 6; i <= 10; i++) await pod.setBody(`r${String(i)}`);
    await pod.envoy.waitForBody(pod.port, 'r10', 60_000);
  } finally {
    await pod.stop();
  }
});

test('apiserver restarted under a watch: the watch is resumed from its resourceVersion (client-go\'s rule for refused connections), and lists again only on the new apiserver\'s 410', TIMEOUT, async () => {
  const namespace = 'api-restart-resume';
  const kubeconfig = await setupApiNamespace(cluster, namespace, { data: { 'lds.yaml': 'v: 0\n' } });
  const delivered: string[] = [];
  let usable = 0;
  const watch = watchConfigMap(kubeconfig, namespace, {
    onEvent: (event) => { if (event.type === 'object') delivered.push(event.configMap.data?.['lds.yaml'] ?? ''); },
    onAvailability: (available) => { if (available) usable++; },
  });
  watch.start();
  const edit = (v: number): Promise<unknown> => cluster.core.replaceNamespacedConfigMap({ name: 'envoy-xds', namespace, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'envoy-xds' }, data: { 'lds.yaml': `v: ${String(v)}\n` } }) });
  try {
    await waitFor(() => usable === 1 && watch.stats.watches === 1, 'the first watch');
    await edit(1);
    await waitFor(() => delivered.includes('v: 1\n'), 'v1 through the watch');
    await cluster.restartApiServer();
    await waitFor(() => usable === 2, 'the API usable again', 120_000);
    await edit(2);
    await waitFor(() => delivered.includes('v: 2\n'), 'v2 after the restart', 60_000);
    const { lists, gone, resumed, failures } = watch.stats;
    console.log(`restart: lists ${String(lists)} (410s ${String(gone)}), watches resumed after a failure ${String(resumed)}, failures ${String(failures)}, /readyz probes ${String(watch.stats.probes)}`);
    // One list to start; after the restart a list only for a 410 from the new apiserver, never for the refused connections.
    assert.equal(lists, 1 + gone, `lists ${String(lists)}, 410s ${String(gone)}`);
    assert.ok(gone <= 1);
    assert.ok(resumed >= 1, 'the watch was tried again from its resourceVersion');
    // Without a list, nothing delivered before the restart is delivered again.
    if (gone === 0) assert.deepEqual(delivered.slice(delivered.indexOf('v: 1\n') + 1), ['v: 2\n']);
  } finally {
    await watch.stop();
  }
});

test('410 Gone: a watch resumed from a compacted resourceVersion lists again and delivers the current object', TIMEOUT, async () => {
  const namespace = 'api-gone';
  const kubeconfig = await setupApiNamespace(cluster, namespace, { data: { 'lds.yaml': 'resources: []\n' } });
  const events: ConfigMapEvent[] = [];
  const watch = watchConfigMap(kubeconfig, namespace, {
    resumeFrom: '1', // older than anything the apiserver keeps
    onEvent: (event) => events.push(event),
    onAvailability: () => undefined,
  });
  watch.start();
  try {
    await waitFor(() => events.some((e) => e.type === 'object'), 'the object after the re-list');
    assert.ok(watch.stats.gone >= 1, 'the apiserver answered 410');
    assert.equal(watch.stats.lists, 1);
    const first = events.find((e) => e.type === 'object');
    assert.equal(first?.type === 'object' ? first.configMap.data?.['lds.yaml'] : undefined, 'resources: []\n');
  } finally {
    await watch.stop();
  }
});

test('ConfigMap deleted: the last files stay published (said once); created again: it is published', TIMEOUT, async () => {
  const pod = await startApiPodInUse(cluster, 'api-delete');
  try {
    await pod.setBody('before-delete');
    await pod.envoy.waitForBody(pod.port, 'before-delete', 60_000);
    await cluster.core.deleteNamespacedConfigMap({ name: 'envoy-xds', namespace: 'api-delete' });
    await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('does not exist (deleted?)'), 'deleted line');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await pod.envoy.get(pod.port))?.body, 'before-delete');
    assert.match(await readFile(join(pod.dirs.target, 'lds.yaml'), 'utf8'), /before-delete/);
    await cluster.core.createNamespacedConfigMap({
      namespace: 'api-delete',
      body: plain<k8s.V1ConfigMap>({ metadata: { name: 'envoy-xds' }, data: { 'lds.yaml': ldsYaml({ port: pod.port, body: 'recreated' }) } }),
    });
    await pod.envoy.waitForBody(pod.port, 'recreated', 60_000);
    await pod.watcher.waitForLog((l) => l.msg === 'ConfigMap exists again: publishing it', 'recreated line');
  } finally {
    await pod.stop();
  }
});

test('in-cluster config: KUBERNETES_SERVICE_HOST/PORT and the token + ca.crt of a ServiceAccount mount', TIMEOUT, async () => {
  const namespace = 'api-in-cluster';
  await setupApiNamespace(cluster, namespace, { data: { a: 'b' } }); // its kubeconfig unused: the mount below is what this test reads
  const token = (await cluster.core.createNamespacedServiceAccountToken({ name: 'envoy', namespace, body: plain<k8s.AuthenticationV1TokenRequest>({ spec: { audiences: [] } }) })).status?.token;
  assert.ok(token);
  const mount = await mkdtemp(join(tmpdir(), 'sa-mount-'));
  try {
    await writeFile(join(mount, 'token'), token);
    await writeFile(join(mount, 'ca.crt'), cluster.ca.cert);
    const url = new URL(cluster.server);
    const connection = inClusterConnection({ KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }, mount);
    const allowed = await connection.request('GET', `/api/v1/namespaces/${namespace}/configmaps?fieldSelector=metadata.name%3Denvoy-xds`);
    assert.equal(allowed.status, 200, allowed.text);
    // resourceNames: another ConfigMap, or all of them, stays forbidden
    const others = await connection.request('GET', `/api/v1/namespaces/${namespace}/configmaps`);
    assert.equal(others.status, 403);
    connection.close();
    assert.throws(() => inClusterConnection({}, mount), /KUBERNETES_SERVICE_HOST\/KUBERNETES_SERVICE_PORT are not set/);
    assert.throws(() => inClusterConnection({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, join(mount, 'absent')), /automountServiceAccountToken: false and no token volume/);
  } finally {
    await rm(mount, { recursive: true, force: true });
  }
});
