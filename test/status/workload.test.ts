// gatherWorkload/waitForWorkload over a stand-in API and Pod reader: which Pods, the ConfigMap's
// versions as `watch` stamps them, what the API alone says, and --wait's exits and progress lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ConfigMap, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { plain } from '../e2e/objects.js';
import { formatWorkload, formatWorkloadAs, summaryLine } from '../../src/status/format.js';
import { refusalMessage, waitForWorkload } from '../../src/status/wait.js';
import { gatherWorkload, parseTarget, selectorString, wantedFiles, type PodReader, type StatusApi } from '../../src/status/workload.js';
import { sha256, stampVersion } from '../../src/sync/envoy/version-stamp.js';

const LDS = 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n';
const cm = (lds: string, rv: string): V1ConfigMap => plain<V1ConfigMap>({ metadata: { name: 'xds', resourceVersion: rv }, data: { 'lds.yaml': lds, 'envoy.yaml': 'admin: {}\n' } });
const ldsVersion = (lds: string): string => stampVersion('lds.yaml', Buffer.from(lds), sha256(Buffer.from(lds))).version ?? '';

function pod(name: string, opts: { phase?: string; watcher?: 'running' | 'waiting'; envoy?: 'running' | 'crash'; injected?: boolean; deleting?: boolean } = {}): V1Pod {
  const status = JSON.stringify({ configmap: 'xds', container: 'envoy' });
  return plain<V1Pod>({
    metadata: {
      name,
      labels: { app: 'envoy' },
      annotations: opts.injected === false ? {} : { 'envoy-xds-injector.io/status': status },
      ...(opts.deleting === true ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      containers: [{ name: 'envoy' }],
      initContainers: [{ name: 'envoy-xds-watch', args: ['watch', '--from', '/s', '--to', '/etc/custom', '--ready-file', '/x'] }],
    },
    status: {
      phase: opts.phase ?? 'Running',
      initContainerStatuses: [{ name: 'envoy-xds-watch', image: '', imageID: '', ready: true, restartCount: opts.watcher === 'waiting' ? 3 : 0, state: opts.watcher === 'waiting' ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} } }],
      containerStatuses: [{ name: 'envoy', image: '', imageID: '', ready: true, restartCount: opts.envoy === 'crash' ? 2 : 0, state: opts.envoy === 'crash' ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} } }],
    },
  });
}

function fakeApi(pods: () => V1Pod[], configMap: () => V1ConfigMap, selector: V1LabelSelector = plain<V1LabelSelector>({ matchLabels: { app: 'envoy' } })): StatusApi & { listed: string[] } {
  const listed: string[] = [];
  return {
    listed,
    workloadSelector: (kind, _ns, name) => (kind === 'deployment' && name === 'envoy' ? Promise.resolve(selector) : Promise.reject(Object.assign(new Error('nf'), { code: 404 }))),
    listPods: (_ns, sel) => { listed.push(sel); return Promise.resolve(pods()); },
    readPod: (_ns, name) => { const p = pods().find((x) => x.metadata?.name === name); return p === undefined ? Promise.reject(Object.assign(new Error('nf'), { code: 404 })) : Promise.resolve(p); },
    readConfigMap: () => Promise.resolve(configMap()),
  };
}

/** A Pod-local status where Envoy runs `lds` and the bootstrap is published. */
const localJson = (ldsRuns: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
  targetDir: '/etc/custom', watcherPid: 1, updatedAt: '', files: [
    { file: 'envoy.yaml', held: false, configMap: `sha256:${sha256(Buffer.from('admin: {}\n')).slice(0, 12)}`, published: `sha256:${sha256(Buffer.from('admin: {}\n')).slice(0, 12)}` },
    { file: 'lds.yaml', held: false, configMap: ldsRuns, published: ldsRuns, subscribed: true, envoy: { version: ldsRuns, live: true }, ...extra },
  ],
});

test('status targets: kubectl\'s TYPE/NAME spellings; selectors with expressions', () => {
  assert.deepEqual(parseTarget('deploy/envoy'), { kind: 'deployment', name: 'envoy' });
  assert.deepEqual(parseTarget('deployment.apps/envoy'), { kind: 'deployment', name: 'envoy' });
  assert.deepEqual(parseTarget('ds/e'), { kind: 'daemonset', name: 'e' });
  assert.deepEqual(parseTarget('statefulset/e'), { kind: 'statefulset', name: 'e' });
  assert.deepEqual(parseTarget('pod/e-1'), { kind: 'pod', name: 'e-1' });
  for (const bad of ['envoy', 'service/envoy', 'deployment/', '/x', 'deployment/a/b']) assert.equal(parseTarget(bad), undefined, bad);
  assert.equal(selectorString(plain<V1LabelSelector>({ matchLabels: { app: 'envoy' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'DoesNotExist' }] })), 'app=envoy,tier in (a,b),!x');
});

test('the ConfigMap\'s versions are the ones watch stamps (data and binaryData); the gate\'s refusal with where and why', async () => {
  const files = await wantedFiles(plain<V1ConfigMap>({ data: { 'lds.yaml': LDS }, binaryData: { 'blob.bin': Buffer.from([0, 1, 2]).toString('base64') } }));
  assert.deepEqual(files, [
    { file: 'blob.bin', version: `sha256:${sha256(Buffer.from([0, 1, 2])).slice(0, 12)}` },
    { file: 'lds.yaml', version: ldsVersion(LDS) },
  ]);
  // The user's version_info stays visible; watch makes it unique to the content.
  const mine = `version_info: mine-7\n${LDS}`;
  assert.deepEqual(await wantedFiles(plain<V1ConfigMap>({ data: { 'lds.yaml': mine } })), [{ file: 'lds.yaml', version: ldsVersion(mine) }]);
  assert.match(ldsVersion(mine), /^mine-7\+sha256:[0-9a-f]{12}$/);
  const broken = `${LDS}   port: 1\n`;
  assert.deepEqual(await wantedFiles(plain<V1ConfigMap>({ data: { 'lds.yaml': broken } })), [
    { file: 'lds.yaml', version: ldsVersion(broken), invalid: { where: 'lds.yaml:4:8', message: 'invalid YAML: bad indentation of a mapping entry' } },
  ]);
});

test('a deployment\'s Pods: each read in its watcher with its --to; not injected, crashing, starting and terminating Pods said as such', async () => {
  const pods = [
    pod('envoy-a'),
    pod('envoy-b', { envoy: 'crash' }),
    pod('envoy-c', { watcher: 'waiting' }),
    pod('envoy-d', { injected: false }),
    pod('envoy-e', { phase: 'Pending', watcher: 'waiting' }),
    pod('envoy-f', { deleting: true }),
  ];
  const pe = pods[4]?.status?.initContainerStatuses?.[0];
  if (pe !== undefined) pe.restartCount = 0;
  const api = fakeApi(() => pods, () => cm(LDS, '5'));
  const reads: string[] = [];
  const read: PodReader = (_ns, name, container, dir) => { reads.push(`${name} ${container} ${dir}`); return Promise.resolve(localJson(ldsVersion(LDS))); };
  const s = await gatherWorkload({ api, read, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.deepEqual(api.listed, ['app=envoy']);
  assert.deepEqual(reads.sort(), ['envoy-a envoy-xds-watch /etc/custom', 'envoy-b envoy-xds-watch /etc/custom']);
  const state = Object.fromEntries(s.pods.map((p) => [p.pod, `${p.state} ${p.reason ?? ''}`.trim()]));
  assert.deepEqual(state, {
    'envoy-a': 'SYNCED',
    'envoy-b': 'UNKNOWN Envoy\'s container envoy is not running (waiting: CrashLoopBackOff, 2 restarts)',
    'envoy-c': 'UNKNOWN container envoy-xds-watch is not running (waiting: CrashLoopBackOff, 3 restarts)',
    'envoy-d': 'UNKNOWN not injected (no envoy-xds-injector.io/status annotation): no watcher to ask',
    'envoy-e': 'PENDING the Pod is starting (Pending; envoy-xds-watch waiting: CrashLoopBackOff)',
  });
  assert.deepEqual(s.skipped, ['envoy-f (terminating)']);
  assert.equal(s.state, 'UNKNOWN');
  assert.equal(summaryLine(s), 'deployment/envoy: 5 Pods: 1 SYNCED, 1 PENDING, 3 UNKNOWN (ConfigMap xds resourceVersion 5); skipped envoy-f (terminating)');
  const table = formatWorkload(s);
  assert.match(table, /^POD +STATE +FILE +CONFIGMAP +PUBLISHED +ENVOY RUNS +LAST VERDICT$/m);
  assert.match(table, new RegExp(`^envoy-a +SYNCED +envoy\\.yaml .*\\n +lds\\.yaml +${ldsVersion(LDS)} +${ldsVersion(LDS)} +${ldsVersion(LDS)} +-$`, 'm'));
  assert.match(table, /^WHY\nenvoy-b UNKNOWN: Envoy's container envoy is not running/m);
});

test('Envoy accepted the ConfigMap\'s version but ignored unknown fields (XdsAcceptedWithWarnings): SYNCED, with the warning and the command that names them (the ConfigMap now, piped into the Pod\'s validate: lines of its keys, not of the published copy), in the table and in -o json', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  const verdict = { outcome: 'accepted', version: v, at: 'T', rolledBack: false, message: 'm', ignoredFields: 2 };
  const s = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.equal(s.state, 'SYNCED');
  const lds = s.pods[0]?.files.find((f) => f.file === 'lds.yaml');
  const warning = `Envoy runs version ${v} but ignored unknown fields in it (Envoy counted 2; a misspelt or unsupported setting is not applied); kubectl get configmap xds -n shop -o yaml | kubectl exec -i -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate -f - names them all`;
  assert.deepEqual({ ignoredFields: lds?.ignoredFields, warning: lds?.warning, lastVerdict: lds?.lastVerdict }, { ignoredFields: 2, warning, lastVerdict: `accepted ${v}, ignored unknown fields (Envoy counted 2)` });
  const table = formatWorkload(s);
  assert.match(table, new RegExp(`^ +lds\\.yaml +${v} +${v} +${v} +accepted ${v}, ignored unknown fields \\(Envoy counted 2\\)$`, 'm'));
  assert.ok(table.includes(`\nWARNINGS\nenvoy-a lds.yaml: ${warning}\n`), table);
  const json = JSON.parse(formatWorkloadAs(s, 'json')) as { pods: { files: { file: string; ignoredFields?: number; warning?: string }[] }[] };
  assert.deepEqual(json.pods[0]?.files.find((f) => f.file === 'lds.yaml'), { ...lds });
  // A warning about an earlier version is not the ConfigMap's: none shown.
  const earlier = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict: { ...verdict, version: 'sha256:000000000000' } })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.equal(earlier.pods[0]?.files.find((f) => f.file === 'lds.yaml')?.warning, undefined);
  assert.ok(!formatWorkload(earlier).includes('WARNINGS'));
});

test('unknown fields counted while Envoy loaded several files at start: the row names them all and validates the whole ConfigMap, not one file', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  // The count landed on lds.yaml's verdict, but the fields may be in cds.yaml: Envoy's counter does not say.
  const verdict = { outcome: 'accepted', version: v, at: 'T', rolledBack: false, message: 'm', ignoredFields: 1, ignoredAmong: ['cds.yaml', 'lds.yaml'] };
  const s = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.equal(s.state, 'SYNCED');
  const lds = s.pods[0]?.files.find((f) => f.file === 'lds.yaml');
  const warning = `Envoy runs version ${v} but ignored unknown fields in one of the files Envoy loaded at start (cds.yaml, lds.yaml; Envoy counted 1; a misspelt or unsupported setting is not applied); kubectl get configmap xds -n shop -o yaml | kubectl exec -i -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate -f - names them all`;
  assert.deepEqual(
    { ignoredFields: lds?.ignoredFields, ignoredAmong: lds?.ignoredAmong, warning: lds?.warning, lastVerdict: lds?.lastVerdict },
    { ignoredFields: 1, ignoredAmong: ['cds.yaml', 'lds.yaml'], warning, lastVerdict: `accepted ${v}, ignored unknown fields in one of the files Envoy loaded at start (cds.yaml, lds.yaml) (Envoy counted 1)` },
  );
  assert.ok(formatWorkload(s).includes(`\nWARNINGS\nenvoy-a lds.yaml: ${warning}\n`), formatWorkload(s));
  // A list that is not one of strings is not trusted: the file's own sentence stands.
  const odd = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict: { ...verdict, ignoredAmong: [1, 2] } })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.match(odd.pods[0]?.files.find((f) => f.file === 'lds.yaml')?.warning ?? '', /ignored unknown fields in it \(Envoy counted 1;/);
});

test('unknown fields counted while Envoy loaded the files of one change (a refused one among them): the row says the change, in the line\'s words, not the start', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  // test/fixtures/verdict-cases/11-unknown-fields-of-a-change: the count of the refused file's load landed on the clean file's verdict.
  const verdict = { outcome: 'accepted', version: v, at: 'T', rolledBack: false, message: 'm', ignoredFields: 1, ignoredAmong: ['lds.yaml', 'cds.yaml'], ignoredWhen: 'change' };
  const s = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  const lds = s.pods[0]?.files.find((f) => f.file === 'lds.yaml');
  assert.ok(lds !== undefined);
  assert.equal(lds.ignoredWhen, 'change');
  assert.equal(lds.lastVerdict, `accepted ${v}, ignored unknown fields in one of the files of its change (lds.yaml, cds.yaml) (Envoy counted 1)`);
  assert.match(lds.warning ?? '', /^Envoy runs version \S+ but ignored unknown fields in one of the files of its change \(lds\.yaml, cds\.yaml; Envoy counted 1; a misspelt or unsupported setting is not applied\); kubectl get configmap xds /);
  assert.doesNotMatch(lds.warning ?? '', /loaded at start/);
  // Anything else than start or change is not trusted: read as an older watcher's (at start).
  const odd = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict: { ...verdict, ignoredWhen: 'later' } })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.match(odd.pods[0]?.files.find((f) => f.file === 'lds.yaml')?.lastVerdict ?? '', /in one of the files Envoy loaded at start/);
});

test('Envoy accepted the ConfigMap\'s version, which removed a cluster a route file still names (XdsAcceptedWithWarnings): SYNCED, with the warning of what a restart would refuse', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  const verdict = { outcome: 'accepted', version: v, at: 'T', rolledBack: false, message: 'm', strandedRoutes: [{ file: 'rds.yaml', clusters: ['web'] }, { file: 7 }] };
  const s = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.equal(s.state, 'SYNCED');
  const lds = s.pods[0]?.files.find((f) => f.file === 'lds.yaml');
  const warning = `Envoy runs version ${v}, but rds.yaml still routes to cluster 'web', which lds.yaml version ${v} removed: Envoy answers 503 there, and an Envoy restarted from these files would refuse rds.yaml ("route: unknown cluster"); remove the route too, or keep the cluster`;
  assert.deepEqual({ strandedRoutes: lds?.strandedRoutes, warning: lds?.warning, lastVerdict: lds?.lastVerdict }, { strandedRoutes: [{ file: 'rds.yaml', clusters: ['web'] }], warning, lastVerdict: `accepted ${v}, routes left to removed clusters: rds.yaml ('web')` });
  assert.ok(formatWorkload(s).includes(`\nWARNINGS\nenvoy-a lds.yaml: ${warning}\n`), formatWorkload(s));
  // With ignored fields too: both said.
  const both = await gatherWorkload({ api, read: () => Promise.resolve(localJson(v, { verdict: { ...verdict, ignoredFields: 1 } })), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.match(both.pods[0]?.files.find((f) => f.file === 'lds.yaml')?.warning ?? '', /ignored unknown fields in it \(Envoy counted 1;.* names them all; Envoy runs version \S+, but rds\.yaml still routes to cluster 'web'/);
});

test('the route file an Envoy started since refused (it stays published): the warning says that Envoy serves nothing there, not the 503 the running one answered', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  const verdict = { outcome: 'accepted', version: v, at: 'T', rolledBack: false, message: 'm', strandedRoutes: [{ file: 'rds.yaml', clusters: ['web'] }] };
  const local = JSON.parse(localJson(v, { verdict })) as { files: unknown[] };
  local.files.push({ file: 'rds.yaml', held: true, configMap: 'r1', published: 'r1', subscribed: true });
  const s = await gatherWorkload({ api, read: () => Promise.resolve(JSON.stringify(local)), namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  const warning = s.pods[0]?.files.find((f) => f.file === 'lds.yaml')?.warning;
  assert.equal(warning, `Envoy runs version ${v}, but rds.yaml still routes to cluster 'web', which lds.yaml version ${v} removed: the Envoy running now refused rds.yaml ("route: unknown cluster") and serves nothing there; remove the route too, or keep the cluster`);
});

test('a missing workload is an error naming it; a Pod that cannot be read is UNKNOWN with the reader\'s reason', async () => {
  const api = fakeApi(() => [pod('envoy-a')], () => cm(LDS, '5'));
  await assert.rejects(gatherWorkload({ api, read: () => Promise.resolve(''), namespace: 'shop', target: { kind: 'deployment', name: 'nope' } }), /^Error: deployment\/nope in namespace shop: not found$/);
  const s = await gatherWorkload({ api, read: () => Promise.reject(new Error('exec into envoy-xds-watch: Unexpected server response: 403')), namespace: 'shop', target: { kind: 'pod', name: 'envoy-a' } });
  assert.equal(s.pods[0]?.state, 'UNKNOWN');
  assert.equal(s.pods[0].reason, 'exec into envoy-xds-watch: Unexpected server response: 403');
});

test('--wait: PENDING until Envoy runs the edit, then 0; Pods already SYNCED are not read again', async () => {
  let lds = LDS;
  let rv = '5';
  const api = fakeApi(() => [pod('envoy-a'), pod('envoy-b')], () => cm(lds, rv));
  const runs = new Map<string, string>([['envoy-a', ldsVersion(LDS)], ['envoy-b', ldsVersion(LDS)]]);
  const reads: string[] = [];
  const read: PodReader = (_ns, name) => { reads.push(name); return Promise.resolve(localJson(runs.get(name) ?? '')); };
  lds = `${LDS}# edit\n`;
  rv = '6';
  const lines: string[] = [];
  let t = 0;
  let round = 0;
  const result = await waitForWorkload({
    api, read, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' }, timeoutMs: 60_000, print: (l) => lines.push(l),
    now: () => t,
    sleep: (ms) => {
      t += ms;
      round++;
      if (round === 1) runs.set('envoy-a', ldsVersion(lds));
      if (round === 3) runs.set('envoy-b', ldsVersion(lds));
      return Promise.resolve();
    },
  });
  assert.equal(result.code, 0, result.message);
  assert.equal(result.message, 'deployment/envoy: all 2 Pods run the ConfigMap\'s version (SYNCED)');
  assert.deepEqual(lines.map((l) => l.replace(/ \(lds\.yaml: [^;]*\)(?=;|$)/g, '')), [
    'Waiting for deployment/envoy: 0 of 2 Pods run the ConfigMap\'s version; envoy-a PENDING; envoy-b PENDING',
    'Waiting for deployment/envoy: 1 of 2 Pods run the ConfigMap\'s version; envoy-b PENDING',
  ]);
  // envoy-a was SYNCED after round 1 and the ConfigMap did not change: read in rounds 1-2 only.
  assert.equal(reads.filter((r) => r === 'envoy-a').length, 2);
});

test('--wait: exits 1 as soon as one Pod is REJECTED, naming it and Envoy\'s reason; and at the timeout', async () => {
  const api = fakeApi(() => [pod('envoy-a'), pod('envoy-b')], () => cm(LDS, '5'));
  const v = ldsVersion(LDS);
  const read: PodReader = (_ns, name) => Promise.resolve(name === 'envoy-b'
    ? localJson('sha256:000000000000', { published: 'sha256:000000000000', verdict: { outcome: 'rejected', version: v, at: '', message: '', reason: 'duplicate listener l found' } })
    : localJson(v));
  const rejected = await waitForWorkload({ api, read, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' }, timeoutMs: 60_000, print: () => undefined });
  assert.equal(rejected.code, 1);
  assert.equal(rejected.message, `error: deployment/envoy: Pod envoy-b REJECTED the ConfigMap's version: lds.yaml: version ${v}: Envoy says: duplicate listener l found`);

  let t = 0;
  const pending: PodReader = () => Promise.resolve(localJson('sha256:000000000000'));
  const timedOut = await waitForWorkload({
    api, read: pending, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' }, timeoutMs: 5_000, print: () => undefined,
    now: () => t, sleep: (ms) => { t += ms; return Promise.resolve(); },
  });
  assert.equal(timedOut.code, 1);
  assert.match(timedOut.message, /^error: timed out waiting for deployment\/envoy after 5s: 0 of 2 Pods run the ConfigMap's version; envoy-a PENDING \(lds\.yaml: /);
});

test('a Pod whose envoy-xds-copy failed is FAILED (Init:Error, or CrashLoopBackOff after a failure) with the copy\'s words and the kubectl logs command; not read; --wait ends at once with 1', async () => {
  // terminationMessagePolicy FallbackToLogsOnError: the message is the copy's last log lines (pino JSON).
  const logLines = [
    JSON.stringify({ level: 30, time: 1, msg: 'copy: reading /var/run/envoy-xds-injector/source' }),
    JSON.stringify({ level: 50, time: 2, msg: 'Envoy\'s bootstrap envoy.yaml is not in the ConfigMap (nothing copied): ...' }),
  ].join('\n');
  const withCopy = (p: V1Pod, copy: Record<string, unknown>): V1Pod => plain<V1Pod>({
    metadata: { name: p.metadata?.name ?? '', namespace: 'shop', annotations: p.metadata?.annotations ?? {} },
    spec: { containers: [{ name: 'envoy' }], initContainers: [{ name: 'envoy-xds-copy' }, { name: 'envoy-xds-watch' }] },
    status: {
      phase: 'Pending',
      initContainerStatuses: [
        { name: 'envoy-xds-copy', image: '', imageID: '', ready: false, restartCount: 0, ...copy },
        { name: 'envoy-xds-watch', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } },
      ],
      containerStatuses: [{ name: 'envoy', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
    },
  });
  const pods = [
    withCopy(pod('edge-a'), { state: { terminated: { exitCode: 1, reason: 'Error', message: logLines } } }),
    withCopy(pod('edge-b'), { restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'plain words\n' } } }),
    withCopy(pod('edge-c'), { state: { running: {} } }),
    withCopy(pod('edge-d'), { state: { terminated: { exitCode: 0, reason: 'Completed' } } }),
    withCopy(pod('edge-e'), { restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }),
  ];
  const api = fakeApi(() => pods, () => cm(LDS, '5'));
  const reads: string[] = [];
  const read: PodReader = (_ns, name) => { reads.push(name); return Promise.resolve(localJson(ldsVersion(LDS))); };
  const s = await gatherWorkload({ api, read, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' } });
  assert.deepEqual(reads, []);
  assert.deepEqual(Object.fromEntries(s.pods.map((p) => [p.pod, `${p.state} ${p.reason ?? ''}`])), {
    'edge-a': 'FAILED init container envoy-xds-copy failed (exit code 1), so Envoy cannot start: Envoy\'s bootstrap envoy.yaml is not in the ConfigMap (nothing copied): ...; its log: kubectl logs -n shop edge-a -c envoy-xds-copy',
    'edge-b': 'FAILED init container envoy-xds-copy failed (exit code 1, 3 restarts, CrashLoopBackOff), so Envoy cannot start: plain words; its log: kubectl logs -n shop edge-b -c envoy-xds-copy',
    'edge-c': 'PENDING the Pod is starting (Pending; envoy-xds-watch waiting: PodInitializing)',
    'edge-d': 'PENDING the Pod is starting (Pending; envoy-xds-watch waiting: PodInitializing)',
    'edge-e': 'FAILED init container envoy-xds-copy failed (exit code 137, 2 restarts, CrashLoopBackOff), so Envoy cannot start; its log: kubectl logs -n shop edge-e -c envoy-xds-copy',
  });
  assert.equal(s.state, 'FAILED');
  assert.deepEqual(s.counts, { SYNCED: 0, PENDING: 2, REJECTED: 0, FAILED: 3, UNKNOWN: 0 });
  assert.equal(summaryLine(s), 'deployment/envoy: 5 Pods: 2 PENDING, 3 FAILED (ConfigMap xds resourceVersion 5)');
  assert.match(formatWorkload(s), /^edge-a +FAILED +- +- +- +- +-$/m);
  assert.equal(refusalMessage(s), `error: deployment/envoy: Pod edge-a FAILED: ${s.pods[0]?.reason ?? ''}`);

  let slept = 0;
  const waited = await waitForWorkload({ api, read, namespace: 'shop', target: { kind: 'deployment', name: 'envoy' }, timeoutMs: 120_000, print: () => undefined, sleep: () => { slept++; return Promise.resolve(); } });
  assert.equal(waited.code, 1);
  assert.equal(slept, 0, 'ends at the first round');
  assert.equal(waited.message, refusalMessage(s));
});

test('refusalMessage, the line status exits 1 on without --wait as with it: the first REJECTED or FAILED Pod; none when Pods are only PENDING or UNKNOWN', async () => {
  const v = ldsVersion(LDS);
  const api = fakeApi(() => [pod('envoy-a'), pod('envoy-b'), pod('envoy-c', { watcher: 'waiting' })], () => cm(LDS, '5'));
  const rejecting: PodReader = (_ns, name) => Promise.resolve(name === 'envoy-b'
    ? localJson('sha256:000000000000', { published: 'sha256:000000000000', verdict: { outcome: 'rejected', version: v, at: '', message: '', reason: 'duplicate listener l found' } })
    : localJson('sha256:000000000000'));
  const target = { kind: 'deployment', name: 'envoy' } as const;
  const rejected = await gatherWorkload({ api, read: rejecting, namespace: 'shop', target });
  assert.equal(refusalMessage(rejected), `error: deployment/envoy: Pod envoy-b REJECTED the ConfigMap's version: lds.yaml: version ${v}: Envoy says: duplicate listener l found`);
  const pendingOrUnknown = await gatherWorkload({ api, read: () => Promise.resolve(localJson('sha256:000000000000')), namespace: 'shop', target });
  assert.deepEqual(pendingOrUnknown.pods.map((p) => p.state), ['PENDING', 'PENDING', 'UNKNOWN']);
  assert.equal(refusalMessage(pendingOrUnknown), undefined);
});
