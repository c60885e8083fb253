// The injector on a real node, on the user's path as README.md tells it. One control
// plane + one node (containerd, kubelet, kube-scheduler) for the whole file; the tests run in order
// and build on each other (install -> example -> edits -> ...).
//
// The kubelet runs with syncFrequency 3s here (default 1m): a ConfigMap volume is rewritten only at
// the Pod's periodic resync, so edits reach the Pod within about 3-5 s instead of 60-90 s.
// `npm run bench:node` measures the default.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kubectl, kubectlPath, startCluster, type Cluster } from '../e2e/cluster.js';
import { plain } from '../e2e/objects.js';
import { run, sleep, waitFor } from '../e2e/proc.js';
import { apiMessage, listEvents, STATUS_ANNOTATION } from '../e2e/webhook.js';
import { CONFIG_DIR as WATCH_TARGET } from '../../src/inject/names.js';
import type { Status } from '../../src/sync/verdict/status.js';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
import { refusedCopy } from '../helpers/refused-copy.js';
import { describePod, describePods, isReady, listPods, NODE_CLUSTER_OPTIONS, startNode, waitForReadyPods, type TestNode } from './node.js';
import {
  containerId,
  containerLogs,
  containerPid,
  DEMO_BODY_V1,
  DEMO_CONFIGMAP,
  DEMO_NS,
  DEMO_SELECTOR,
  editConfigMap,
  envoyStats,
  execIn,
  podLocalStatus,
  INJECTOR_NS,
  installPlainCertificate,
  podGet,
  portForward,
  procStatus,
  rootIsReadOnly,
  sh,
  userCheckout,
  verdictLines,
  waitForBody,
  WEBHOOK_SELECTOR,
  withBody,
} from './user.js';

// The first run may build kubelet/kube-scheduler and the images (minutes); later runs reuse them.
const SUITE_TIMEOUT = 45 * 60_000;
const SYNC_FREQUENCY = '3s';
/** manifests/examples-api: the last-accepted ConfigMap `rbac` prints for the example. */
const STORE = 'envoy-xds-example-envoy-xds-accepted';

function report(msg: string): void {
  process.stderr.write(`[node] ${msg}\n`);
}

describe('a real node: the injected Pod runs, Envoy serves, ConfigMap edits reach it', { timeout: SUITE_TIMEOUT }, () => {
  let cluster: Cluster;
  let node: TestNode;
  let repo: string; // the user's checkout (manifests/, certs/)
  let demoPod: k8s.V1Pod;

  const demoPodNow = async (): Promise<k8s.V1Pod> => {
    const [pod] = await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 1);
    if (pod === undefined) throw new Error('no demo Pod');
    return pod;
  };

  before(async () => {
    cluster = await startCluster(NODE_CLUSTER_OPTIONS);
    node = await startNode(cluster, { syncFrequency: SYNC_FREQUENCY });
    report(`control plane in ${cluster.startSeconds.toFixed(1)}s, node Ready in ${node.startSeconds.toFixed(1)}s (${Object.values(node.images).join(', ')})`);
    repo = await userCheckout(join(cluster.workDir, 'user'));
  });

  after(async () => {
    if (typeof node !== 'undefined') await node.stop();
    if (typeof cluster !== 'undefined') await cluster.stop();
  });

  test('1. install with the plain-certificate overlay: 2 webhook replicas from the image, reached through the Service', async () => {
    await installPlainCertificate(cluster, repo, (ns) => describePods(cluster, ns));
    const pods = await waitForReadyPods(cluster, INJECTOR_NS, WEBHOOK_SELECTOR, 2);
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.spec?.containers[0]?.image, node.images.injector, 'the webhook runs the image built from the Dockerfile');
      assert.equal(p.spec?.nodeName, node.name, 'scheduled by kube-scheduler');
    }
    // The PodDisruptionBudget sees both replicas (the disruption controller runs).
    await waitFor('PDB currentHealthy 2', async () => {
      const pdb = await k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig).read<k8s.V1PodDisruptionBudget>({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'envoy-xds-injector', namespace: INJECTOR_NS },
      });
      return pdb.status?.currentHealthy === 2 ? pdb : undefined;
    });
    // The apiserver calls the webhook through its Service (Endpoints = the two Pod IPs): a
    // server-side dry-run of an opted-in Pod comes back injected.
    const ips = pods.map((p) => p.status?.podIP).sort();
    await waitFor('Endpoints with both replicas', async () => {
      const ep = await cluster.core.readNamespacedEndpoints({ namespace: INJECTOR_NS, name: 'envoy-xds-injector' });
      const got = (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
      return JSON.stringify(got) === JSON.stringify(ips) ? true : undefined;
    });
    await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name: 'probe' } }) });
    const probe = await waitFor('an injected dry-run Pod', async () => {
      const pod = await cluster.core.createNamespacedPod({
        namespace: 'probe',
        dryRun: 'All',
        body: plain<k8s.V1Pod>({
          metadata: { name: 'probe', annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'x' } },
          spec: { containers: [{ name: 'envoy', image: node.images.envoy ?? '' }] },
        }),
      });
      return pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined ? pod : undefined;
    });
    assert.ok(probe.spec?.initContainers?.some((c) => c.name === 'envoy-xds-copy'));
  });

  test('2. kubectl apply -k manifests/examples: copy Completed, watch started before Envoy, Envoy Ready and serving, restricted at run time', async () => {
    await sh(cluster, repo, 'kubectl', ['apply', '-k', 'manifests/examples']);
    const ns = await cluster.core.readNamespace({ name: DEMO_NS });
    assert.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    demoPod = await demoPodNow();
    const init = demoPod.status?.initContainerStatuses ?? [];
    const copy = init.find((s) => s.name === 'envoy-xds-copy');
    const watch = init.find((s) => s.name === 'envoy-xds-watch');
    const envoy = demoPod.status?.containerStatuses?.find((s) => s.name === 'envoy');
    assert.equal(copy?.state?.terminated?.reason, 'Completed', JSON.stringify(copy));
    assert.equal(copy.state.terminated.exitCode, 0);
    assert.ok(watch?.state?.running !== undefined && watch.started === true, JSON.stringify(watch));
    assert.ok(envoy?.state?.running !== undefined && envoy.ready, JSON.stringify(envoy));
    // A native sidecar's startupProbe gates the next container: the watcher started (and
    // passed its probe) before the kubelet started Envoy.
    const watchSpec = demoPod.spec?.initContainers?.find((c) => c.name === 'envoy-xds-watch');
    assert.equal(watchSpec?.restartPolicy, 'Always');
    assert.ok(watchSpec.startupProbe !== undefined);
    const watchStarted = new Date(watch.state.running.startedAt ?? 0).getTime();
    const envoyStarted = new Date(envoy.state.running.startedAt ?? 0).getTime();
    assert.ok(watchStarted <= envoyStarted, `watch started ${String(watch.state.running.startedAt)}, envoy ${String(envoy.state.running.startedAt)}`);
    // The example names envoyproxy/envoy:v1.40.0; containerd holds it as docker.io/envoyproxy/...
    assert.equal(`docker.io/${demoPod.spec?.containers.find((c) => c.name === 'envoy')?.image ?? ''}`, node.images.envoy);

    // PodSecurity restricted took effect inside the containers (not only at admission).
    for (const status of [watch, envoy]) {
      const pid = await containerPid(node, containerId(status));
      const st = await procStatus(pid);
      assert.equal(st.NoNewPrivs, '1', `${status.name}: NoNewPrivs`);
      assert.equal(st.Seccomp, '2', `${status.name}: seccomp filter mode`);
      assert.equal(st.CapEff, '0000000000000000', `${status.name}: no effective capabilities`);
      assert.notEqual(st.Uid?.split('\t')[0], '0', `${status.name}: not root`);
      assert.equal(await rootIsReadOnly(pid), true, `${status.name}: read-only root filesystem`);
    }

    // README: port-forward, then curl.
    const pf = await portForward(cluster, DEMO_NS, 'deployment/envoy', 10000);
    try {
      const r = await waitFor('the demo body through port-forward', async () => {
        const res = await podGet('127.0.0.1', pf.port);
        return res.status === 200 ? res : undefined;
      });
      assert.equal(r.body, DEMO_BODY_V1);
    } finally {
      await pf.close();
    }
  });

  test('3. edit lds.yaml in the ConfigMap: the same Pod serves the new body, no restart', async () => {
    const ip = demoPod.status?.podIP ?? '';
    assert.equal((await podGet(ip, 10000)).body, DEMO_BODY_V1);
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, 'config v2\n'));
    const seconds = await waitForBody(ip, 10000, 'config v2\n');
    report(`ConfigMap edit -> Envoy serving: ${seconds.toFixed(1)}s (kubelet syncFrequency ${SYNC_FREQUENCY})`);
    const pod = await demoPodNow();
    assert.equal(pod.metadata?.uid, demoPod.metadata?.uid, 'same Pod');
    for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      assert.equal(s.restartCount, 0, `${s.name} restarted`);
    }
    const watchLog = await containerLogs(cluster, DEMO_NS, pod.metadata?.name ?? '', 'envoy-xds-watch');
    assert.match(watchLog, /lds\.yaml/, 'the watcher logs the republished file');
  });

  test('4. an edit Envoy refuses: Envoy keeps serving v2, the watcher logs the rejection, puts v2 back on disk (a restarted Envoy loads it) and `status` shows it; a NEW Pod starts from the ConfigMap without the listener and its watcher says so', async (t) => {
    // The tests after this one run the demo ConfigMap: should this one fail before its last step
    // fixes it, put the shipped listener back so they do not fail for want of one.
    const shipped = await exampleObject<k8s.V1ConfigMap>(repo, 'configmap.yaml');
    const fixedLds = withBody(shipped.data?.['lds.yaml'] ?? '', 'config v3\n');
    let fixed = false;
    t.after(async () => {
      if (!fixed) await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', () => fixedLds);
    });
    // The case test/fixtures/cases/envoy-rejects-parses-fine.lds.yaml: valid YAML with an @type
    // on every resource, refused by Envoy (a duration that is not one), on the demo's listener.
    const refused = await refusedLds();
    const pod = await demoPodNow();
    const name = pod.metadata?.name ?? '';
    const uid = pod.metadata?.uid ?? '';
    const ip = pod.status?.podIP ?? '';
    // v2 (test 3) carries no version_info: copy/watch stamp `sha256:<12 hex of the ConfigMap content>`.
    const v2 = (await cluster.core.readNamespacedConfigMap({ namespace: DEMO_NS, name: DEMO_CONFIGMAP })).data?.['lds.yaml'] ?? '';
    assert.match(v2, /config v2/);
    const v2Version = `sha256:${createHash('sha256').update(v2).digest('hex').slice(0, 12)}`;
    const statsBefore = await envoyStats(cluster, DEMO_NS, name, 'listener_manager.lds');
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', () => refused);

    // The kubelet delivers the file, the watcher publishes it, Envoy refuses it, and the watcher
    // logs Envoy's verdict (`kubectl logs POD -c envoy-xds-watch`) after putting v2 back.
    const verdict = await waitFor(
      'the watcher\'s verdict on lds.yaml version example-2',
      async () => verdictLines(await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')).find((v) => v.file === 'lds.yaml' && String(v.xdsVersion).startsWith('example-2+sha256:')),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    report(`refused edit, the watcher's line: ${verdict.msg}`);
    assert.equal(verdict.outcome, 'rejected', verdict.msg);
    assert.equal(verdict.rolledBack, true, verdict.msg);
    assert.equal(verdict.level, 50);
    assert.equal(verdict.previousXdsVersion, v2Version, 'the version Envoy keeps running is v2');
    // The copy of exactly the content refused: refused/..sha256-<the digest its version shows>/lds.yaml.
    const refusedAt = refusedCopy(WATCH_TARGET, 'lds.yaml', verdict.xdsVersion);
    assert.equal(verdict.refused, refusedAt);
    // Why: the file does not parse, and for that Envoy's admin API has no reason; the verdict names
    // the line of Envoy's log (with the path Envoy reads) that has it, and `kubectl logs -c envoy` does.
    assert.equal(verdict.reason, undefined);
    assert.equal(verdict.envoyLog, 'Filesystem config update failure: in /etc/envoy/lds.yaml');
    const envoyLines = (await containerLogs(cluster, DEMO_NS, name, 'envoy')).split('\n').filter((l) => l.includes('] Filesystem config update failure: in /etc/envoy/lds.yaml'));
    assert.ok(envoyLines.some((l) => /listener_filters_timeout.*duration\s+must\s+start\s+with\s+an\s+integer/.test(l)), envoyLines.join('\n'));
    // Envoy's own counters agree: one more failed LDS update, no new version.
    const stats = await envoyStats(cluster, DEMO_NS, name, 'listener_manager.lds');
    const refusals = (x: Record<string, number>): number => (x['listener_manager.lds.update_failure'] ?? 0) + (x['listener_manager.lds.update_rejected'] ?? 0);
    assert.equal(refusals(stats), refusals(statsBefore) + 1, JSON.stringify(stats));
    assert.equal((await podGet(ip, 10000)).body, 'config v2\n', 'Envoy keeps serving the last accepted listener');

    // The emptyDir Envoy reads holds v2 again (as stamped), the refused file is kept aside.
    const onDisk = await execIn(cluster, DEMO_NS, name, 'envoy', ['/bin/busybox', 'cat', '/etc/envoy/lds.yaml']);
    assert.match(onDisk, new RegExp(`^version_info: "${v2Version}"`, 'm'));
    assert.ok(onDisk.endsWith(v2), 'the published lds.yaml is v2 (plus its version_info line)');
    assert.equal(await execIn(cluster, DEMO_NS, name, 'envoy-xds-watch', ['cat', `${WATCH_TARGET}/lds.yaml`]), onDisk);
    // Kept as it was published: the ConfigMap's text with its version made unique to the content.
    assert.equal(await execIn(cluster, DEMO_NS, name, 'envoy-xds-watch', ['cat', verdict.refused]), publishable('lds.yaml', Buffer.from(refused)).content.toString('utf8'));

    // `status`, as docs/sync.md tells it, inside the watcher container (the CLI is on its PATH).
    const local = await waitFor('status to show the rejected verdict', async () => {
      const out = await podLocalStatus(cluster, DEMO_NS, name);
      return /^lds\.yaml .*rejected example-2/m.test(out.stdout) ? out : undefined;
    });
    // A refusal is exit 1 (docs/status.md), with the whole table on stdout and the file named on stderr.
    assert.equal(local.code, 1, local.stderr);
    assert.match(local.stderr, /^envoy-xds-injector status: the ConfigMap's version is refused: lds\.yaml \(Envoy refused it\)/);
    const table = local.stdout;
    report(`envoy-xds-injector status:\n${table}`);
    const row = table.split('\n').find((l) => l.startsWith('lds.yaml')) ?? '';
    // The refused version as the watcher stamped it: example-2+sha256:<12 hex>.
    const refusedVersion = String(verdict.xdsVersion).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(row, new RegExp(`^lds\\.yaml +${refusedVersion} \\(refused, held back\\) +${v2Version} +${v2Version} +rejected ${refusedVersion} at .* rolled back$`));
    assert.match(table, /^envoy admin 127\.0\.0\.1:9901$/m, 'the watcher reaches Envoy\'s admin API over the Pod\'s loopback');
    // ... and the validate the verdict's line gives, run in this Pod's watcher on the ConfigMap's file.
    assert.match(table, new RegExp(`^WHY ENVOY REFUSED\\nlds\\.yaml ${refusedVersion}: Envoy's admin API does not say why; Envoy's log does: grep -A 60 "Filesystem config update failure: in /etc/envoy/lds\\.yaml"; kubectl exec -n ${DEMO_NS} ${name} -c envoy-xds-watch -- envoy-xds-injector validate ${refusedAt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} names the field and its line in the refused version kept there$`, 'm'));

    // A restarted Envoy container in the same Pod (here: admin /quitquitquit, the kubelet restarts
    // it) loads what is on disk: v2, not the refused file the ConfigMap still holds.
    await execIn(cluster, DEMO_NS, name, 'envoy', ['/bin/busybox', 'wget', '-qO-', '--post-data=', 'http://127.0.0.1:9901/quitquitquit']);
    await waitFor('Envoy restarted by the kubelet and Ready', async () => {
      const p = await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name });
      const envoy = p.status?.containerStatuses?.find((c) => c.name === 'envoy');
      return (envoy?.restartCount ?? 0) >= 1 && envoy?.ready === true ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    await waitForBody(ip, 10000, 'config v2\n');
    const afterRestart = JSON.parse((await podLocalStatus(cluster, DEMO_NS, name, ['--json'])).stdout) as Status;
    assert.deepEqual(afterRestart.files.find((f) => f.file === 'lds.yaml')?.envoy, { version: v2Version, live: true }, 'the restarted Envoy runs v2');

    // Deleting the Pod: the replacement's copy init container starts from the ConfigMap, which
    // still holds the refused lds.yaml, into a new emptyDir. So its Envoy starts without the
    // listener (not Ready), and its watcher, having no accepted version to go back to, logs the
    // refusal at fatal level. The fix is the ConfigMap's. (With source: api the last accepted
    // version is kept outside the Pod and the replacement serves it: test 9.)
    await cluster.core.deleteNamespacedPod({ namespace: DEMO_NS, name, gracePeriodSeconds: 0 });
    const replacement = await waitFor(
      'the replacement Pod\'s Envoy running',
      async () =>
        (await listPods(cluster, DEMO_NS, DEMO_SELECTOR)).find(
          (p) => p.metadata?.uid !== uid && p.status?.containerStatuses?.find((c) => c.name === 'envoy')?.state?.running !== undefined,
        ),
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const replacementName = replacement.metadata?.name ?? '';
    const first = await waitFor(
      'the replacement watcher\'s verdict on lds.yaml',
      async () => verdictLines(await containerLogs(cluster, DEMO_NS, replacementName, 'envoy-xds-watch')).find((v) => v.file === 'lds.yaml'),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    report(`the replacement Pod's watcher: ${first.msg}`);
    assert.equal(first.outcome, 'rejected', first.msg);
    assert.match(String(first.xdsVersion), /^example-2\+sha256:[0-9a-f]{12}$/);
    assert.equal(first.rolledBack, false);
    assert.equal(first.level, 60, 'fatal: Envoy runs without the listener');
    assert.match(first.msg, /REFUSED lds\.yaml version \S+, and no version of lds\.yaml was accepted before it/);
    const replacementStats = await envoyStats(cluster, DEMO_NS, replacementName, 'listener_manager');
    assert.ok(refusals(replacementStats) > 0, JSON.stringify(replacementStats));
    assert.equal(replacementStats['listener_manager.total_listeners_active'], 0, 'the new Pod\'s Envoy has no listener');
    assert.equal(isReady(await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name: replacementName })), false);
    const replacementLocal = await podLocalStatus(cluster, DEMO_NS, replacementName, ['--json']);
    assert.equal(replacementLocal.code, 1, 'the ConfigMap\'s lds.yaml is refused: exit 1');
    const replacementStatus = JSON.parse(replacementLocal.stdout) as Status;
    const lds = replacementStatus.files.find((f) => f.file === 'lds.yaml');
    assert.equal(lds?.held, true);
    assert.equal(lds.verdict?.outcome, 'rejected');
    assert.equal(lds.verdict.rolledBack, false);
    assert.deepEqual(lds.envoy, { version: '', live: true }, 'Envoy runs no LDS version');

    // Fixing the ConfigMap: the replacement Pod picks it up and turns Ready, no restart.
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', () => fixedLds);
    fixed = true;
    const [recovered] = await waitForReadyPods(cluster, DEMO_NS, DEMO_SELECTOR, 1);
    assert.equal(recovered?.metadata?.name, replacementName);
    await waitForBody(recovered.status?.podIP ?? '', 10000, 'config v3\n');
    await waitFor('the replacement watcher\'s verdict: Envoy accepted the fix', async () =>
      verdictLines(await containerLogs(cluster, DEMO_NS, replacementName, 'envoy-xds-watch')).find((v) => v.file === 'lds.yaml' && v.outcome === 'accepted'),
    );
  });

  test('5. a Job whose Envoy is an injected native sidecar completes', async () => {
    const job = plain<k8s.V1Job>({
      metadata: { name: 'envoy-job' },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': DEMO_CONFIGMAP } },
          spec: {
            restartPolicy: 'Never',
            securityContext: { runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, seccompProfile: { type: 'RuntimeDefault' } },
            initContainers: [
              {
                name: 'envoy',
                image: node.images.envoy ?? '',
                restartPolicy: 'Always',
                args: ['-c', '/etc/envoy/envoy.yaml'],
                startupProbe: { tcpSocket: { port: 10000 }, periodSeconds: 1, failureThreshold: 120 },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
            containers: [
              {
                name: 'client',
                image: node.images.envoy ?? '',
                command: ['/bin/busybox', 'sh', '-c', 'busybox wget -qO- http://127.0.0.1:10000/ | busybox grep -q "config v3"'],
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    });
    const batch = cluster.kubeConfig.makeApiClient(k8s.BatchV1Api);
    await batch.createNamespacedJob({ namespace: DEMO_NS, body: job });
    const done = await waitFor(
      'Job envoy-job Complete',
      async () => {
        const j = await batch.readNamespacedJob({ name: 'envoy-job', namespace: DEMO_NS });
        const c = j.status?.conditions ?? [];
        if (c.some((x) => x.type === 'Failed' && x.status === 'True')) throw new Error(`Job failed: ${JSON.stringify(c)}`);
        return c.some((x) => x.type === 'Complete' && x.status === 'True') ? j : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000 },
    ).catch(async (err: unknown) => {
      const pods = await listPods(cluster, DEMO_NS, 'job-name=envoy-job');
      const why = await Promise.all(pods.map((p) => describePod(cluster, DEMO_NS, p.metadata?.name ?? '')));
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${why.join('\n')}`);
    });
    assert.equal(done.status?.succeeded, 1);
    const [pod] = await listPods(cluster, DEMO_NS, 'job-name=envoy-job');
    assert.equal(pod?.status?.phase, 'Succeeded');
    assert.deepEqual(
      pod.spec?.initContainers?.map((c) => c.name),
      ['envoy-xds-copy', 'envoy-xds-watch', 'envoy'],
      'copy, then the watcher, then Envoy (both native sidecars)',
    );
  });

  test('6. the ConfigMap does not exist: the Pod is injected, waits in ContainerCreating with a FailedMount Event, and starts once it exists', async () => {
    const name = 'no-configmap';
    const labels = { app: name };
    const deployment = plain<k8s.V1Deployment>({
      metadata: { name },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'missing-xds' } },
          spec: (await exampleObject<k8s.V1Deployment>(repo, 'deployment.yaml')).spec?.template.spec,
        },
      },
    });
    await cluster.apps.createNamespacedDeployment({ namespace: DEMO_NS, body: deployment });
    const pod = await waitFor('the Pod of no-configmap', async () => (await listPods(cluster, DEMO_NS, `app=${name}`))[0]);
    const podName = pod.metadata?.name ?? '';
    assert.ok(pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined, 'injected: the webhook does not look the ConfigMap up');
    // The kubelet's first FailedMount says `failed to sync configmap cache: timed out waiting for
    // the condition`; the retries name the ConfigMap: `configmap "missing-xds" not found`.
    const event = await waitFor(
      'FailedMount: configmap "missing-xds" not found',
      async () => (await listEvents(cluster, DEMO_NS, { name: podName, reason: 'FailedMount', type: 'Warning' })).find((e) =>
        (e.message ?? '').includes('configmap "missing-xds" not found'),
      ),
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    report(`missing ConfigMap: Event ${event.reason ?? ''}: ${event.message ?? ''}`);
    const waiting = await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name: podName });
    assert.equal(waiting.status?.phase, 'Pending');
    const copyState = waiting.status.initContainerStatuses?.find((s) => s.name === 'envoy-xds-copy')?.state;
    assert.equal(copyState?.waiting?.reason, 'PodInitializing', JSON.stringify(waiting.status));
    const kubectlView = await kubectl(cluster, ['-n', DEMO_NS, 'get', 'pod', podName, '--no-headers']);
    report(`kubectl get pod: ${kubectlView.stdout.trim()}`);
    assert.match(kubectlView.stdout, /Init:0\/2/);

    // Creating the ConfigMap is the fix: the kubelet retries the mount and the Pod starts.
    const cm = await cluster.core.readNamespacedConfigMap({ namespace: DEMO_NS, name: DEMO_CONFIGMAP });
    await cluster.core.createNamespacedConfigMap({ namespace: DEMO_NS, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'missing-xds' }, data: cm.data ?? {} }) });
    await waitForReadyPods(cluster, DEMO_NS, `app=${name}`, 1, 240_000);
    await cluster.apps.deleteNamespacedDeployment({ namespace: DEMO_NS, name });
  });

  test('7. rolling restart of the webhook and a CA rotation while Pods are created continuously: 0 failed creations', async () => {
    const churn = 'churn';
    await cluster.core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name: churn } }) });
    const counts = { created: 0, failed: 0, notInjected: 0 };
    const failures: string[] = [];
    const churning = { on: true };
    const loop = (async () => {
      let i = 0;
      while (churning.on) {
        const name = `churn-${++i}`;
        try {
          const pod = await cluster.core.createNamespacedPod({
            namespace: churn,
            body: plain<k8s.V1Pod>({
              metadata: { name, annotations: { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'churn' } },
              // Never scheduled (no node has this label): the creations go through the webhook
              // without loading the node.
              spec: { nodeSelector: { 'envoy-xds-injector.io/nowhere': 'true' }, containers: [{ name: 'envoy', image: node.images.envoy ?? '' }] },
            }),
          });
          counts.created++;
          if (pod.metadata?.annotations?.[STATUS_ANNOTATION] === undefined) counts.notInjected++;
          await cluster.core.deleteNamespacedPod({ namespace: churn, name, gracePeriodSeconds: 0 }).catch(() => undefined);
        } catch (err) {
          counts.failed++;
          failures.push(`${new Date().toISOString()} ${name}: ${apiMessage(err)}`);
        }
        await sleep(100);
      }
    })();
    const webhookPodNames = async (): Promise<string[]> => (await listPods(cluster, INJECTOR_NS, WEBHOOK_SELECTOR)).map((p) => p.metadata?.name ?? '').sort();
    try {
      await sleep(2_000);
      // Rolling restart: every replica replaced, one surge replica at a time.
      const before = await webhookPodNames();
      await sh(cluster, repo, 'kubectl', ['-n', INJECTOR_NS, 'rollout', 'restart', 'deployment/envoy-xds-injector']);
      await sh(cluster, repo, 'kubectl', ['-n', INJECTOR_NS, 'rollout', 'status', 'deployment/envoy-xds-injector', '--timeout=300s']);
      await waitFor('the old webhook Pods gone', async () => {
        const now = await webhookPodNames();
        return now.length === 2 && now.every((n) => !before.includes(n)) ? true : undefined;
      }, { timeoutMs: 120_000 });
      report(`rolling restart: ${JSON.stringify(counts)}`);

      // CA rotation as certs/README.md tells it: stage-ca, promote-ca (new serving certificate), retire-ca.
      for (const step of ['stage-ca', 'promote-ca', 'retire-ca']) {
        await sh(cluster, repo, 'certs/generate.sh', [step]);
        await sh(cluster, repo, 'kubectl', ['apply', '-k', 'manifests/overlays/plain-certificate']);
        if (step === 'promote-ca') {
          // Wait until every replica serves the new certificate (the kubelet refreshes the Secret
          // volume at the Pod's resync; the server reloads it).
          const want = new X509Certificate(await readFile(join(repo, 'certs', 'out', 'tls.crt'))).fingerprint256;
          await waitFor('both replicas serving the promoted certificate', async () => {
            const pods = (await listPods(cluster, INJECTOR_NS, WEBHOOK_SELECTOR)).filter(isReady);
            const prints = await Promise.all(pods.map((p) => servingFingerprint(p.status?.podIP ?? '', 8443)));
            return pods.length === 2 && prints.every((f) => f === want) ? true : undefined;
          }, { timeoutMs: 180_000, intervalMs: 1_000 });
        }
        await sleep(3_000);
      }
      report(`after the CA rotation: ${JSON.stringify(counts)}`);
    } finally {
      churning.on = false;
      await loop;
    }
    assert.deepEqual(failures, []);
    assert.equal(counts.failed, 0);
    assert.equal(counts.notInjected, 0);
    assert.ok(counts.created > 20, `only ${counts.created} Pods created`);
  });

  test('8. the watcher sidecar\'s memory on the node (kubelet stats), idle and after edits, against its limit', async () => {
    const pod = await demoPodNow();
    const ip = pod.status?.podIP ?? '';
    const limit = pod.spec?.initContainers?.find((c) => c.name === 'envoy-xds-watch')?.resources?.limits?.memory;
    assert.equal(limit, '80Mi', 'the default of src/inject/config.ts');
    const limitBytes = 80 * 1024 * 1024;
    const workingSet = async (): Promise<number> =>
      waitFor('kubelet stats for envoy-xds-watch', async () => {
        const s = await node.statsSummary();
        const p = s.pods?.find((x) => x.podRef.uid === pod.metadata?.uid);
        return p?.containers?.find((c) => c.name === 'envoy-xds-watch')?.memory?.workingSetBytes;
      });
    const idle = await workingSet();
    const EDITS = 5;
    for (let i = 1; i <= EDITS; i++) {
      await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, `config m${i}\n`));
      await waitForBody(ip, 10000, `config m${i}\n`);
    }
    const afterEdits = await workingSet();
    report(`envoy-xds-watch working set: idle ${(idle / 2 ** 20).toFixed(1)} MiB, after ${EDITS} edits ${(afterEdits / 2 ** 20).toFixed(1)} MiB, limit ${limit}`);
    assert.ok(idle < limitBytes && afterEdits < limitBytes);
    const watch = (await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name: pod.metadata?.name ?? '' })).status?.initContainerStatuses?.find(
      (x) => x.name === 'envoy-xds-watch',
    );
    assert.equal(watch?.restartCount, 0, `the watcher restarted: ${JSON.stringify(watch?.lastState)}`);
  });

  test('9. source api (kubectl apply -k manifests/examples-api): edits arrive through the API, a refused one is kept as such in the last-accepted ConfigMap, and deleting the Pod brings a new one that serves the last accepted config', async () => {
    await sh(cluster, repo, 'kubectl', ['apply', '-k', 'manifests/examples-api']);
    const apiPod = await waitFor('the source: api Pod Ready', async () =>
      (await listPods(cluster, DEMO_NS, DEMO_SELECTOR)).find(
        (p) => p.metadata?.annotations?.['envoy-xds-injector.io/source'] === 'api' && p.metadata.deletionTimestamp === undefined && isReady(p),
      ), { timeoutMs: 180_000, intervalMs: 500 });
    const name = apiPod.metadata?.name ?? '';
    const ip = apiPod.status?.podIP ?? '';
    assert.ok(apiPod.spec?.volumes?.some((v) => v.name === 'envoy-xds-accepted' && v.configMap?.name === STORE && v.configMap.optional === true));
    await waitFor('the watcher following the ConfigMap through the API', async () =>
      (await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')).includes('following the ConfigMap through the Kubernetes API') ? true : undefined,
    { timeoutMs: 120_000, intervalMs: 500 }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nthe watcher's log:\n${await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')}`);
    });
    assert.ok(node.serviceProxy.connections > 0, 'the watcher reached the API through the kubernetes Service');

    // A good edit: through the API, then kept in the last-accepted ConfigMap (`rbac` created it empty).
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', (t) => withBody(t, 'config a1\n'));
    await waitForBody(ip, 10000, 'config a1\n');
    const store = async (): Promise<k8s.V1ConfigMap> => cluster.core.readNamespacedConfigMap({ namespace: DEMO_NS, name: STORE });
    await waitFor('a1 kept in the last-accepted ConfigMap', async () => ((await store()).data?.['lds.yaml']?.includes('config a1') === true ? true : undefined));

    // That case: Envoy refuses it, keeps a1, and the refusal is kept next to a1.
    const refused = await refusedLds();
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', () => refused);
    const rejected = await waitFor('the watcher\'s verdict on example-2', async () =>
      verdictLines(await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')).find((v) => v.file === 'lds.yaml' && String(v.xdsVersion).startsWith('example-2+sha256:')),
    { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal(rejected.outcome, 'rejected', rejected.msg);
    assert.equal((await podGet(ip, 10000)).body, 'config a1\n');
    const record = await waitFor('the refusal kept', async () => {
      const text = (await store()).data?.['envoy-xds-injector.record.json'];
      const parsed = text === undefined ? undefined : (JSON.parse(text) as { files: Record<string, { refused?: { version?: string; pod?: string } }> });
      return parsed?.files['lds.yaml']?.refused !== undefined ? parsed : undefined;
    });
    assert.match(String(record.files['lds.yaml']?.refused?.version), /^example-2\+sha256:[0-9a-f]{12}$/);
    assert.equal(record.files['lds.yaml']?.refused?.pod, `${DEMO_NS}/${name}`);

    // Deleting the Pod: the replacement's copy starts Envoy from a1, the replacement is Ready and
    // serves a1, and its own Envoy refuses example-2 too (rolled back, not the fatal first refusal).
    await cluster.core.deleteNamespacedPod({ namespace: DEMO_NS, name, gracePeriodSeconds: 0 });
    const replacement = await waitFor('the replacement Pod Ready', async () =>
      (await listPods(cluster, DEMO_NS, DEMO_SELECTOR)).find((p) => p.metadata?.name !== name && p.metadata?.deletionTimestamp === undefined && isReady(p)),
    { timeoutMs: 180_000, intervalMs: 500 });
    const replacementName = replacement.metadata?.name ?? '';
    await waitForBody(replacement.status?.podIP ?? '', 10000, 'config a1\n');
    const copyLog = await containerLogs(cluster, DEMO_NS, replacementName, 'envoy-xds-copy');
    report(`the replacement's copy: ${copyLog.split('\n').find((l) => l.includes('which Envoy refused')) ?? copyLog}`);
    assert.match(copyLog, new RegExp(`lds\\.yaml: the ConfigMap holds version example-2\\+sha256:[0-9a-f]{12}, which Envoy refused in Pod ${DEMO_NS}/${name} `));
    const own = await waitFor('the replacement Envoy\'s own verdict on example-2', async () =>
      verdictLines(await containerLogs(cluster, DEMO_NS, replacementName, 'envoy-xds-watch')).find((v) => v.file === 'lds.yaml' && String(v.xdsVersion).startsWith('example-2+sha256:')),
    { timeoutMs: 60_000, intervalMs: 500 });
    report(`the replacement's watcher: ${own.msg}`);
    assert.equal(own.outcome, 'rejected', own.msg);
    assert.equal(own.rolledBack, true, own.msg);
    assert.equal(own.level, 50);
    assert.equal((await podGet(replacement.status?.podIP ?? '', 10000)).body, 'config a1\n');
    const table = (await podLocalStatus(cluster, DEMO_NS, replacementName)).stdout;
    report(`envoy-xds-injector status in the replacement:\n${table}`);
    assert.match(table, /^lds\.yaml +example-2\+sha256:[0-9a-f]{12} \(refused, held back\) +sha256:[0-9a-f]{12} +sha256:[0-9a-f]{12} +rejected example-2\+sha256:[0-9a-f]{12} at .* rolled back$/m);
    assert.equal(isReady(await cluster.core.readNamespacedPod({ namespace: DEMO_NS, name: replacementName })), true);
  });

  test('10. no RoleBinding: the watcher\'s Fix, run as printed with kubectl alone (rbac in the Pod\'s watcher container), restores it; the watcher follows the API again', async () => {
    const binding = 'envoy-xds-watch-envoy-xds-example-envoy'; // what `rbac` names it (manifests/examples-api/rbac.yaml)
    await sh(cluster, repo, 'kubectl', ['-n', DEMO_NS, 'delete', 'rolebinding', binding]);
    const before = (await listPods(cluster, DEMO_NS, DEMO_SELECTOR)).filter((p) => p.metadata?.deletionTimestamp === undefined);
    for (const p of before) await cluster.core.deleteNamespacedPod({ namespace: DEMO_NS, name: p.metadata?.name ?? '', gracePeriodSeconds: 0 });
    const gone = new Set(before.map((p) => p.metadata?.name));
    const pod = await waitFor('a Pod without the Role Ready', async () =>
      (await listPods(cluster, DEMO_NS, DEMO_SELECTOR)).find((p) => !gone.has(p.metadata?.name) && p.metadata?.deletionTimestamp === undefined && isReady(p)),
    { timeoutMs: 180_000, intervalMs: 500 });
    const name = pod.metadata?.name ?? '';
    const forbidden = await waitFor('the watcher\'s forbidden line', async () =>
      (await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')).split('\n').map((l) => /"msg":"(Kubernetes API forbids [^"\\]*(?:\\.[^"\\]*)*)"/.exec(l)?.[1]).find((m) => m !== undefined),
    { timeoutMs: 120_000, intervalMs: 500 });
    const fix = (JSON.parse(`"${forbidden}"`) as string).split('Fix: ')[1] ?? '';
    report(`the watcher's fix: ${fix}`);
    assert.equal(fix, `kubectl exec -n ${DEMO_NS} ${name} -c envoy-xds-watch -- envoy-xds-injector rbac --namespace ${DEMO_NS} --service-account envoy --configmap ${DEMO_CONFIGMAP} | kubectl apply -f -`);
    // As an operator pastes it: a shell with kubectl on PATH and the cluster's kubeconfig, nothing else.
    const applied = await run('sh', ['-c', fix], { cwd: repo, env: { PATH: `${dirname(await kubectlPath())}:/usr/bin:/bin`, KUBECONFIG: cluster.kubeconfigPath, HOME: process.env.HOME ?? '/root' } });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`rolebinding\\.rbac\\.authorization\\.k8s\\.io/${binding} created`));
    await waitFor('the watcher back on the API', async () =>
      (await containerLogs(cluster, DEMO_NS, name, 'envoy-xds-watch')).includes('Kubernetes API usable again') ? true : undefined,
    { timeoutMs: 120_000, intervalMs: 500 });
    const shipped = (await exampleObject<k8s.V1ConfigMap>(repo, 'configmap.yaml')).data?.['lds.yaml'] ?? '';
    await editConfigMap(cluster, DEMO_NS, DEMO_CONFIGMAP, 'lds.yaml', () => withBody(shipped, 'config a2\n'));
    await waitForBody(pod.status?.podIP ?? '', 10000, 'config a2\n', 30_000);
  });
});

/** An object of manifests/examples/<file> in the user's checkout. */
async function exampleObject<T>(repo: string, file: string): Promise<T> {
  const [obj] = k8s.loadAllYaml(await readFile(join(repo, 'manifests', 'examples', file), 'utf8')) as T[];
  if (obj === undefined) throw new Error(`nothing in manifests/examples/${file}`);
  return obj;
}

/**
 * The case envoy-rejects-parses-fine.lds.yaml (test/fixtures/cases), moved onto
 * the demo's listener (0.0.0.0:10000): valid YAML, an @type on every resource, and Envoy 1.40
 * refuses it ("listener_filters_timeout: ... duration must start with an integer").
 */
async function refusedLds(): Promise<string> {
  const text = await readFile(new URL('../fixtures/cases/envoy-rejects-parses-fine.lds.yaml', import.meta.url), 'utf8');
  const moved = text.replace('{address: 127.0.0.1, port_value: 18080}', '{address: 0.0.0.0, port_value: 10000}');
  if (moved === text) throw new Error('the case no longer listens on 127.0.0.1:18080: update refusedLds()');
  return moved;
}

/** The TLS certificate a server presents, as its SHA-256 fingerprint (X509Certificate format). */
function servingFingerprint(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, rejectUnauthorized: false, servername: 'envoy-xds-injector.envoy-xds-injector.svc' }, () => {
      const cert = s.getPeerX509Certificate();
      s.destroy();
      if (cert === undefined) reject(new Error('no certificate'));
      else resolve(cert.fingerprint256);
    });
    s.on('error', reject);
    s.setTimeout(3_000, () => s.destroy(new Error('timeout')));
  });
}
