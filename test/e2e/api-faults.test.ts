// `watch --source api` against the faults production networks and clusters produce, with a real
// kube-apiserver and real Envoy: a watch connection that goes silent, an apiserver that stalls
// altogether, resets, 401/403/429 mid-run, Events answered 429/500, a store re-created empty, a
// store that cannot hold the accepted file; and at rest, one connection per check period. The faults come from test/e2e/fault-proxy.ts (loopback
// proxies between the watcher and the apiserver) and test/e2e/cluster-faults.ts.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { ldsYaml } from '../envoy/envoy.js';
import type { LogLine } from '../sync/harness.js';
import { AtomicWriter, cliMain, repoRoot, runCli, waitFor } from '../sync/harness.js';
import { LAST_ACCEPTED_RECORD_KEY } from '../../src/inject/last-accepted.js';
import { API_IN_USE, startApiPodInUse, type ApiPod, type ApiPodOptions } from './api-source.js';
import type { Cluster } from './cluster.js';
import { clusterPerFile } from './cluster-per-file.js';
import { recreateServiceAccount, recreateStoreEmpty, restoreRbac, revokeRbac } from './cluster-faults.js';
import { StatusProxy, TcpFaultProxy, type SeenRequest } from './fault-proxy.js';

const TIMEOUT = { timeout: 600_000 };
let cluster: Cluster;
clusterPerFile((started) => { cluster = started; });

const msg = (l: LogLine): string => (typeof l.msg === 'string' ? l.msg : '');
const WARN = 40;
const ERROR = 50;
const API_BACK = 'Kubernetes API usable again: following the ConfigMap through the API';
const seconds = (ms: number): string => (ms / 1000).toFixed(1);
const figure = (line: string): void => { process.stderr.write(`[api-faults] ${line}\n`); };

/** A pod whose watcher reaches the apiserver through `server` (a proxy URL). */
function podThrough(server: string, namespace: string, extra: Partial<ApiPodOptions> = {}): Promise<ApiPod> {
  return startApiPodInUse(cluster, namespace, { server, ...extra });
}

/** The proxy passes again: the watcher says the API is back (within `backMs`), and `body`, set in the ConfigMap, is served. */
async function backThenServes(tcp: TcpFaultProxy, pod: ApiPod, body: string, backMs: number): Promise<void> {
  tcp.setMode('pass');
  await pod.watcher.waitForLog((l) => l.msg === API_BACK, 'API back', backMs);
  await pod.setBody(body);
  await pod.envoy.waitForBody(pod.port, body, 30_000);
}

/** Milliseconds from now until Envoy serves `body`. */
async function timeToServe(pod: ApiPod, body: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await pod.envoy.waitForBody(pod.port, body, timeoutMs);
  return performance.now() - t0;
}

interface StoreRecord { files: Record<string, { accepted?: { sha256: string; version?: string }; refused?: { sha256: string } }> }

async function store(namespace: string): Promise<{ data: Record<string, string>; record: StoreRecord | undefined }> {
  const cm = await cluster.core.readNamespacedConfigMap({ namespace, name: 'envoy-xds-envoy-xds-accepted' });
  const data = cm.data ?? {};
  const text = data[LAST_ACCEPTED_RECORD_KEY];
  return { data, record: text === undefined ? undefined : (JSON.parse(text) as StoreRecord) };
}

/** `body` set in the ConfigMap, served, and kept in the last-accepted store of `namespace`: the published lds.yaml. */
async function servedAndKept(pod: ApiPod, namespace: string, body: string): Promise<string> {
  await pod.setBody(body);
  await pod.envoy.waitForBody(pod.port, body, 60_000);
  const published = await readFile(join(pod.dirs.target, 'lds.yaml'), 'utf8');
  await waitFor(async () => (await store(namespace)).data['lds.yaml'] === published, `${body} kept`);
  return published;
}

/** A new Pod's copy, reading both ConfigMaps as the kubelet projects them: its target lds.yaml and logs. */
async function copyInNewPod(namespace: string): Promise<{ lds: string; logs: LogLine[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-new-pod-'));
  try {
    for (const [name, sub] of [['envoy-xds', 'source'], ['envoy-xds-envoy-xds-accepted', 'accepted']] as const) {
      await mkdir(join(dir, sub));
      const cm = await cluster.core.readNamespacedConfigMap({ namespace, name });
      await new AtomicWriter(join(dir, sub)).write(cm.data ?? {});
    }
    await mkdir(join(dir, 'target'));
    const copy = await runCli(['copy', '--from', join(dir, 'source'), '--to', join(dir, 'target'), '--accepted', join(dir, 'accepted')]);
    assert.equal(copy.code, 0, copy.stdout);
    return { lds: await readFile(join(dir, 'target', 'lds.yaml'), 'utf8'), logs: copy.logs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the gate lets through and Envoy 1.40 refuses: a Duration field that is not one. */
const refusedLds = (port: number, body: string): string =>
  ldsYaml({ port, body }).replace('  filter_chains:', '  listener_filters_timeout: "abc"\n  filter_chains:');

test('(1) a watch connection gone silent (open, nothing forwarded) is noticed, and an edit made during the silence is served within 90 s; a silent apiserver is reported', TIMEOUT, async () => {
  const tcp = await TcpFaultProxy.start(cluster.server);
  const pod = await podThrough(tcp.url, 'faults-stall');
  try {
    await pod.setBody('s1');
    await pod.envoy.waitForBody(pod.port, 's1', 60_000);
    // A NAT entry that ACKs and forwards nothing: the open connections go silent, new ones work.
    tcp.setOpenConnections('stall');
    await pod.setBody('s2');
    const served = await timeToServe(pod, 's2', 90_000);
    figure(`(1) edit during a silent watch connection served after ${seconds(served)} s (default --api-check 30s, --api-timeout 10s)`);
    assert.ok(served <= 90_000);

    // The whole path silent (a dead load balancer): said within about a minute, volume followed.
    // (Over HTTP/2 the silent watch connection above was an outage of its own, already said.)
    const said = new Set(pod.watcher.logs);
    const t0 = performance.now();
    tcp.setMode('stall');
    const line = await pod.watcher.waitForLog((l) => !said.has(l) && l.level === WARN && msg(l).startsWith('Kubernetes API unreachable'), 'the stall reported', 90_000);
    figure(`(1) a silent apiserver reported after ${seconds(performance.now() - t0)} s: ${msg(line).slice(0, 120)}`);
    assert.ok(performance.now() - t0 <= 60_000, 'noticed within a minute');
    assert.match(msg(line), /no answer within/);
    await backThenServes(tcp, pod, 's3', 90_000);
  } finally {
    await pod.stop();
    await tcp.close();
  }
});

// `served` is what one poller saw, in order: every version Envoy served for a poll's length.
test('(2) while the API is silent, the volume\'s newer version is published within --volume-lag of the volume having it; never an older one', TIMEOUT, async () => {
  const tcp = await TcpFaultProxy.start(cluster.server);
  const pod = await podThrough(tcp.url, 'faults-volume', { extraArgs: ['--volume-lag', '5s', '--api-check', '2s', '--api-timeout', '2s'] });
  const served: string[] = [];
  const polling = { on: true };
  const poller = (async () => {
    while (polling.on) {
      const res = await pod.envoy.get(pod.port);
      if (res?.status === 200 && served.at(-1) !== res.body) served.push(res.body);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await pod.setBody('a1');
    await pod.envoy.waitForBody(pod.port, 'a1', 60_000);
    // Silence first, then the edit; the kubelet delivers it to the volume before the watcher has
    // noticed the silence (the watch still looks fine).
    tcp.setMode('stall');
    await pod.setBody('a2');
    await pod.volume.write({ 'lds.yaml': ldsYaml({ port: pod.port, body: 'a2' }) });
    const took = await timeToServe(pod, 'a2', 60_000);
    figure(`(2) the volume's newer version served ${seconds(took)} s after the volume had it (--volume-lag 5s, --api-check 2s, --api-timeout 2s)`);
    assert.ok(took <= 5_000 + 4_000 + 6_000, `${seconds(took)} s: more than the lag + the detection`);
    await backThenServes(tcp, pod, 'a3', 60_000);
    // The order is the poller's own: stop it only once it saw a3 itself (and a moment after, for a
    // step back), not when waitForBody's requests saw it first.
    await waitFor(() => served.includes('a3'), 'the poller to see a3', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    polling.on = false;
    await poller;
    assert.deepEqual(served.slice(served.indexOf('a1')), ['a1', 'a2', 'a3'], `served in order, v0 (older, in the volume before) never again: ${JSON.stringify(served)}`);
  } finally {
    polling.on = false;
    await poller;
    await pod.stop();
    await tcp.close();
  }
});

// kube-apiserver keeps a token's successful authentication for 10 s (TokenSuccessCacheTTL in
// pkg/kubeapiserver/options/authentication.go) and authenticates a watch once, when it starts. So
// the 401 of a re-created ServiceAccount is awaited while the RoleBinding is still revoked (every
// list fails then, with 403 until the cache expires); were the RoleBinding applied within those
// 10 s, a list would succeed and open a watch that outlives the token: that is test (3b).
test('(3) one outage, four causes in turn (reset, 403, 401, 429): each is logged once, at warning level, with its fix', TIMEOUT, async () => {
  const status = await StatusProxy.start(cluster.server, cluster.ca);
  const tcp = await TcpFaultProxy.start(status.url);
  const ns = 'faults-causes';
  const pod = await podThrough(tcp.url, ns, { tokenFile: true, extraArgs: ['--api-check', '2s', '--api-timeout', '2s', '--api-retry-max', '1s'] });
  const lines = (re: RegExp): LogLine[] => pod.watcher.logs.filter((l) => re.test(msg(l)));
  try {
    tcp.setMode('reset');
    await pod.watcher.waitForLog((l) => msg(l).startsWith('Kubernetes API unreachable'), 'unreachable', 60_000);
    await revokeRbac(cluster, ns, 'envoy', 'envoy-xds');
    tcp.setMode('pass');
    await pod.watcher.waitForLog((l) => msg(l).startsWith('Kubernetes API forbids'), '403', 60_000);
    await recreateServiceAccount(cluster, ns, 'envoy');
    await pod.watcher.waitForLog((l) => msg(l).includes('refused the ServiceAccount token (401'), '401', 60_000);
    await restoreRbac(cluster, ns, 'envoy', 'envoy-xds'); // the token is still refused: 401 persists
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    status.answer({ method: 'GET', path: /\/configmaps/, status: 429, retryAfter: 1 });
    await pod.refreshToken(); // the kubelet rotates the token: the next request uses it
    await pod.watcher.waitForLog((l) => msg(l).startsWith('Kubernetes API throttles this client (429 '), '429', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    status.clear();
    await pod.watcher.waitForLog((l) => l.msg === API_BACK, 'API back', 60_000);

    // Each cause by its own words: the unreachable line carries the proxy's port (`watch: connect
    // ECONNRESET 127.0.0.1:36799`), which `.*429` matched once in CI (a port such as 42913).
    const [unreachable, forbidden, unauthorized, throttled] = [/^Kubernetes API unreachable/, /^Kubernetes API forbids list on configmaps "envoy-xds"/, /refused the ServiceAccount token \(401/, /^Kubernetes API throttles this client \(429 /];
    const first = (re: RegExp): string => msg(lines(re)[0] ?? {});
    for (const re of [unreachable, forbidden, unauthorized, throttled]) {
      const found = lines(re);
      assert.equal(found.length, 1, `${String(re)}: ${String(found.length)} lines: ${JSON.stringify(found.map(msg))}`);
      for (const line of found) {
        assert.equal(line.level, WARN);
        assert.match(msg(line), /following the ConfigMap volume instead/);
      }
    }
    assert.ok(status.seen.filter((r) => r.path.includes('/configmaps?') && r.relayed === 401).length >= 2, 'the 401 persisted over retries');
    assert.match(first(forbidden), /Fix: kubectl exec -n faults-causes envoy-0 -c envoy-xds-watch -- envoy-xds-injector rbac --namespace faults-causes --service-account envoy --configmap envoy-xds \| kubectl apply -f -/);
    assert.match(first(unauthorized), /Fix: /);
    assert.match(first(throttled), /Retry-After/);
    assert.equal(lines(/^Kubernetes API usable again/).length, 1, 'one outage');
    assert.ok(status.seen.filter((r) => r.answered === 429).length >= 2, 'the 429 persisted over retries');
  } finally {
    await pod.stop();
    await tcp.close();
    await status.close();
  }
});

test('(3b) a token or a Role gone bad under an open watch (which keeps delivering): the check\'s 401 and 403 are each logged once, at warning level, with the fix; no outage', TIMEOUT, async () => {
  const status = await StatusProxy.start(cluster.server, cluster.ca);
  const ns = 'faults-open-watch';
  const pod = await podThrough(status.url, ns, { tokenFile: true, extraArgs: ['--api-check', '2s', '--api-timeout', '2s'] });
  const lines = (re: RegExp): LogLine[] => pod.watcher.logs.filter((l) => re.test(msg(l)));
  const checks = (answer: number): number => status.seen.filter((r) => r.method === 'GET' && r.path.includes('/configmaps?') && r.path.includes('resourceVersion=0') && r.relayed === answer).length;
  const AGAIN = 'Kubernetes API answers the watch\'s check again';
  try {
    await pod.setBody('o1');
    await pod.envoy.waitForBody(pod.port, 'o1', 60_000);
    const t0 = performance.now();
    await recreateServiceAccount(cluster, ns, 'envoy');
    // Within the apiserver's 10 s token cache and a check.
    const refused = await pod.watcher.waitForLog((l) => msg(l).includes('refused the ServiceAccount token (401'), 'the check\'s 401', 60_000);
    figure(`(3b) a ServiceAccount re-created under an open watch: its 401 said after ${seconds(performance.now() - t0)} s (the apiserver's 10 s token cache, then --api-check 2s)`);
    assert.equal(refused.level, WARN);
    assert.match(msg(refused), /the open watch goes on delivering changes.* Fix: /);
    await pod.setBody('o2'); // the volume still holds v0: only the open watch can deliver this
    await pod.envoy.waitForBody(pod.port, 'o2', 30_000);
    const from = checks(401);
    await waitFor(() => checks(401) >= from + 2, 'more refused checks', 30_000);
    await pod.refreshToken(); // read again after the 401
    await pod.watcher.waitForLog((l) => l.msg === AGAIN, 'the check answered again', 30_000);

    await revokeRbac(cluster, ns, 'envoy', 'envoy-xds');
    const forbidden = await pod.watcher.waitForLog((l) => msg(l).startsWith('Kubernetes API forbids list on configmaps "envoy-xds"'), 'the check\'s 403', 60_000);
    assert.equal(forbidden.level, WARN);
    assert.match(msg(forbidden), /the open watch goes on delivering changes.* Fix: kubectl exec -n faults-open-watch envoy-0 -c envoy-xds-watch -- envoy-xds-injector rbac --namespace faults-open-watch --service-account envoy --configmap envoy-xds \| kubectl apply -f -/);
    await pod.setBody('o3');
    await pod.envoy.waitForBody(pod.port, 'o3', 30_000);
    await restoreRbac(cluster, ns, 'envoy', 'envoy-xds');
    await waitFor(() => pod.watcher.logs.filter((l) => l.msg === AGAIN).length === 2, 'the check answered again after the RoleBinding', 60_000);

    assert.equal(lines(/refused the ServiceAccount token \(401/).length, 1, 'the 401 once, over several refused checks');
    assert.equal(lines(/^Kubernetes API forbids/).length, 1, 'the 403 once');
    const outage = lines(/^Kubernetes API unreachable|^Kubernetes API usable again|following the ConfigMap volume instead/);
    assert.equal(outage.length, 0, `no outage: the watch went on; got ${JSON.stringify(outage.map(msg))}`);
  } finally {
    await pod.stop();
    await status.close();
  }
});

test('(4) after a recovery, one reset costs the first backoff step (about a second), not the capped backoff of the outage', TIMEOUT, async () => {
  const tcp = await TcpFaultProxy.start(cluster.server);
  const pod = await podThrough(tcp.url, 'faults-backoff', { extraArgs: ['--api-retry-max', '8s'] });
  try {
    tcp.setMode('reset');
    await new Promise((resolve) => setTimeout(resolve, 25_000)); // 0.5, 1, 2, 4, 8, 8 s: capped
    tcp.setMode('pass');
    await pod.watcher.waitForLog((l) => l.msg === API_BACK, 'API back', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 15_000)); // healthy for a while
    tcp.resetOpen();
    await pod.setBody('after-reset');
    const took = await timeToServe(pod, 'after-reset', 60_000);
    figure(`(4) an edit right after one reset, once recovered: served after ${seconds(took)} s (backoff cap 8-12 s)`);
    assert.ok(took < 5_000, `${seconds(took)} s: the outage's backoff outlived it`);
  } finally {
    await pod.stop();
    await tcp.close();
  }
});

test('(5) Events answered 429 (Retry-After honoured) and 500 are retried: the XdsRolledBack warning appears', TIMEOUT, async () => {
  const status = await StatusProxy.start(cluster.server, cluster.ca);
  const ns = 'faults-events';
  const pod = await podThrough(status.url, ns);
  const events = async (): Promise<k8s.CoreV1Event[]> => (await cluster.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=envoy-0' })).items;
  try {
    await waitFor(async () => (await events()).some((e) => e.reason === 'XdsAccepted'), 'the first Event');
    const isEvents = /\/namespaces\/faults-events\/events/;
    const from = status.seen.length;
    // Event writes (creates and patches), in order: 429, 429, 500, then the apiserver's answer.
    status.answer({ path: isEvents, status: 429, retryAfter: 2, times: 2 });
    status.answer({ path: isEvents, status: 500, times: 1 });
    await pod.setLds(refusedLds(pod.port, 'refused'));
    await waitFor(async () => (await events()).some((e) => e.reason === 'XdsRolledBack'), 'XdsRolledBack despite 429, 429, 500', 60_000);
    const writes = status.seen.slice(from).filter((r) => r.path.includes('/namespaces/faults-events/events') && r.method !== 'GET');
    const answered = writes.map((r) => r.answered ?? r.relayed);
    assert.deepEqual(answered.slice(0, 3), [429, 429, 500], JSON.stringify(answered));
    assert.ok([200, 201].includes(answered[3] ?? 0), JSON.stringify(answered));
    for (let i = 0; i < 2; i++) {
      const gap = (writes[i + 1]?.at ?? 0) - (writes[i]?.at ?? 0);
      assert.ok(gap >= 1_950, `retry ${String(gap)} ms after a 429 with Retry-After: 2`);
    }
    figure(`(5) Event writes: ${answered.join(', ')} at ${writes.map((w) => seconds(w.at - (writes[0]?.at ?? 0))).join(', ')} s`);
    // Said once per cause, at warning level.
    const delayed = pod.watcher.logs.filter((l) => l.level === WARN && msg(l).startsWith('Events delayed'));
    assert.equal(delayed.length, 2, delayed.map(msg).join('\n'));
    assert.match(msg(delayed[0] ?? {}), /answered 429 to an Event write \(Retry-After 2 s\)/);
    assert.match(msg(delayed[1] ?? {}), /answered 500 to an Event write/);
  } finally {
    await pod.stop();
    await status.close();
  }
});

test('(6) a store re-created empty is refilled with what this watcher\'s Envoy accepted within a minute; a new Pod then starts from it', TIMEOUT, async () => {
  const ns = 'faults-wiped';
  const pod = await podThrough(cluster.server, ns);
  try {
    const w1 = await servedAndKept(pod, ns, 'w1');
    await recreateStoreEmpty(cluster, ns, 'envoy', 'envoy-xds');
    const t0 = performance.now();
    await pod.setLds(refusedLds(pod.port, 'refused'));
    await waitFor(async () => {
      const s = await store(ns);
      return s.data['lds.yaml'] === w1 && s.record?.files['lds.yaml']?.accepted?.sha256 === createHash('sha256').update(w1).digest('hex') && s.record.files['lds.yaml'].refused !== undefined;
    }, 'the store refilled with w1 and the refusal', 75_000);
    const took = performance.now() - t0;
    figure(`(6) store re-created empty: refilled after ${seconds(took)} s (default --store-check 30s)`);
    assert.ok(took <= 60_000);
    const copy = await copyInNewPod(ns);
    assert.equal(copy.lds, w1, 'a new Pod starts from what the running Envoy accepted');
  } finally {
    await pod.stop();
  }
});

test('(7) a store that cannot hold the accepted file (over 1 MiB, 422): said loudly; copy never presents an older version as the last accepted', TIMEOUT, async () => {
  const ns = 'faults-too-big';
  const pod = await podThrough(cluster.server, ns);
  try {
    const k1 = await servedAndKept(pod, ns, 'k1');
    // Fits a ConfigMap (1 MiB of data), but not once stamped and with the record beside it.
    const base = ldsYaml({ port: pod.port, body: 'k2' });
    const big = `${base}# ${'x'.repeat(1_048_576 - 'lds.yaml'.length - base.length - 200)}\n`;
    await pod.setLds(big);
    await pod.envoy.waitForBody(pod.port, 'k2', 60_000);
    const loud = await pod.watcher.waitForLog((l) => l.level === ERROR && msg(l).includes('lds.yaml') && /cannot hold|too long|1 ?MiB/i.test(msg(l)), 'the unstorable file said loudly', 60_000);
    figure(`(7) ${msg(loud).slice(0, 200)}`);
    const k2sha = createHash('sha256').update(await readFile(join(pod.dirs.target, 'lds.yaml'))).digest('hex');
    await waitFor(async () => (await store(ns)).record?.files['lds.yaml']?.accepted?.sha256 === k2sha, 'the record names k2 as the last accepted', 30_000);
    assert.notEqual((await store(ns)).data['lds.yaml'], k1, 'k1 is no longer offered as the last accepted content');

    await pod.setLds(refusedLds(pod.port, 'refused'));
    await waitFor(async () => (await store(ns)).record?.files['lds.yaml']?.refused !== undefined, 'the refusal kept');
    const copy = await copyInNewPod(ns);
    assert.doesNotMatch(copy.lds, /k1/, 'a new Pod never starts from the older k1');
    const said = copy.logs.filter((l) => l.level === WARN).map(msg).join('\n');
    assert.match(said, /could not hold|cannot hold/);
    assert.doesNotMatch(said, /the last it accepted/);
  } finally {
    await pod.stop();
  }
});

test('(8) the wall clock steps back an hour (NTP, a resumed VM) while the API is silent: the volume\'s newer version is still published within --volume-lag of the volume having it', TIMEOUT, async () => {
  const tcp = await TcpFaultProxy.start(cluster.server);
  // The watcher's Date steps an hour back on SIGUSR2 (test/e2e/wall-clock-step.ts); the machine's clock is left alone.
  const entry = ['--import', 'tsx', '--import', join(repoRoot, 'test/e2e/wall-clock-step.ts'), cliMain];
  const pod = await podThrough(tcp.url, 'faults-clock', { entry, env: { WALL_CLOCK_STEP_MS: '-3600000' }, extraArgs: ['--volume-lag', '5s', '--api-check', '2s', '--api-timeout', '2s'] });
  try {
    await pod.setBody('c1');
    await pod.envoy.waitForBody(pod.port, 'c1', 60_000);
    const stepped = Date.now() - 3_000_000;
    process.kill(pod.watcher.pid, 'SIGUSR2');
    tcp.setMode('stall');
    await pod.setBody('c2');
    await pod.volume.write({ 'lds.yaml': ldsYaml({ port: pod.port, body: 'c2' }) });
    const took = await timeToServe(pod, 'c2', 60_000);
    figure(`(8) after a wall-clock step of -1 h, the volume's newer version served ${seconds(took)} s after the volume had it (--volume-lag 5s)`);
    // The step happened in the watcher: its log lines since carry a time an hour back.
    const unreachable = await pod.watcher.waitForLog((l) => msg(l).startsWith('Kubernetes API unreachable'), 'the silence reported', 30_000);
    assert.ok(typeof unreachable.time === 'number' && unreachable.time < stepped, `the watcher's clock stepped back (log time ${String(unreachable.time)})`);
    assert.ok(took <= 5_000 + 4_000 + 6_000, `${seconds(took)} s: the step stretched the hold`);
    await backThenServes(tcp, pod, 'c3', 60_000);
  } finally {
    await pod.stop();
    await tcp.close();
  }
});

test('(9) at rest over HTTP/1.1, while Envoy holds a refusal (the store matters then), one connection per --api-check period: the store\'s --store-check read rides on the check\'s connection, each period on a new one', TIMEOUT, async () => {
  const status = await StatusProxy.start(cluster.server, cluster.ca);
  const ns = 'faults-one-connection';
  const pod = await podThrough(status.url, ns, { extraArgs: ['--api-check', '2s', '--store-check', '2s'] });
  const isCheck = (r: SeenRequest): boolean => r.method === 'GET' && r.path.includes('/configmaps?') && r.path.includes('resourceVersion=0') && !r.path.includes('watch=');
  const isStoreRead = (r: SeenRequest): boolean => r.method === 'GET' && r.path.includes('/configmaps/envoy-xds-envoy-xds-accepted?resourceVersion=0');
  try {
    await servedAndKept(pod, ns, 'c1');
    // Refused, rolled back and held: the store is read at rest from now on.
    await pod.setLds(refusedLds(pod.port, 'refused'));
    await waitFor(async () => (await store(ns)).record?.files['lds.yaml']?.refused !== undefined, 'the refusal kept');
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the verdict's writes done
    const from = status.seen.length;
    const connections0 = status.connections;
    await new Promise((resolve) => setTimeout(resolve, 16_000)); // about 8 periods
    const window = status.seen.slice(from);
    const checks = window.filter(isCheck);
    const reads = window.filter(isStoreRead);
    const periods = new Set([...checks, ...reads].map((r) => r.connection));
    figure(`(9) at rest over 16 s: ${String(checks.length)} checks, ${String(reads.length)} store reads, on ${String(periods.size)} connections; ${String(status.connections - connections0)} connections opened in all`);
    assert.ok(checks.length >= 5, `${String(checks.length)} checks`);
    assert.ok(reads.length >= checks.length - 1, `a store read in (nearly) every period: ${String(reads.length)} for ${String(checks.length)} checks`);
    for (const read of reads) {
      const before = window[window.indexOf(read) - 1];
      assert.ok(before !== undefined && isCheck(before) && before.connection === read.connection, `the store read at ${String(Math.round(read.at))} ms on its period's check's connection`);
    }
    assert.equal(periods.size, checks.length, 'each period on a connection of its own, both reads on it');
    assert.ok(status.connections - connections0 <= checks.length + 1, `${String(status.connections - connections0)} connections opened for ${String(checks.length)} periods`);
  } finally {
    await pod.stop();
    await status.close();
  }
});

test('(10) over HTTP/1.1 (--api-protocol HTTP/1.1) the apiserver\'s BOOKMARKs keep an idle watch known alive with no check, and a watch connection gone silent after them is noticed within a minute + --api-timeout: an edit made during the silence is served', TIMEOUT, async () => {
  const tcp = await TcpFaultProxy.start(cluster.server);
  const pod = await podThrough(tcp.url, 'faults-bookmarks', { extraArgs: ['--api-protocol', 'HTTP/1.1'] });
  const isBookmark = (l: LogLine): boolean => msg(l).startsWith('BOOKMARK: the watch is alive');
  const isCheck = (l: LogLine): boolean => msg(l).startsWith('checking the watch');
  try {
    assert.equal(pod.watcher.logs.find((l) => l.msg === API_IN_USE)?.transport, 'HTTP/1.1');
    // The edit moves the apiserver's watch cache past the watch's start: BOOKMARKs come from the
    // watch's next minute on (until then, nothing promises one: the check runs).
    await pod.setBody('b1');
    await pod.envoy.waitForBody(pod.port, 'b1', 60_000);
    const first = await pod.watcher.waitForLog(isBookmark, 'a BOOKMARK', 90_000);
    const second = await pod.watcher.waitForLog((l) => isBookmark(l) && l !== first, 'the next BOOKMARK', 90_000);
    const between = pod.watcher.logs.slice(pod.watcher.logs.indexOf(first), pod.watcher.logs.indexOf(second));
    assert.deepEqual(between.filter(isCheck), [], 'no check while BOOKMARKs come');
    assert.equal(pod.watcher.logs.filter((l) => msg(l).startsWith('Kubernetes API unreachable')).length, 0, 'the idle watch was never taken for a silent one');
    // A NAT entry that ACKs and forwards nothing: the open connections go silent, new ones work.
    tcp.setOpenConnections('stall');
    const t0 = performance.now();
    await pod.setBody('b2');
    const served = await timeToServe(pod, 'b2', 120_000);
    const said = pod.watcher.logs.find((l) => l.level === WARN && msg(l).startsWith('Kubernetes API unreachable'));
    figure(`(10) HTTP/1.1: edit during a silent watch connection (after BOOKMARKs) served after ${seconds(served)} s, ${seconds(performance.now() - t0)} s after the silence began (bound: a minute + --api-timeout 10s after the last thing heard)`);
    assert.ok(said !== undefined, 'the silence said once, as an outage');
    assert.match(msg(said), /nothing heard for \d+s after the apiserver's BOOKMARKs/);
    await pod.watcher.waitForLog((l) => l.msg === API_BACK, 'API back', 30_000);
  } finally {
    await pod.stop();
    await tcp.close();
  }
});
