// `copy` hands the last-accepted store it read to the watcher (src/sync/verdict/store-handoff.ts),
// against the real kube-apiserver with real Envoy: a Pod of a workload whose store already holds
// what its Envoy accepts sends no request for the store at its start (the apiserver's audit log
// counts them, per ServiceAccount: one per Pod here); without the handoff (copy ran without a
// store, an older copy) and with a corrupt one, it reads the store as before; a handoff gone stale
// before the watcher started (the workload moved on to another version) never puts the store back
// to what the handoff said, and the store ends on the version Envoy serves.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogLine } from '../sync/harness.js';
import { waitFor } from '../sync/harness.js';
import { LAST_ACCEPTED_RECORD_KEY } from '../../src/inject/last-accepted.js';
import type { LastAcceptedRecord } from '../../src/sync/last-accepted/record.js';
import { handoffPath } from '../../src/sync/verdict/store-handoff.js';
import { startApiPod, type ApiPod } from './api-source.js';
import { startCluster, type Cluster } from './cluster.js';

const TIMEOUT = { timeout: 600_000 };
const CM = 'envoy-xds';
const STORE = `${CM}-envoy-xds-accepted`;
const NAMESPACES = ['handoff', 'handoff-stale'];
let cluster: Cluster;
let work: string;
let auditLog: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'envoy-xds-handoff-'));
  auditLog = join(work, 'audit.log');
  // Every request on ConfigMaps in these namespaces, with who sent it.
  await writeFile(join(work, 'audit-policy.json'), JSON.stringify({
    apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'],
    rules: [{ level: 'Metadata', namespaces: NAMESPACES, resources: [{ group: '', resources: ['configmaps'] }] }, { level: 'None' }],
  }));
  cluster = await startCluster({ extraApiServerArgs: [`--audit-policy-file=${join(work, 'audit-policy.json')}`, `--audit-log-path=${auditLog}`] });
});
after(async () => {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
});

interface Audited { verb: string; stage: string; user: { username: string }; objectRef?: { namespace?: string; name?: string }; responseStatus?: { code?: number } }

/** The requests for the last-accepted store that `serviceAccount` of `namespace` sent, as `verb status`. */
async function storeRequests(namespace: string, serviceAccount: string): Promise<string[]> {
  const text = await readFile(auditLog, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Audited)
    .filter((e) => e.stage === 'ResponseComplete' && e.objectRef?.namespace === namespace && e.objectRef.name === STORE && e.user.username === `system:serviceaccount:${namespace}:${serviceAccount}`)
    .map((e) => `${e.verb} ${String(e.responseStatus?.code)}`);
}

async function storeRecord(namespace: string): Promise<{ data: Record<string, string>; record: LastAcceptedRecord | undefined }> {
  const cm = await cluster.core.readNamespacedConfigMap({ namespace, name: STORE });
  const data = cm.data ?? {};
  const text = data[LAST_ACCEPTED_RECORD_KEY];
  return { data, record: text === undefined ? undefined : (JSON.parse(text) as LastAcceptedRecord) };
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const msg = (l: LogLine): string => (typeof l.msg === 'string' ? l.msg : '');
const HANDED = /^starting from the last-accepted store as copy read it \d+ s ago/;
const HELD = 'the last-accepted store already holds these verdicts: nothing sent';
const firstVerdict = (pod: ApiPod): Promise<LogLine> => pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'lds.yaml', 'Envoy\'s first verdict');

/** The workload's first Pod: no store yet (rbac created it empty); its watcher fills it with v0. */
async function firstPod(namespace: string): Promise<{ pod: ApiPod; v0: string }> {
  const pod = await startApiPod(cluster, { namespace, serviceAccount: 'envoy', configMap: CM, podName: 'envoy-0' });
  const v0 = await readFile(join(pod.dirs.target, 'lds.yaml'), 'utf8');
  await waitFor(async () => (await storeRecord(namespace)).record?.files['lds.yaml']?.accepted?.sha256 === sha(v0), 'v0 kept by the first Pod');
  return { pod, v0 };
}

test('a Pod whose store already holds what its Envoy accepts: no store request at the start with the handoff; one GET without it (copy ran without the store) and with a corrupt one', TIMEOUT, async () => {
  const ns = 'handoff';
  const { pod: first, v0 } = await firstPod(ns);
  const pods: ApiPod[] = [first];
  try {
    assert.deepEqual(await storeRequests(ns, 'envoy'), ['get 200', 'update 200'], 'the first Pod: the store read, then written');

    // A second Pod of the workload, injected as source: api Pods are: copy reads the store's volume.
    const handed = await startApiPod(cluster, { namespace: ns, serviceAccount: 'envoy-b', configMap: CM, podName: 'envoy-1', port: first.port, keepConfigMap: true, acceptedStore: true, env: { LOG_LEVEL: 'debug' } });
    pods.push(handed);
    assert.ok(handed.watcher.logs.some((l) => HANDED.test(msg(l))));
    assert.equal(await readFile(join(handed.dirs.target, 'lds.yaml'), 'utf8'), v0);
    assert.equal((await firstVerdict(handed)).outcome, 'accepted');
    const held = await handed.watcher.waitForLog((l) => msg(l) === HELD, 'the verdict found held');
    assert.deepEqual(held.files, ['lds.yaml']);

    // Without the handoff (copy without the store, or an older copy): the watcher reads the store.
    const plain = await startApiPod(cluster, { namespace: ns, serviceAccount: 'envoy-c', configMap: CM, podName: 'envoy-2', port: first.port, keepConfigMap: true });
    pods.push(plain);
    await waitFor(async () => (await storeRequests(ns, 'envoy-c')).length > 0, 'the store read without the handoff');

    // A corrupt handoff: said once, at warn; the store read as without one.
    const corrupt = await startApiPod(cluster, {
      namespace: ns, serviceAccount: 'envoy-d', configMap: CM, podName: 'envoy-3', port: first.port, keepConfigMap: true, acceptedStore: true,
      beforeWatch: async (dirs) => { await writeFile(handoffPath(dirs.target), '{"format":1,"readAt":'); },
    });
    pods.push(corrupt);
    const warned = corrupt.watcher.logs.filter((l) => msg(l).startsWith('what copy read of the last-accepted store'));
    assert.equal(warned.length, 1);
    const [warning] = warned as [LogLine];
    assert.equal(warning.level, 40);
    assert.match(msg(warning), /is not used: not JSON .*; reading the store from the API at the first verdict$/);
    await waitFor(async () => (await storeRequests(ns, 'envoy-d')).length > 0, 'the store read after a corrupt handoff');

    for (const pod of pods.splice(1)) await pod.stop(); // every write the watchers had queued is done
    assert.deepEqual(await storeRequests(ns, 'envoy-b'), [], 'with the handoff: no store request');
    assert.deepEqual(await storeRequests(ns, 'envoy-c'), ['get 200'], 'without: one GET, the store already holding the verdict');
    assert.deepEqual(await storeRequests(ns, 'envoy-d'), ['get 200'], 'a corrupt handoff: one GET');
    assert.equal((await storeRecord(ns)).record?.files['lds.yaml']?.accepted?.pod, `${ns}/envoy-0`, 'nothing rewritten');
  } finally {
    for (const pod of pods) await pod.stop();
  }
});

test('a handoff gone stale before the watcher started (the workload moved on to v1): the store is never put back to v0; it ends on v1', TIMEOUT, async () => {
  const ns = 'handoff-stale';
  const { pod: first } = await firstPod(ns);
  let late: ApiPod | undefined;
  try {
    let v1 = '';
    late = await startApiPod(cluster, {
      namespace: ns, serviceAccount: 'envoy-b', configMap: CM, podName: 'envoy-1', port: first.port, keepConfigMap: true, acceptedStore: true, body: 'v1',
      // copy read the store holding v0; before this Pod's watcher starts, the workload takes v1.
      beforeWatch: async () => {
        await first.setBody('v1');
        await first.envoy.waitForBody(first.port, 'v1', 60_000);
        v1 = await readFile(join(first.dirs.target, 'lds.yaml'), 'utf8');
        await waitFor(async () => (await storeRecord(ns)).data['lds.yaml'] === v1, 'v1 kept by the first Pod');
      },
    });
    assert.ok(late.watcher.logs.some((l) => HANDED.test(msg(l))), 'the handoff (saying v0) is used');
    // Its Envoy started on v0 (copy's), then gets v1 through the API.
    await late.watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'lds.yaml' && l.outcome === 'accepted' && typeof l.xdsVersion === 'string' && v1.includes(l.xdsVersion), 'this Envoy accepting v1');
    const target = join(late.dirs.target, 'lds.yaml');
    await waitFor(async () => (await readFile(target, 'utf8')) === v1, 'v1 on disk');
    await late.stop();
    late = undefined;
    // One GET, for v1 (the handoff held v0, not v1); no write: the store held v1 when asked. Without
    // the handoff, v0's verdict would have been written first (GET, then a PUT back to v0).
    assert.deepEqual(await storeRequests(ns, 'envoy-b'), ['get 200']);
    const end = await storeRecord(ns);
    assert.equal(end.data['lds.yaml'], v1);
    assert.equal(end.record?.files['lds.yaml']?.accepted?.sha256, sha(v1));
  } finally {
    await late?.stop();
    await first.stop();
  }
});
