// `watch --source api` against a real kube-apiserver and real Envoy: authenticated with a real
// ServiceAccount token (TokenRequest), authorized by the Role the `rbac` command prints: edits,
// status, Events and the last-accepted store. The apiserver restarted, 410, the ConfigMap deleted
// and the in-cluster config: api-source-apiserver.test.ts.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { bootstrapYaml, ldsYaml, startEnvoy } from '../envoy/envoy.js';
import type { LogLine } from '../sync/harness.js';
import { AtomicWriter, runCli, waitFor } from '../sync/harness.js';
import { LAST_ACCEPTED_RECORD_KEY } from '../../src/inject/last-accepted.js';
import type { LastAcceptedRecord } from '../../src/sync/last-accepted/record.js';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
import { EventRecorder } from '../../src/sync/watch/reporters.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import type * as k8s from '@kubernetes/client-node';
import { kubectl, type Cluster } from './cluster.js';
import { clusterPerFile } from './cluster-per-file.js';
import { API_IN_USE, applyRbac, ensureNamespace, eventWritesTotal, serviceAccountKubeconfig, setupApiNamespace, startApiPod, startApiPodInUse } from './api-source.js';

const TIMEOUT = { timeout: 600_000 };
let cluster: Cluster;
clusterPerFile((started) => { cluster = started; });

const published = (logs: LogLine[]): LogLine[] => logs.filter((l) => l.msg === 'published' && l.file === 'lds.yaml');

async function podEvents(namespace: string, pod: string): Promise<k8s.CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${pod}` });
  return list.items;
}

/** Poll Envoy's listener in the background and record every distinct body served, in order. */
function recordServed(get: () => Promise<{ status: number; body: string } | undefined>) {
  const served: string[] = [];
  const state = { stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      const res = await get();
      if (res?.status === 200 && served.at(-1) !== res.body) served.push(res.body);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return { served, stop: async () => { state.stopped = true; await loop; } };
}

test('50 ConfigMap edits through the API (over HTTP/2, as the apiserver speaks it): Envoy serves every version, in order, none stale or lost; Events regard the Pod', TIMEOUT, async () => {
  const pod = await startApiPodInUse(cluster, 'api-edits');
  try {
    assert.equal(pod.watcher.logs.find((l) => l.msg === API_IN_USE)?.transport, 'HTTP/2');
    const recorder = recordServed(() => pod.envoy.get(pod.port));
    const rvs: string[] = [];
    for (let i = 1; i <= 50; i++) {
      rvs.push(await pod.setBody(`v${String(i)}`));
      await pod.envoy.waitForBody(pod.port, `v${String(i)}`, 60_000);
    }
    // The background poller sees the last version too (waitForBody above polls on its own).
    await waitFor(() => recorder.served.at(-1) === 'v50', 'the poller to see v50');
    await recorder.stop();
    const versions = recorder.served.map((b) => Number(b.slice(1)));
    assert.deepEqual(versions.slice(versions.indexOf(1)), Array.from({ length: 50 }, (_, i) => i + 1), 'each version served once, in order');
    // One publish per edit, stamped with the ConfigMap's resourceVersion of that edit.
    const stamped = published(pod.watcher.logs).map((l) => l.resourceVersion).filter((rv) => rv !== undefined);
    assert.deepEqual(stamped.slice(-50), rvs);

    // A refused edit: the gate keeps the last good version, Envoy keeps serving it, and says so in an Event.
    await pod.setLds('resources: [unclosed');
    await waitFor(async () => (await podEvents('api-edits', 'envoy-0')).some((e) => e.reason === 'XdsInvalid'), 'XdsInvalid event');
    assert.equal((await pod.envoy.get(pod.port))?.body, 'v50');

    // Envoy's verdict on each edit, as one Event series (the first version, published by copy and
    // judged when the watcher starts, may count too).
    await waitFor(async () => {
      const e = (await podEvents('api-edits', 'envoy-0')).find((ev) => ev.reason === 'XdsAccepted');
      return (e?.count ?? 0) >= 50;
    }, 'XdsAccepted count to reach 50');
    const accepted = (await podEvents('api-edits', 'envoy-0')).filter((e) => e.reason === 'XdsAccepted');
    assert.equal(accepted.length, 1, 'one Event object for the series, not one per edit');
    assert.equal(accepted[0]?.involvedObject.uid, pod.podUid);
    assert.match(String(accepted[0].message), /lds\.yaml version sha256:[0-9a-f]{12}, ConfigMap resourceVersion \d+/);

    // An edit the gate lets through and Envoy refuses (the shared case's kind: a Duration field
    // that is not one): Envoy keeps v50, the watcher puts v50 back on disk and says so.
    await pod.setLds(ldsYaml({ port: pod.port, body: 'refused' }).replace('  filter_chains:', '  listener_filters_timeout: "abc"\n  filter_chains:'));
    await waitFor(async () => (await podEvents('api-edits', 'envoy-0')).some((e) => e.reason === 'XdsRolledBack'), 'XdsRolledBack event');
    assert.equal((await pod.envoy.get(pod.port))?.body, 'v50');

    const events = await podEvents('api-edits', 'envoy-0');
    const rolledBack = events.find((e) => e.reason === 'XdsRolledBack');
    assert.equal(rolledBack?.type, 'Warning');
    assert.match(String(rolledBack.message), /lds\.yaml version .* rolled back to sha256:/);
    // Envoy's admin API has no reason for a file that does not parse: the Event names Envoy's log line,
    // with the path Envoy reads (this Pod's ConfigMap has no bootstrap: the path comes from Envoy's own,
    // in its config dump).
    // A file that does not parse is what a schema check sees: the ConfigMap from the API piped into the Pod's validate.
    assert.ok(String(rolledBack.message).includes(`Envoy's admin API does not say why; Envoy's log does: grep -A 60 "Filesystem config update failure: in ${join(pod.dirs.target, 'lds.yaml')}"; `), String(rolledBack.message));
    // ... on the refused version the watcher keeps (the ConfigMap may hold a newer one by the time it is read).
    // Exactly the content refused: refused/..sha256-<the digest its version shows>/lds.yaml, not refused/lds.yaml (a newer refusal replaces that).
    const copy = /; kubectl exec -n api-edits envoy-0 -c envoy-xds-watch -- envoy-xds-injector validate \S+\/\.\.envoy-xds-verdict\/refused\/\.\.sha256-([0-9a-f]{12})\/lds\.yaml names the field and its line in the refused version kept there$/.exec(String(rolledBack.message));
    assert.ok(copy !== null, String(rolledBack.message));
    assert.match(String(rolledBack.message), new RegExp(`lds\\.yaml version \\S*sha256:${copy[1] ?? ''}\\b`), 'the copy of the version refused');
    // What an operator runs.
    const shown = await kubectl(cluster, ['events', '-n', 'api-edits', '--for', 'pod/envoy-0']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /\(x5\d over [\dhms]+\)\s+Normal\s+XdsAccepted\s+Pod\/envoy-0\s+lds\.yaml version/);
    assert.match(shown.stdout, /Warning\s+XdsInvalid\s+Pod\/envoy-0\s+lds\.yaml not published/);
    assert.match(shown.stdout, /Warning\s+XdsRolledBack\s+Pod\/envoy-0\s+lds\.yaml version/);
    const invalid = events.find((e) => e.reason === 'XdsInvalid');
    assert.equal(invalid?.type, 'Warning');
    assert.match(String(invalid.message), /lds\.yaml not published, the last good version stays/);
  } finally {
    await pod.stop();
  }
});

test("status in a source: api Pod: CONFIGMAP is the version the watcher read from the API (the volume lags it), a refused one the gate's, and the header says where it was read", TIMEOUT, async () => {
  const pod = await startApiPod(cluster, { namespace: 'api-status', serviceAccount: 'envoy', configMap: 'envoy-xds', podName: 'envoy-0' });
  interface Row { file: string; configMap?: string; published?: string; invalid?: { message: string } }
  const row = async (): Promise<{ row: Row | undefined; text: string }> => {
    const json = JSON.parse((await runCli(['status', '--to', pod.dirs.target, '--json'])).stdout) as { files: Row[] };
    return { row: json.files.find((f) => f.file === 'lds.yaml'), text: (await runCli(['status', '--to', pod.dirs.target])).stdout };
  };
  const versionOf = (text: string): string => {
    const p = publishable('lds.yaml', Buffer.from(text));
    return p.version ?? `sha256:${p.sha256.slice(0, 12)}`;
  };
  try {
    const rv = await pod.setBody('v1');
    await pod.envoy.waitForBody(pod.port, 'v1', 60_000);
    // The volume still holds v0: the kubelet's sync has not come (there is none here).
    assert.match(await readFile(join(pod.dirs.source, 'lds.yaml'), 'utf8'), /v0/);
    const v1 = versionOf(ldsYaml({ port: pod.port, body: 'v1' }));
    let last = await row();
    await waitFor(async () => (last = await row()).row?.configMap === v1, 'status shows the version read from the API').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last.text}`);
    });
    assert.equal(last.row?.published, v1, last.text);
    assert.match(last.text, new RegExp(`^source the Kubernetes API \\(resourceVersion ${rv}, read \\S+; volume ${pod.dirs.source}\\)`), last.text);
    assert.equal((await runCli(['status', '--to', pod.dirs.target])).code, 0);

    // Content the gate refuses, read from the API only: shown as the ConfigMap's, refused by the gate.
    const bad = 'resources: [unclosed';
    await pod.setLds(bad);
    await waitFor(async () => (last = await row()).row?.configMap === versionOf(bad), 'status shows the refused version read from the API').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last.text}`);
    });
    const refused = await row(); // what status says once it shows the refused version
    assert.ok(refused.row, refused.text);
    assert.equal(refused.row.published, v1, refused.text);
    assert.match(refused.row.invalid?.message ?? '', /YAML/, refused.text);
    assert.match(refused.text, /^lds\.yaml +\S+ \(refused by the gate, not published\)/m, refused.text);
    const exit = await runCli(['status', '--to', pod.dirs.target]);
    assert.equal(exit.code, 1, 'the ConfigMap\'s version is refused (by the gate): exit 1');
  } finally {
    await pod.stop();
  }
});

test('a burst of 100 edits: Envoy ends on the last one, and Event writes stay within the token bucket (25 + 1 per 10 s)', TIMEOUT, async () => {
  const pod = await startApiPodInUse(cluster, 'api-burst');
  try {
    const before = await eventWritesTotal(cluster);
    const started = Date.now();
    for (let i = 1; i <= 100; i++) await pod.setBody(`b${String(i)}`);
    await pod.envoy.waitForBody(pod.port, 'b100', 60_000);
    // Let the recorder write what the bucket allows after the burst, then count.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const writes = (await eventWritesTotal(cluster)) - before;
    const seconds = (Date.now() - started) / 1000;
    const bound = 25 + Math.ceil(seconds / 10) + 1;
    const passes = published(pod.watcher.logs).length;
    process.stderr.write(`[api-source] burst of 100 edits: ${String(passes)} publishes, ${String(writes)} Event writes in ${seconds.toFixed(1)} s (bound ${String(bound)})\n`);
    assert.ok(writes <= bound, `${String(writes)} Event writes > bound ${String(bound)}`);
    assert.ok(writes >= 1);
  } finally {
    await pod.stop();
  }
});

test('no RoleBinding: watch says once what is forbidden and which command fixes it, and follows the volume; once the Role is applied the Events kept and the last-accepted store are written', TIMEOUT, async () => {
  const pod = await startApiPod(cluster, {
    namespace: 'api-forbidden', serviceAccount: 'nobody', configMap: 'envoy-xds', podName: 'envoy-0', bind: false,
    extraArgs: ['--volume-lag', '1s'],
  });
  try {
    const line = await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Kubernetes API forbids'), 'forbidden line');
    assert.match(line.msg ?? '', /forbids list on configmaps "envoy-xds" in namespace api-forbidden/);
    assert.match(line.msg ?? '', /Fix: kubectl exec -n api-forbidden envoy-0 -c envoy-xds-watch -- envoy-xds-injector rbac --namespace api-forbidden --service-account nobody --configmap envoy-xds \| kubectl apply -f -/);
    // The kubelet updates the volume: the watcher publishes it.
    await pod.volume.write({ 'lds.yaml': ldsYaml({ port: pod.port, body: 'from-volume' }) });
    await pod.envoy.waitForBody(pod.port, 'from-volume', 60_000);
    // Several retries later, still one line.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    assert.equal(pod.watcher.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Kubernetes API forbids')).length, 1);

    // Events were forbidden too: said once, with when they are tried again; the verdicts are kept.
    await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot record Events'), 'Events forbidden line');
    assert.equal((await podEvents('api-forbidden', 'envoy-0')).length, 0);

    // Granting the Role brings the API back without a restart, and the Events kept with it.
    const granted = Date.now();
    await applyRbac(cluster, 'api-forbidden', 'nobody', 'envoy-xds');
    await pod.watcher.waitForLog((l) => l.msg === 'Kubernetes API usable again: following the ConfigMap through the API', 'API back', 120_000);
    const usable = Date.now();
    let events: k8s.CoreV1Event[] = [];
    await waitFor(async () => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      events = await podEvents('api-forbidden', 'envoy-0');
      return events.some((e) => e.reason === 'XdsAccepted');
    }, 'the XdsAccepted Event kept while forbidden, within 30 s of the API usable again', 30_000);
    assert.ok(pod.watcher.logs.some((l) => l.msg === 'Events can be recorded again: writing the ones kept while forbidden'));
    process.stdout.write(`Event written ${String(Date.now() - usable)} ms after the API was usable again, ${String(Date.now() - granted)} ms after the Role was applied\n`);
    // The last-accepted store (created empty by `rbac | kubectl apply`) gets what was kept while forbidden, as soon.
    await waitFor(async () => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const cm = await cluster.core.readNamespacedConfigMap({ namespace: 'api-forbidden', name: 'envoy-xds-envoy-xds-accepted' }).catch(() => undefined);
      return cm?.data?.['lds.yaml'] !== undefined;
    }, 'the store written within 30 s of the API usable again (not after the 5 min wait of a 403)', 30_000);
    process.stdout.write(`store written ${String(Date.now() - usable)} ms after the API was usable again\n`);
    await pod.setBody('from-api');
    await pod.envoy.waitForBody(pod.port, 'from-api', 60_000);
  } finally {
    await pod.stop();
  }
});

test('synthetic verdict records become XdsAccepted / XdsRejected / XdsRolledBack Events on the real apiserver; without the Role: one line, no crash', TIMEOUT, async () => {
  const namespace = 'api-verdicts';
  const kubeconfig = await setupApiNamespace(cluster, namespace);
  await ensureNamespace(cluster, namespace, 'nobody');
  const pod = { namespace, name: 'envoy-0', uid: 'uid-0' };
  const recorder = new EventRecorder({ connection: kubeconfigConnection(kubeconfig), pod, logger: pino({ level: 'silent' }) });
  recorder.verdict({ file: 'lds.yaml', version: 'a1b2', outcome: 'accepted', rolledBack: false, latencyMs: 7.2, message: 'Envoy serves it', resourceVersion: '101' });
  recorder.verdict({ file: 'lds.yaml', version: 'c3d4', outcome: 'accepted', rolledBack: false, latencyMs: 5, message: 'Envoy serves it', resourceVersion: '102' });
  recorder.verdict({ file: 'cds.yaml', version: 'e5f6', outcome: 'rejected', rolledBack: false, message: 'Envoy rejected it: unknown field' });
  recorder.verdict({ file: 'cds.yaml', version: 'e5f6', previousVersion: '9a9a', outcome: 'rejected', rolledBack: true, message: 'the previous file is back' });
  await recorder.flush();
  await recorder.close();
  const events = await podEvents(namespace, 'envoy-0');
  const byReason = new Map(events.map((e) => [e.reason, e]));
  assert.deepEqual([...byReason.keys()].sort(), ['XdsAccepted', 'XdsRejected', 'XdsRolledBack']);
  const accepted = byReason.get('XdsAccepted');
  assert.equal(accepted?.count, 2);
  assert.equal(accepted.type, 'Normal');
  assert.equal(accepted.message, 'lds.yaml version c3d4, ConfigMap resourceVersion 102, after 5 ms: Envoy serves it');
  assert.equal(accepted.involvedObject.kind, 'Pod');
  assert.equal(byReason.get('XdsRejected')?.type, 'Warning');
  assert.match(String(byReason.get('XdsRolledBack')?.message), /cds\.yaml version e5f6, rolled back to 9a9a: the previous file is back/);

  const lines: string[] = [];
  const denied = new EventRecorder({
    connection: kubeconfigConnection(await serviceAccountKubeconfig(cluster, namespace, 'nobody', cluster.workDir)),
    pod,
    logger: pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } }),
    fixCommand: 'envoy-xds-injector rbac --namespace api-verdicts --service-account nobody --configmap envoy-xds | kubectl apply -f -',
  });
  for (let i = 0; i < 5; i++) {
    denied.verdict({ file: `f${String(i)}.yaml`, version: 'v', outcome: 'accepted', rolledBack: false, message: 'm' });
    await denied.flush();
  }
  await denied.close();
  const warnings = lines.filter((l) => l.includes('cannot record Events'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /create\/patch events in namespace api-verdicts is forbidden/);
  assert.equal(denied.stats.creates, 1, 'paused after the 403');
});

test('the last-accepted ConfigMap: the watcher keeps what Envoy accepted and what it refused; a new Pod\'s copy, reading it as the kubelet projects it, starts Envoy on the accepted version', TIMEOUT, async () => {
  const ns = 'api-last-accepted';
  const pod = await startApiPod(cluster, { namespace: ns, serviceAccount: 'envoy', configMap: 'envoy-xds', podName: 'envoy-0' });
  const storeName = 'envoy-xds-envoy-xds-accepted';
  const store = async (): Promise<{ data: Record<string, string>; record: LastAcceptedRecord | undefined }> => {
    const cm = await cluster.core.readNamespacedConfigMap({ namespace: ns, name: storeName });
    const data = cm.data ?? {};
    const text = data[LAST_ACCEPTED_RECORD_KEY];
    return { data, record: text === undefined ? undefined : (JSON.parse(text) as LastAcceptedRecord) };
  };
  const other = await mkdtemp(join(tmpdir(), 'envoy-xds-new-pod-'));
  let envoy: Awaited<ReturnType<typeof startEnvoy>> | undefined;
  try {
    // `rbac | kubectl apply` created it, empty; the watcher fills it in after Envoy's verdicts.
    await pod.setBody('v1');
    await pod.envoy.waitForBody(pod.port, 'v1', 60_000);
    const v1 = await readFile(join(pod.dirs.target, 'lds.yaml'), 'utf8');
    await waitFor(async () => (await store()).data['lds.yaml'] === v1, 'v1 kept in the last-accepted ConfigMap');
    const kept = await store();
    assert.equal(kept.record?.configMap, 'envoy-xds');
    assert.equal(kept.record.files['lds.yaml']?.accepted?.sha256, createHash('sha256').update(v1).digest('hex'));
    assert.equal(kept.record.files['lds.yaml'].accepted.pod, `${ns}/envoy-0`);
    assert.ok(pod.watcher.logs.some((l) => l.msg === `keeping Envoy's verdicts in ConfigMap ${storeName} (a new Pod starts from what Envoy last accepted)`));

    // The shared case: the gate lets it through, Envoy refuses it; the refusal is kept too.
    const refused = (await readFile(new URL('../fixtures/cases/envoy-rejects-parses-fine.lds.yaml', import.meta.url), 'utf8')).replace('port_value: 18080', `port_value: ${String(pod.port)}`);
    await pod.setLds(refused);
    await waitFor(async () => (await store()).record?.files['lds.yaml']?.refused !== undefined, 'the refusal kept');
    const marked = await store();
    // The mark names the content as published (stamped), which is what copy compares the ConfigMap's file with.
    assert.equal(marked.record?.files['lds.yaml']?.refused?.sha256, publishable('lds.yaml', Buffer.from(refused)).sha256);
    assert.match(String(marked.record.files['lds.yaml'].refused.version), /^example-2\+sha256:[0-9a-f]{12}$/);
    assert.equal(marked.data['lds.yaml'], v1, 'the accepted content stays');
    assert.equal((await pod.envoy.get(pod.port))?.body, 'v1');

    // A new Pod: the kubelet projects both ConfigMaps (AtomicWriter layout); copy starts from v1.
    const project = async (name: string, dir: string): Promise<void> => {
      await mkdir(dir);
      const cm = await cluster.core.readNamespacedConfigMap({ namespace: ns, name });
      await new AtomicWriter(dir).write(cm.data ?? {});
    };
    await project('envoy-xds', join(other, 'source'));
    await project(storeName, join(other, 'accepted'));
    await mkdir(join(other, 'target'));
    const copy = await runCli(['copy', '--from', join(other, 'source'), '--to', join(other, 'target'), '--accepted', join(other, 'accepted')]);
    assert.equal(copy.code, 0, copy.stdout);
    assert.equal(await readFile(join(other, 'target', 'lds.yaml'), 'utf8'), v1);
    assert.match(String(copy.logs.find((l) => l.level === 40 && l.file === 'lds.yaml')?.msg), new RegExp(`which Envoy refused in Pod ${ns}/envoy-0`));
    envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(other, 'target', 'lds.yaml') }) }, workDir: other, logLevel: 'warning' });
    // Its listener has the first Envoy's port (both bind it, SO_REUSEPORT): ask its admin API what it runs.
    const v1Version = /^version_info: "([^"]+)"/m.exec(v1)?.[1];
    const started = envoy;
    await waitFor(async () => (await started.textStat('listener_manager.lds.version_text')) === v1Version, 'the new Envoy to run v1');
    assert.equal(await started.stat('listener_manager.total_listeners_active'), 1);
    assert.equal((await started.stat('listener_manager.lds.update_rejected')) + (await started.stat('listener_manager.lds.update_failure')), 0);

    // The fix reaches the store as well: the refusal no longer applies to the ConfigMap's content.
    await pod.setBody('v3');
    await pod.envoy.waitForBody(pod.port, 'v3', 60_000);
    await waitFor(async () => (await store()).data['lds.yaml']?.includes('v3') === true, 'v3 kept');
  } finally {
    await envoy?.stop();
    await pod.stop();
    await rm(other, { recursive: true, force: true });
  }
});

test('the last-accepted ConfigMap missing and no right to create it: one warning naming the fix; serving goes on', TIMEOUT, async () => {
  const ns = 'api-last-accepted-missing';
  const pod = await startApiPod(cluster, { namespace: ns, serviceAccount: 'envoy', configMap: 'envoy-xds', podName: 'envoy-0' });
  try {
    await cluster.core.deleteNamespacedConfigMap({ namespace: ns, name: 'envoy-xds-envoy-xds-accepted' });
    for (const body of ['m1', 'm2', 'm3']) {
      await pod.setBody(body);
      await pod.envoy.waitForBody(pod.port, body, 60_000);
    }
    const line = await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot create ConfigMap envoy-xds-envoy-xds-accepted'), 'the forbidden create');
    assert.match(String(line.msg), /fix: kubectl exec -n api-last-accepted-missing envoy-0 -c envoy-xds-watch -- envoy-xds-injector rbac --namespace api-last-accepted-missing --service-account envoy --configmap envoy-xds \| kubectl apply -f -$/);
    assert.equal(pod.watcher.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot create ConfigMap')).length, 1);
  } finally {
    await pod.stop();
  }
});
