// `envoy-xds-injector status TYPE/NAME` and `--wait` on a real node (docs/status.md): two 3-replica
// injected Deployments at once, manifests/examples (source: volume) and manifests/examples-api
// (source: api) in its own namespace, read by a user who has only the Role that
// `rbac --status-reader` prints. One control plane + node for the file; the tests build on each other.
//
// The kubelet runs with its default syncFrequency (1m): a volume edit reaches the Pods 59-74 s later,
// so --wait reports them PENDING for a while, however slow a round is on a loaded machine.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { kubectl, repoRoot, startCluster, type Cluster } from '../e2e/cluster.js';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { plain } from '../e2e/objects.js';
import { run } from '../e2e/proc.js';
import type { WorkloadStatus } from '../../src/status/workload.js';
import { describePods, NODE_CLUSTER_OPTIONS, startNode, waitForReadyPods, type TestNode } from './node.js';
import { containerId, containerPid, DEMO_CONFIGMAP, DEMO_NS, DEMO_SELECTOR, editConfigMap, installPlainCertificate, podGet, sh, userCheckout, withBody } from './user.js';

const SUITE_TIMEOUT = 45 * 60_000;
const API_NS = 'envoy-xds-demo-api';
const MAIN = join(repoRoot, 'src', 'cli', 'main.ts');

function report(msg: string): void {
  process.stderr.write(`[node status] ${msg}\n`);
}

/**
 * The demo's lds.yaml with an HTTP filter after the router: valid, and Envoy cannot build the
 * listener ("... must be the last filter in a http filter chain"), a reason its admin API keeps.
 */
function routerNotLast(lds: string): string {
  const anchor = '              route_config:\n';
  if (!lds.includes(anchor)) throw new Error('the demo lds.yaml changed: update routerNotLast()');
  return withBody(lds, 'refused\n').replace(
    anchor,
    '                - name: envoy.filters.http.buffer\n' +
      '                  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer, max_request_bytes: 1024}\n' +
      anchor,
  );
}

describe('status over the API: 3-replica Deployments (source volume and api) on a real node', { timeout: SUITE_TIMEOUT }, () => {
  let cluster: Cluster;
  let node: TestNode;
  let kubeconfig: string; // the status reader's: its context's namespace is DEMO_NS

  /** `envoy-xds-injector status ARGS` as the status reader; never throws on a non-zero exit. */
  const status = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> => {
    const t0 = performance.now();
    const r = await run(process.execPath, ['--import', 'tsx', MAIN, 'status', ...args], { env: { ...process.env, KUBECONFIG: kubeconfig } });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
  };
  /** `status ... -o json`; `code`: the exit status expected (1 when a Pod is REJECTED or FAILED). */
  const statusJson = async (args: string[], code = 0): Promise<WorkloadStatus> => {
    const r = await status([...args, '-o', 'json']);
    assert.equal(r.code, code, r.stderr);
    return JSON.parse(r.stdout) as WorkloadStatus;
  };

  before(async () => {
    cluster = await startCluster(NODE_CLUSTER_OPTIONS);
    node = await startNode(cluster, { syncFrequency: '1m' });
    report(`control plane in ${cluster.startSeconds.toFixed(1)}s, node Ready in ${node.startSeconds.toFixed(1)}s`);
    const repo = await userCheckout(join(cluster.workDir, 'user'));
    await installPlainCertificate(cluster, repo, (ns) => describePods(cluster, ns));
    // Both examples with 3 replicas; examples-api in its own namespace (same Deployment name).
    for (const [dir, ns, base] of [['status-volume', DEMO_NS, 'examples'], ['status-api', API_NS, 'examples-api']] as const) {
      await mkdir(join(repo, dir), { recursive: true });
      await writeFile(join(repo, dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ${ns}\nresources:\n  - ../manifests/${base}\nreplicas:\n  - name: envoy\n    count: 3\n`);
      await sh(cluster, repo, 'kubectl', ['apply', '-k', dir]);
    }
    await Promise.all([DEMO_NS, API_NS].map((ns) => waitForReadyPods(cluster, ns, DEMO_SELECTOR, 3, 300_000)));

    // The status reader: a client certificate for user "status-reader", bound in both namespaces by
    // exactly what `rbac --status-reader` prints.
    for (const ns of [DEMO_NS, API_NS]) {
      const rbac = await run(process.execPath, ['--import', 'tsx', MAIN, 'rbac', '--status-reader', '--namespace', ns, '--user', 'status-reader']);
      assert.equal(rbac.code, 0, rbac.stderr);
      const applied = await kubectl(cluster, ['apply', '-f', '-'], { input: rbac.stdout });
      assert.equal(applied.code, 0, applied.stderr);
    }
    const pair = await cluster.ca.issue('status-reader', { commonName: 'status-reader', usages: ['client'] });
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    kubeconfig = join(cluster.workDir, 'status-reader.kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': b64(cluster.ca.cert) } }],
      users: [{ name: 'status-reader', user: { 'client-certificate-data': b64(pair.cert), 'client-key-data': b64(pair.key) } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'status-reader', namespace: DEMO_NS } }],
      'current-context': 'e2e',
    }), { mode: 0o600 });
  });

  after(async () => {
    if (typeof node !== 'undefined') await node.stop();
    if (typeof cluster !== 'undefined') await cluster.stop();
  });

  test('1. both Deployments: every Pod SYNCED, one row per Pod and file, read with only the status-reader Role (namespace from the kubeconfig context, as kubectl)', async () => {
    for (const ns of [DEMO_NS, API_NS]) {
      const waited = await status(['-n', ns, 'deployment/envoy', '--wait', '--timeout', '3m']);
      assert.equal(waited.code, 0, `${waited.stdout}\n${waited.stderr}`);
    }
    // Where the time of one call goes on this machine: the CLI's start, and one exec per Pod (the
    // exec itself, then the Pod-local status, a Node.js start in the watcher container).
    const help = await status(['--help']);
    const pods = await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 3);
    const podName = pods[0]?.metadata?.name ?? '';
    const timed = async (args: string[]): Promise<number> => {
      const t0 = performance.now();
      const r = await kubectl(cluster, ['-n', DEMO_NS, 'exec', podName, '-c', 'envoy-xds-watch', '--', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return Math.round(performance.now() - t0);
    };
    const bare = [await timed(['true']), await timed(['true'])];
    const local = [await timed(['envoy-xds-injector', 'status', '--json']), await timed(['envoy-xds-injector', 'status', '--json'])];
    report(`CLI start (status --help) ${String(Math.round(help.ms))} ms; kubectl exec true ${bare.join(', ')} ms; kubectl exec envoy-xds-injector status --json ${local.join(', ')} ms`);
    const table = await status(['deployment/envoy']); // DEMO_NS from the context
    report(`status deployment/envoy (3 Pods, ${String(Math.round(table.ms))} ms including the CLI's start):\n${table.stdout}`);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^deployment\/envoy: 3 Pods: 3 SYNCED \(ConfigMap envoy-xds-example resourceVersion \d+\)$/m);
    for (const ns of [DEMO_NS, API_NS]) {
      const t0 = performance.now();
      const s = await statusJson(['-n', ns, 'deployment/envoy']);
      report(`${ns}: status -o json in ${String(Math.round(performance.now() - t0))} ms`);
      assert.equal(s.pods.length, 3);
      assert.deepEqual(s.counts, { SYNCED: 3, PENDING: 0, REJECTED: 0, FAILED: 0, UNKNOWN: 0 });
      for (const p of s.pods) {
        assert.equal(p.source, ns === API_NS ? 'api' : 'volume');
        assert.deepEqual(p.files.map((f) => f.file), ['cds.yaml', 'envoy.yaml', 'lds.yaml']);
        for (const f of p.files) {
          assert.equal(f.published, f.configMap, JSON.stringify(f));
          if (f.file !== 'envoy.yaml') assert.equal(f.envoy, f.configMap, `Envoy runs the ConfigMap's ${f.file}: ${JSON.stringify(f)}`);
        }
      }
    }
  });

  test('2. source volume: an edit goes PENDING -> SYNCED under --wait, and every Pod serves it', async () => {
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, 'status v2\n'));
    const waited = await status(['-n', DEMO_NS, 'deployment/envoy', '--wait', '--timeout', '4m']);
    report(`--wait after a volume edit (${(waited.ms / 1000).toFixed(1)} s):\n${waited.stdout}${waited.stderr}`);
    assert.equal(waited.code, 0, `${waited.stdout}\n${waited.stderr}`);
    assert.match(waited.stdout, /^Waiting for deployment\/envoy: [0-2] of 3 Pods run the ConfigMap's version; .*PENDING \(lds\.yaml: /m);
    assert.match(waited.stdout, /^deployment\/envoy: all 3 Pods run the ConfigMap's version \(SYNCED\)$/m);
    const pods = await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 3);
    for (const p of pods) assert.equal((await podGet(p.status?.podIP ?? '', 10000)).body, 'status v2\n');
  });

  test('3. source api: an edit is SYNCED under --wait; a refused edit makes --wait fail within seconds, naming the Pod and Envoy\'s reason', async () => {
    await editConfigMap(cluster, API_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, 'api v2\n'));
    const good = await status(['-n', API_NS, 'deployment/envoy', '--wait', '--timeout', '2m']);
    report(`--wait after an api edit (${(good.ms / 1000).toFixed(1)} s):\n${good.stdout}`);
    assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);

    await editConfigMap(cluster, API_NS, DEMO_CONFIGMAP, 'lds.yaml', routerNotLast);
    const refused = await status(['-n', API_NS, 'deployment/envoy', '--wait', '--timeout', '2m']);
    report(`--wait after a refused api edit: exit ${String(refused.code)} in ${(refused.ms / 1000).toFixed(1)} s:\n${refused.stdout}${refused.stderr}`);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: deployment\/envoy: Pod envoy-[a-z0-9]+-[a-z0-9]+ REJECTED the ConfigMap's version: lds\.yaml: version sha256:[0-9a-f]{12}: Envoy says: listener listener_0: Error: terminal filter named envoy\.filters\.http\.router of type envoy\.filters\.http\.router must be the last filter in a http filter chain\.$/m,
    );
    // Well before the 2 min timeout: it stopped at the refusal.
    assert.ok(refused.ms < 60_000, `--wait took ${String(Math.round(refused.ms))} ms`);
    // Without --wait: exit 1 too (a script tells the refusal from success), the Pod named on stderr;
    // each Pod's watcher answers its own exit 1 with the whole status, which the exec reader keeps.
    const once = await status(['-n', API_NS, 'deployment/envoy']);
    assert.equal(once.code, 1, `${once.stdout}\n${once.stderr}`);
    assert.match(once.stderr, /^error: deployment\/envoy: Pod envoy-[a-z0-9]+-[a-z0-9]+ REJECTED the ConfigMap's version: lds\.yaml: version sha256:[0-9a-f]{12}: Envoy says: /m);
    const s = await statusJson(['-n', API_NS, 'deployment/envoy'], 1);
    assert.ok(s.pods.some((p) => p.state === 'REJECTED'), JSON.stringify(s.counts));
    assert.equal(s.counts.UNKNOWN, 0, JSON.stringify(s.pods.map((p) => p.reason)));
    const pods = await waitForReadyPods(cluster, API_NS, DEMO_SELECTOR, 3);
    for (const p of pods) assert.equal((await podGet(p.status?.podIP ?? '', 10000)).body, 'api v2\n', 'Envoy keeps serving the accepted version');
  });

  test('4. a Pod whose Envoy is down (stopped) is UNKNOWN with the reason; the others stay SYNCED', async () => {
    const pods = await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 3);
    const victim = pods[0];
    const name = victim?.metadata?.name ?? '';
    const pid = await containerPid(node, containerId(victim?.status?.containerStatuses?.find((c) => c.name === 'envoy')));
    process.kill(pid, 'SIGSTOP');
    try {
      const s = await statusJson(['-n', DEMO_NS, 'deployment/envoy']);
      const row = s.pods.find((p) => p.pod === name);
      report(`Envoy stopped in ${name}: ${row?.state ?? '?'}: ${row?.reason ?? ''}`);
      assert.equal(row?.state, 'UNKNOWN');
      assert.match(row.reason ?? '', /^what Envoy runs is unknown: Envoy admin 127\.0\.0\.1:9901 unreachable: /);
      assert.deepEqual(s.pods.filter((p) => p.pod !== name).map((p) => p.state), ['SYNCED', 'SYNCED']);
      assert.equal(s.state, 'UNKNOWN');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('5. a Pod whose envoy-xds-copy fails (no bootstrap in the ConfigMap) is FAILED with the copy\'s words and the kubectl logs command; --wait ends at once with 1', async () => {
    // The example's Envoy without `-c`: it would run the image's default bootstrap, /etc/envoy/envoy.yaml,
    // which the mount hides; the ConfigMap has no envoy.yaml, so the copy init container refuses to start it.
    const example = await cluster.core.readNamespacedConfigMap({ namespace: DEMO_NS, name: DEMO_CONFIGMAP });
    await cluster.core.createNamespacedConfigMap({ namespace: DEMO_NS, body: plain<V1ConfigMap>({ metadata: { name: 'edge-xds' }, data: { 'lds.yaml': example.data?.['lds.yaml'] ?? '' } }) });
    // The example's Deployment (PodSecurity restricted holds in its namespace) as `edge`, minus Envoy's args.
    const got = await kubectl(cluster, ['-n', DEMO_NS, 'get', 'deployment', 'envoy', '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    const exampleDeployment = JSON.parse(got.stdout) as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { name: string; args?: string[] }[] } } } };
    const { template } = exampleDeployment.spec;
    const labels = { app: 'edge' };
    const edge = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'edge', namespace: DEMO_NS },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: {
        metadata: { labels, annotations: { ...template.metadata.annotations, 'envoy-xds-injector.io/configmap': 'edge-xds' } },
        spec: { ...template.spec, containers: template.spec.containers.map((c) => (c.name === 'envoy' ? { ...c, args: undefined } : c)) },
      } },
    };
    const file = join(cluster.workDir, 'edge.json');
    await writeFile(file, JSON.stringify(edge));
    const applied = await kubectl(cluster, ['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
    const waited = await status(['-n', DEMO_NS, 'deployment/edge', '--wait', '--timeout', '3m']);
    report(`--wait on a Pod whose copy fails: exit ${String(waited.code)} in ${(waited.ms / 1000).toFixed(1)} s:\n${waited.stdout}${waited.stderr}`);
    assert.equal(waited.code, 1);
    const failed = /^error: deployment\/edge: Pod (edge-[a-z0-9]+-[a-z0-9]+) FAILED: init container envoy-xds-copy failed \(exit code 1[^)]*\), so Envoy cannot start: Envoy's bootstrap envoy\.yaml is not in the ConfigMap .*; its log: (kubectl logs -n envoy-xds-demo edge-\S+ -c envoy-xds-copy)$/m.exec(waited.stderr);
    assert.ok(failed !== null, waited.stderr);
    assert.ok(waited.ms < 150_000, `--wait took ${String(Math.round(waited.ms))} ms`);
    // The command it prints reads the copy's log (as the cluster's admin: the status reader has no pods/log).
    const logs = await kubectl(cluster, (failed[2] ?? '').split(' ').slice(1));
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /bootstrap envoy\.yaml is not in the ConfigMap/);
    const once = await status(['-n', DEMO_NS, 'deployment/edge']);
    assert.equal(once.code, 1, once.stderr);
    assert.match(once.stdout, new RegExp(`^${failed[1] ?? ''} +FAILED +- `, 'm'));
    assert.match(once.stdout, /^deployment\/edge: 1 Pod: 1 FAILED /m);
    await cluster.apps.deleteNamespacedDeployment({ namespace: DEMO_NS, name: 'edge' });
  });
});
