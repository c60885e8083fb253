// The per-Pod state rules (src/status/rules.ts), table-driven: facts in, state and reason out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgePod, workloadState, countStates, type PodFacts, type PodState } from '../../src/status/rules.js';
import { parsePodLocalStatus, type PodLocalFile, type PodLocalStatus } from '../../src/status/pod-local.js';
import { runsOfRefusedText } from '../../src/sync/verdict/status-applied.js';

const V2 = 'sha256:222222222222';
const V1 = 'sha256:111111111111';
const BOOT = 'sha256:b00b00b00b00';
const wanted = [{ file: 'envoy.yaml', version: BOOT }, { file: 'lds.yaml', version: V2 }];
const boot: PodLocalFile = { file: 'envoy.yaml', configMap: BOOT, held: false, published: BOOT };
const at = '2026-12-02T17:00:00.000Z';

function local(lds: Partial<PodLocalFile>, extra: Partial<PodLocalStatus> = {}): PodLocalStatus {
  return { targetDir: '/t', watcherPid: 7, updatedAt: at, files: [boot, { file: 'lds.yaml', held: false, ...lds }], ...extra };
}
const facts = (f: Partial<PodFacts>): PodFacts => ({ pod: 'envoy-a', source: 'volume', wanted, ...f });

const cases: { name: string; facts: PodFacts; state: PodState; reason?: RegExp }[] = [
  {
    name: 'Envoy runs the ConfigMap\'s version of every subscribed file; the bootstrap is published',
    facts: facts({ local: local({ configMap: V2, published: V2, subscribed: true, envoy: { version: V2, live: true }, verdict: { outcome: 'accepted', version: V2, at, message: '' } }) }),
    state: 'SYNCED',
  },
  {
    name: 'volume: the kubelet has not updated the Pod\'s volume yet',
    facts: facts({ local: local({ configMap: V1, published: V1, envoy: { version: V1, live: true } }) }),
    state: 'PENDING',
    reason: /^lds\.yaml: the kubelet has not updated the Pod's ConfigMap volume yet \(it holds sha256:111111111111\)$/,
  },
  {
    name: 'api: the watcher has not published it yet (the volume is not what it follows)',
    facts: facts({ source: 'api', local: local({ configMap: V1, published: V1, envoy: { version: V1, live: true } }) }),
    state: 'PENDING',
    reason: /the watcher has not published version sha256:222222222222 yet \(published: sha256:111111111111\)/,
  },
  {
    name: 'held back: a file Envoy reads only when it builds its reader waits for that change, said in the watcher\'s words (not "not published yet")',
    facts: facts({ local: local({ configMap: V2, published: V1, envoy: { version: V1, live: true }, heldBack: 'lds.yaml held back: Envoy reads it only when it builds listener listener_0' }) }),
    state: 'PENDING',
    reason: /^lds\.yaml: lds\.yaml held back: Envoy reads it only when it builds listener listener_0$/,
  },
  {
    name: 'published, Envoy still runs the previous version: its verdict is pending',
    facts: facts({ local: local({ configMap: V2, published: V2, envoy: { version: V1, live: true } }) }),
    state: 'PENDING',
    reason: /published; Envoy runs sha256:111111111111, its verdict is pending/,
  },
  {
    name: 'a key the Pod does not have yet',
    facts: facts({ local: { ...local({}), files: [boot] } }),
    state: 'PENDING',
    reason: /lds\.yaml: not in the Pod's ConfigMap volume yet/,
  },
  {
    name: 'Envoy refused the ConfigMap\'s version: its reason',
    facts: facts({ local: local({ configMap: V2, published: V1, held: true, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', reason: 'duplicate listener listener_0 found' } }) }),
    state: 'REJECTED',
    reason: /^lds\.yaml: version sha256:222222222222: Envoy says: duplicate listener listener_0 found$/,
  },
  {
    name: 'a refusal the watcher read from Envoy\'s counters (a subscription the edit opened refused its file): not Envoy\'s words, as the verdict\'s line says',
    facts: facts({ local: parsePodLocalStatus(JSON.stringify(local({ configMap: V2, published: V1, held: true, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', reason: 'Envoy took cds.yaml but the subscription it opened (cluster.default_s3_80) refused eds-s3.yaml', reasonFromCounters: true } }))) }),
    state: 'REJECTED',
    reason: /^lds\.yaml: version sha256:222222222222: From Envoy's counters: Envoy took cds\.yaml but the subscription it opened \(cluster\.default_s3_80\) refused eds-s3\.yaml$/,
  },
  {
    name: 'Envoy took it, but it went back with a cds.yaml Envoy refused: said so, not that Envoy refused it',
    facts: facts({ local: parsePodLocalStatus(JSON.stringify(local({ configMap: V2, published: V1, held: true, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', withdrawnWith: 'cds.yaml' } }))) }),
    state: 'REJECTED',
    reason: /^lds\.yaml: version sha256:222222222222: Envoy took it; it went back with cds\.yaml, which Envoy refused$/,
  },
  {
    name: 'Envoy refused it before its xDS API looked (a schema check sees it): where its log has it, and the validate of the ConfigMap now through the Pod\'s watcher, as the verdict\'s line says',
    facts: facts({ namespace: 'shop', configMap: 'envoy-xds', local: local({ published: V1, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', envoyLog: 'Filesystem config update failure: in /etc/envoy/lds.yaml', schema: 'sees' } }) }),
    state: 'REJECTED',
    reason: /its log does: grep -A 60 "Filesystem config update failure: in \/etc\/envoy\/lds\.yaml"; kubectl get configmap envoy-xds -n shop -o yaml \| kubectl exec -i -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate -f - names the field and its line$/,
  },
  {
    name: 'a CDS/RDS/EDS refusal only Envoy\'s log explains: validate if the log says it was a proto constraint',
    facts: facts({ namespace: 'shop', configMap: 'envoy-xds', local: local({ published: V1, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', envoyLog: 'Filesystem config update rejected', schema: 'if-constraint' } }) }),
    state: 'REJECTED',
    reason: /grep -A 60 "Filesystem config update rejected"; if it says "Proto constraint validation failed", kubectl get configmap envoy-xds -n shop -o yaml \| .* validate -f - names the field and its line$/,
  },
  {
    name: 'a refusal of an earlier version with a schema hint: not this version\'s (no validate said)',
    facts: facts({ namespace: 'shop', configMap: 'envoy-xds', local: local({ configMap: V2, published: V1, held: true, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V1, at, message: 'm', envoyLog: 'Filesystem config update rejected', schema: 'sees' } }) }),
    state: 'REJECTED',
    reason: /^lds\.yaml: version sha256:222222222222: Envoy refused it; its admin API does not say why, its log does: grep -A 60 "Filesystem config update rejected"$/,
  },
  {
    name: 'Envoy refused it, no reason in its admin API: where its log has it',
    facts: facts({ local: local({ published: V1, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: V2, at, message: 'm', envoyLog: 'Filesystem config update failure: in /etc/envoy/lds.yaml' } }) }),
    state: 'REJECTED',
    reason: /its log does: grep -A 60 "Filesystem config update failure: in \/etc\/envoy\/lds\.yaml"/,
  },
  {
    name: 'a refusal recorded stands while Envoy is down now',
    facts: facts({ local: local({ published: V1, verdict: { outcome: 'rejected', version: V2, at, message: 'm' } }, { adminProblem: 'Envoy admin 127.0.0.1:9901 unreachable: ECONNREFUSED' }) }),
    state: 'REJECTED',
  },
  {
    name: 'an older refusal of another version is not this one\'s',
    facts: facts({ local: local({ configMap: V2, published: V2, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: 'example-2', at, message: 'm' } }) }),
    state: 'PENDING',
  },
  {
    name: 'the watcher\'s gate refuses the ConfigMap\'s version (it does not parse): where and why, not an older unrelated verdict',
    facts: facts({ wanted: [wanted[0] ?? { file: '', version: '' }, { file: 'lds.yaml', version: V2, invalid: { where: 'lds.yaml:3:5', message: 'bad indentation of a mapping entry' } }], local: local({ configMap: V2, published: V1, envoy: { version: V1, live: true }, verdict: { outcome: 'rejected', version: 'example-2', at, message: 'old' } }) }),
    state: 'REJECTED',
    reason: /^lds\.yaml: the watcher's gate refuses version sha256:222222222222 \(lds\.yaml:3:5: bad indentation of a mapping entry\); the last good version stays published$/,
  },
  {
    name: 'Envoy\'s admin API does not answer: UNKNOWN with why',
    facts: facts({ local: local({ configMap: V2, published: V2, envoy: { version: V1, live: false, at } }, { adminProblem: 'Envoy admin 127.0.0.1:9901 unreachable: no answer within 2000 ms' }) }),
    state: 'UNKNOWN',
    reason: /^what Envoy runs is unknown: Envoy admin 127\.0\.0\.1:9901 unreachable: no answer within 2000 ms$/,
  },
  {
    name: 'Envoy\'s container is not running (from the API)',
    facts: facts({ envoyProblem: 'Envoy\'s container envoy is not running (waiting: CrashLoopBackOff)', local: local({ configMap: V2, published: V2, envoy: { version: V2, live: true } }) }),
    state: 'UNKNOWN',
    reason: /CrashLoopBackOff/,
  },
  {
    name: 'Envoy\'s verdict on this version is unknown',
    facts: facts({ local: local({ configMap: V2, published: V2, envoy: { version: V1, live: true }, verdict: { outcome: 'unknown', version: V2, at, message: 'no answer within 10s' } }) }),
    state: 'UNKNOWN',
    reason: /Envoy's verdict on version sha256:222222222222 is unknown: no answer within 10s/,
  },
  {
    name: 'the Pod-local status could not be read',
    facts: facts({ unreadable: 'exec into envoy-xds-watch: no answer within 15000 ms' }),
    state: 'UNKNOWN',
    reason: /^exec into envoy-xds-watch: no answer/,
  },
  {
    name: 'the watcher that wrote the state is not running',
    facts: facts({ local: local({ configMap: V2, published: V2, envoy: { version: V2, live: true } }, { watcherRunning: false }) }),
    state: 'UNKNOWN',
    reason: /the watcher \(pid 7\) is not running/,
  },
  {
    name: 'the ConfigMap cannot be read',
    facts: facts({ wanted: { problem: 'ConfigMap shop/x: not found' } }),
    state: 'UNKNOWN',
    reason: /not found/,
  },
  {
    name: 'a Pod still starting is PENDING',
    facts: facts({ starting: 'the Pod is starting (Pending)' }),
    state: 'PENDING',
    reason: /starting/,
  },
  {
    name: 'the copy init container failed: the Pod cannot start, whatever else is known (starting, no ConfigMap)',
    facts: facts({ copyFailed: 'init container envoy-xds-copy failed (exit code 1)', starting: 'the Pod is starting (Pending)', wanted: { problem: 'ConfigMap shop/x: not found' } }),
    state: 'FAILED',
    reason: /^init container envoy-xds-copy failed \(exit code 1\)$/,
  },
];

for (const c of cases) {
  test(`status rules: ${c.name} -> ${c.state}`, () => {
    const got = judgePod(c.facts);
    assert.equal(got.state, c.state, JSON.stringify(got));
    if (c.reason !== undefined) assert.match(got.reason ?? '', c.reason);
    if (c.state === 'SYNCED') assert.equal(got.reason, undefined);
  });
}

test('status rules: the workload is its worst Pod; no Pods is UNKNOWN', () => {
  const s = (...states: PodState[]): { state: PodState }[] => states.map((state) => ({ state }));
  assert.equal(workloadState(s('SYNCED', 'SYNCED')), 'SYNCED');
  assert.equal(workloadState(s('SYNCED', 'PENDING')), 'PENDING');
  assert.equal(workloadState(s('PENDING', 'UNKNOWN')), 'UNKNOWN');
  assert.equal(workloadState(s('UNKNOWN', 'REJECTED', 'SYNCED')), 'REJECTED');
  assert.equal(workloadState(s('REJECTED', 'FAILED', 'SYNCED')), 'FAILED');
  assert.equal(workloadState([]), 'UNKNOWN');
  assert.deepEqual(countStates(s('SYNCED', 'PENDING', 'SYNCED', 'FAILED')), { SYNCED: 2, PENDING: 1, REJECTED: 0, FAILED: 1, UNKNOWN: 0 });
});

test('ENVOY RUNS in the workload view: the last seen version, and (none) when the watcher last saw Envoy run none of the file (after a restart that did not load it)', () => {
  const row = (envoy: PodLocalFile['envoy']) => judgePod(facts({ local: local({ configMap: V2, published: V2, envoy }, { adminProblem: 'unreachable' }) })).files.find((f) => f.file === 'lds.yaml')?.envoy;
  assert.equal(row({ version: V1, live: false, at }), `${V1} (last seen)`);
  assert.equal(row({ version: '', live: false, at }), '(none) (last seen)');
  assert.equal(row({ version: '', live: true }), '');
});

test('the Pod-local status as the workload view reads it keeps a held-back file\'s message (status --json heldBack)', () => {
  const text = JSON.stringify({ targetDir: '/t', watcherPid: 7, updatedAt: at, files: [{ file: 'script.lua', held: false, configMap: V2, published: V1, heldBack: 'script.lua held back: Envoy reads it only when it builds listener listener_0 of lds.yaml' }] });
  assert.equal(parsePodLocalStatus(text).files[0]?.heldBack, 'script.lua held back: Envoy reads it only when it builds listener listener_0 of lds.yaml');
});

test('ENVOY RUNS in the workload view for a file read through another (a Lua script): the version accepted with its reader, read from the Pod-local status --json (fresh-user trial: `-`)', () => {
  const text = JSON.stringify({ targetDir: '/t', watcherPid: 7, updatedAt: at, files: [
    { file: 'script.lua', held: false, configMap: V2, published: V1, withReader: { accepted: V1, at } },
    { file: 'body.txt', held: false, configMap: V1, published: V1, withReader: { none: true } },
  ] });
  const parsed = parsePodLocalStatus(text);
  assert.deepEqual(parsed.files[0]?.withReader, { accepted: V1, at });
  const rows = judgePod(facts({ local: parsed, wanted: [{ file: 'script.lua', version: V2 }, { file: 'body.txt', version: V1 }] })).files;
  assert.equal(rows.find((f) => f.file === 'script.lua')?.envoy, `${V1} (accepted with its reader)`);
  assert.equal(rows.find((f) => f.file === 'body.txt')?.envoy, '(none accepted with its reader)');
});

test('ENVOY RUNS for a refused LDS or CDS file Envoy runs in part: the Pod-local status --json runs, read field by field, and the cell\'s words (trial 3: "(none)" while Envoy served 2 of 3 listeners)', () => {
  const text = JSON.stringify({ targetDir: '/t', watcherPid: 7, updatedAt: at, files: [
    { file: 'lds.yaml', held: true, configMap: V2, published: V2, envoy: { version: '', live: true, runs: { noun: 'listener', total: 3, fromThis: ['l_a', 'l_b'] } } },
    { file: 'cds.yaml', held: true, configMap: V2, published: V2, envoy: { version: '', live: true, runs: { noun: 'pod', total: 3, fromThis: ['c'] } } },
  ] });
  const parsed = parsePodLocalStatus(text);
  assert.deepEqual(parsed.files[0]?.envoy?.runs, { noun: 'listener', total: 3, fromThis: ['l_a', 'l_b'] });
  assert.equal(parsed.files[1]?.envoy?.runs, undefined, 'not of that shape: left out');
  const rows = judgePod(facts({ local: parsed, wanted: [{ file: 'lds.yaml', version: V2 }] })).files;
  assert.equal(rows.find((f) => f.file === 'lds.yaml')?.envoyRuns, ', runs 2 of its 3 listeners (l_a, l_b)');
  const cases: [Parameters<typeof runsOfRefusedText>[0], string][] = [
    [undefined, ''],
    [{ noun: 'listener', total: 3, fromThis: ['l_a', 'l_b'] }, ', runs 2 of its 3 listeners (l_a, l_b)'],
    [{ noun: 'cluster', total: 4, fromThis: ['c'] }, ', runs 1 of its 4 clusters (c)'],
    [{ noun: 'listener', total: 1, fromThis: ['l'] }, ', runs its listener (l)'],
    [{ noun: 'cluster', total: undefined, fromThis: ['c'] }, ', runs 1 cluster (c)'],
    [{ noun: 'cluster', total: undefined, fromThis: ['c', 'd'] }, ', runs 2 clusters (c, d)'],
  ];
  for (const [runs, want] of cases) assert.equal(runsOfRefusedText(runs), want);
});
