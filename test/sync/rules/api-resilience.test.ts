// The pure rules that keep `source: api` honest under faults: the retry backoff (reset after a
// recovery, Retry-After as a floor, back soon after an outage), the readiness gate (/readyz), the
// watch check (stalled or current), and the per-cause report.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_BACKOFF, RetryBackoff, retryAfterMs } from '../../../src/sync/kube/retry-backoff.js';
import { ReadinessGate, readinessOf, readyzSummary, startingRefusal } from '../../../src/sync/kube/readiness.js';
import { judgeCheck } from '../../../src/sync/kube/watch-health.js';
import { CauseLog, causeOf, explainProblem, problemOf } from '../../../src/sync/kube/api-problem.js';
import { cliThroughPod } from '../../../src/sync/kube/rbac-hint.js';

const noJitter = (): number => 0;

test('backoff: doubles from 0.5 s to the 30 s cap during an outage', () => {
  const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
  const delays = Array.from({ length: 9 }, (_, i) => b.failure(i * 1000));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});

test('backoff: jitter multiplies by 1 to 2 (client-go\'s jitter 1.0)', () => {
  assert.equal(new RetryBackoff(DEFAULT_BACKOFF, () => 1).failure(0), 1000);
  assert.equal(new RetryBackoff(DEFAULT_BACKOFF, () => 0.5).failure(0), 750);
});

/** Attempt times (ms) of a watcher failing `kind` from 0 until `until`, with `random` as jitter. */
function attempts(kind: 'down' | 'refused', until: number, random: () => number): number[] {
  const b = new RetryBackoff(DEFAULT_BACKOFF, random);
  const times: number[] = [];
  for (let now = 0; now < until; now += b.failure(now, undefined, kind)) times.push(now);
  return times;
}

test('backoff while down: doubling, then an eighth of the outage so far (at least 2 s), up to the 30 s cap', () => {
  const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
  const steps: [number, number][] = [];
  let now = 0;
  while (now < 400_000) {
    const step = b.failure(now, undefined, 'down');
    steps.push([now, step]);
    now += step;
  }
  assert.deepEqual(steps.slice(0, 6).map(([, step]) => step), [500, 1000, 2000, 2000, 2000, 2000]);
  for (const [at, step] of steps) assert.equal(step, Math.min(30_000, at < 1_500 ? step : Math.max(2_000, at / 8)), `at ${String(at)} ms`);
  assert.equal(steps.at(-1)?.[1], 30_000, 'a long outage reaches the cap');
});

for (const outageS of [5, 12, 20, 45, 120, 300]) {
  test(`backoff while down: an apiserver back after ${String(outageS)} s is tried within max(4 s, a quarter of the outage), worst-case jitter`, () => {
    for (const random of [() => 1, () => 0, () => 0.5]) {
      const next = attempts('down', 10_000_000, random).find((t) => t >= outageS * 1000) ?? Infinity;
      assert.ok(next - outageS * 1000 <= Math.max(4_000, (outageS * 1000) / 4), `next attempt ${String(next - outageS * 1000)} ms after it came back`);
    }
  });
}

test('backoff: refused keeps doubling (each retry costs the apiserver a request), down does not sleep through the return', () => {
  const refused = attempts('refused', 60_000, noJitter);
  const down = attempts('down', 60_000, noJitter);
  assert.deepEqual(refused, [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
  // ~20 s down (a restart on a loaded machine): the refused schedule would wait until 31.5 s.
  assert.ok((down.find((t) => t >= 20_000) ?? Infinity) <= 24_000);
  // ...and down is no polling: at the mean jitter, 15 attempts in the first minute (refused: 7), 24 in five (12).
  const mean = (): number => 0.5;
  assert.equal(attempts('down', 60_000, mean).length, 15);
  assert.equal(attempts('refused', 60_000, mean).length, 7);
  assert.equal(attempts('down', 300_000, mean).length, 24);
});

test('backoff: a refusal after a spell down (429 from an apiserver swamped on its return) starts the doubling over', () => {
  const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
  let now = 0;
  while (now < 35_000) now += b.failure(now, undefined, 'down');
  assert.deepEqual([b.failure(now, 1_000), b.failure(now + 1_000), b.failure(now + 2_000)], [1_000, 1_000, 2_000], 'Retry-After 1 s, then 1 s, 2 s');
  // ...while the outage's age is kept: down again, the doubling starts over and meets the cap of
  // an eighth of the whole outage (not of the time since the kind changed).
  const steps = [0, 500, 1_500, 3_500, 7_500, 15_500].map((t) => b.failure(now + 48_000 + t, undefined, 'down'));
  assert.deepEqual(steps, [500, 1_000, 2_000, 4_000, 8_000, (now + 63_500) / 8]);
});

test('backoff while down: a flapping API (usable only briefly) keeps its outage age, so the steps keep growing', () => {
  const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
  let now = 0;
  for (let i = 0; i < 30; i++) {
    now += b.failure(now, undefined, 'down');
    b.usable(now);
    now += 2_000; // usable for 2 s, then down again
  }
  assert.ok(b.failure(now, undefined, 'down') > 10_000, 'the outage age was reset by a brief recovery');
  b.usable(now);
  assert.equal(b.failure(now + 10_000, undefined, 'down'), 500, 'usable for resetAfterMs: starts over');
});

for (const { usableFor, expected, why } of [
  { usableFor: 10_000, expected: 500, why: 'usable for resetAfterMs: the next failure starts over' },
  { usableFor: 600_000, expected: 500, why: 'usable for long: starts over' },
  { usableFor: 9_999, expected: 30_000, why: 'usable only briefly (a flapping API): keeps backing off' },
  { usableFor: undefined, expected: 30_000, why: 'never usable in between: keeps backing off' },
]) {
  test(`backoff after a capped outage: ${why}`, () => {
    const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
    let now = 0;
    for (let i = 0; i < 8; i++) now += b.failure(now);
    if (usableFor !== undefined) {
      b.usable(now);
      b.usable(now + 1); // idempotent: counts from the first
      now += usableFor;
    }
    assert.equal(b.failure(now), expected);
  });
}

for (const { retryAfter, expected } of [
  { retryAfter: 5_000, expected: 5_000 },
  { retryAfter: 100, expected: 500 },
  { retryAfter: 3_600_000, expected: 300_000 },
]) {
  test(`backoff: Retry-After ${String(retryAfter)} ms is a floor, capped at 5 min -> ${String(expected)} ms`, () => {
    assert.equal(new RetryBackoff(DEFAULT_BACKOFF, noJitter).failure(0, retryAfter), expected);
  });
}

for (const { status, seen, expected } of [
  { status: 200, seen: false, expected: 'ready' },
  { status: 500, seen: false, expected: 'not-ready' }, // a check failing ([-]poststarthook/...)
  { status: 503, seen: true, expected: 'not-ready' }, // a load balancer with no healthy apiserver
  { status: 429, seen: false, expected: 'not-ready' },
  { status: 403, seen: true, expected: 'not-ready' }, // the authorizer refuses what it allowed: not synced yet
  { status: 403, seen: false, expected: 'unknown' }, // maybe this cluster does not let ServiceAccounts see /readyz
  { status: 401, seen: true, expected: 'unknown' }, // the token: the list says so, with its fix
  { status: 404, seen: true, expected: 'unknown' },
] as const) {
  test(`readiness: /readyz ${String(status)}${seen ? ' (seen before)' : ''} -> ${expected}`, () => {
    assert.equal(readinessOf(status, seen), expected);
  });
}

test('readiness gate: a restart as measured (refused, 403 while the authorizer syncs, 500 while hooks finish, 200): no list before 200', () => {
  const gate = new ReadinessGate(30_000);
  assert.deepEqual(gate.answered(200, 0), { list: true, readiness: 'ready' }); // at start
  gate.listed();
  assert.deepEqual(gate.answered(403, 12_000), { list: false, first: true });
  assert.deepEqual(gate.answered(403, 13_000), { list: false, first: false });
  assert.deepEqual(gate.answered(500, 14_000), { list: false, first: false });
  assert.deepEqual(gate.answered(200, 15_000), { list: true, readiness: 'ready' });
  gate.listed();
  assert.deepEqual(gate.answered(500, 100_000), { list: false, first: true }, 'said again in the next outage');
  assert.equal(gate.active, true);
});

test('readiness gate: holds at most holdAtMostMs in a row, then lists (so a stuck /readyz is still tried and its answer reported)', () => {
  const gate = new ReadinessGate(30_000);
  assert.equal(gate.answered(500, 0).list, false);
  assert.equal(gate.answered(500, 29_999).list, false);
  assert.deepEqual(gate.answered(500, 30_000), { list: true, readiness: 'not-ready' });
  assert.deepEqual(gate.answered(500, 31_000), { list: true, readiness: 'not-ready' }, 'still past the bound until a list succeeds');
  gate.listed();
  assert.equal(gate.answered(500, 40_000).list, false, 'a new hold');
});

test('readiness gate: /readyz refused with 403 and never seen, then the list succeeds: /readyz is not visible here, stop asking', () => {
  const gate = new ReadinessGate(30_000);
  assert.deepEqual(gate.answered(403, 0), { list: true, readiness: 'unknown' });
  gate.listed();
  assert.equal(gate.active, false);
  const other = new ReadinessGate(30_000);
  other.answered(403, 0);
  other.answered(200, 1_000); // visible after all (the first 403 was an authorizer syncing)
  other.listed();
  assert.equal(other.active, true);
});

test('readiness gate: a watcher that listed without asking /readyz (its start): a 403 on /readyz after an outage is not ready (the authorizer refuses what it allowed)', () => {
  const gate = new ReadinessGate(30_000);
  gate.listed();
  assert.deepEqual(gate.answered(403, 12_000), { list: false, first: true });
  assert.deepEqual(gate.answered(500, 14_000), { list: false, first: false });
  assert.deepEqual(gate.answered(200, 15_000), { list: true, readiness: 'ready' });
  gate.listed();
  assert.equal(gate.active, true);
});

test('readiness gate: a cluster that does not let the ServiceAccount see /readyz, first asked after an outage: held at most the bound, then the list succeeds and /readyz is not asked again', () => {
  const gate = new ReadinessGate(30_000);
  gate.listed(); // the start's list, without /readyz
  assert.equal(gate.answered(403, 0).list, false);
  assert.deepEqual(gate.answered(403, 30_000), { list: true, readiness: 'not-ready' });
  gate.listed();
  assert.equal(gate.active, false);
});

for (const [status, expected] of [[403, true], [429, true], [500, true], [503, true], [401, false], [404, false], [410, false], [undefined, false]] as const) {
  test(`a start's unprobed list answered ${String(status ?? 'nothing')}: ${expected ? 'ask /readyz before reporting it' : 'reported as it is'}`, () => {
    assert.equal(startingRefusal(status), expected);
  });
}

test('readyz summary: the failing checks, else the refusal\'s message', () => {
  assert.equal(readyzSummary(500, '[+]ping ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n[+]etcd ok\nreadyz check failed\n'), '500 poststarthook/rbac/bootstrap-roles failed: reason withheld');
  assert.equal(readyzSummary(403, '{"kind":"Status"}', 'forbidden: User "system:serviceaccount:ns:sa" cannot get path "/readyz"'), '403 forbidden: User "system:serviceaccount:ns:sa" cannot get path "/readyz"');
});

for (const [header, expected] of [
  ['2', 2000], [' 120 ', 120_000], ['Wed, 02 Dec 2026 16:00:10 GMT', 10_000], ['Wed, 02 Dec 2026 15:00:00 GMT', 0], ['soon', undefined], [undefined, undefined],
] as const) {
  test(`Retry-After ${JSON.stringify(header)} -> ${String(expected)} ms`, () => {
    assert.equal(retryAfterMs(header, Date.parse('2026-12-02T16:00:00Z')), expected);
  });
}

for (const { checked, delivered, current } of [
  { checked: { exists: true, resourceVersion: '10' }, delivered: { exists: true, resourceVersion: '10' }, current: true },
  { checked: { exists: true, resourceVersion: '12' }, delivered: { exists: true, resourceVersion: '10' }, current: false },
  { checked: { exists: true, resourceVersion: '9' }, delivered: { exists: true, resourceVersion: '10' }, current: true },
  { checked: { exists: true, resourceVersion: 'b' }, delivered: { exists: true, resourceVersion: 'a' }, current: false },
  { checked: { exists: false }, delivered: { exists: true, resourceVersion: '10' }, current: false },
  { checked: { exists: true, resourceVersion: '11' }, delivered: { exists: false }, current: false },
  { checked: { exists: false }, delivered: { exists: false }, current: true },
  { checked: { exists: true, uid: 'u2', resourceVersion: '10' }, delivered: { exists: true, uid: 'u1', resourceVersion: '10' }, current: false },
]) {
  test(`watch check: apiserver ${JSON.stringify(checked)}, watch ${JSON.stringify(delivered)} -> ${current ? 'current' : 'list again'}`, () => {
    const verdict = judgeCheck(checked, delivered);
    assert.equal(verdict.current, current);
    if (!verdict.current) assert.ok(verdict.why.length > 0);
  });
}

test('causes: said once each per outage, again after a recovery', () => {
  const log = new CauseLog();
  const seq = [problemOf('watch', 0, 'Premature close'), problemOf('list', 0, 'ECONNRESET'), problemOf('list', 403, 'forbidden'), problemOf('list', 403, 'forbidden'),
    problemOf('list', 401, 'Unauthorized'), problemOf('list', 429, 'slow down', 1000), problemOf('list', 500, 'etcd'), problemOf('list', 504, 'timeout'), problemOf('list', 500, 'etcd')];
  assert.deepEqual(seq.map((p) => log.first(p)), [true, false, true, false, true, true, true, true, false]);
  assert.deepEqual(seq.map(causeOf), ['unreachable', 'unreachable', 'forbidden', 'forbidden', 'unauthorized', 'throttled', 'server-error:500', 'server-error:504', 'server-error:500']);
  log.recovered();
  assert.equal(log.first(problemOf('list', 403, 'forbidden')), true);
});

test('each cause names its fix', () => {
  const ctx = { namespace: 'shop', configMap: 'envoy-xds', serviceAccount: 'envoy', credentials: 'ServiceAccount token /var/run/secrets/kubernetes.io/serviceaccount' };
  assert.match(explainProblem(problemOf('list', 403, 'User "system:serviceaccount:shop:edge" cannot list resource "configmaps"'), ctx),
    /^Kubernetes API forbids list on configmaps "envoy-xds" in namespace shop .* Fix: envoy-xds-injector rbac --namespace shop --service-account edge --configmap envoy-xds \| kubectl apply -f -$/);
  // In a Pod the fix runs through its watcher container, with kubectl alone: no CLI on the operator's PATH needed.
  assert.match(explainProblem(problemOf('list', 403, 'User "system:serviceaccount:shop:edge" cannot list resource "configmaps"'), { ...ctx, cli: cliThroughPod('shop', 'envoy-7d9f') }),
    / Fix: kubectl exec -n shop envoy-7d9f -c envoy-xds-watch -- envoy-xds-injector rbac --namespace shop --service-account edge --configmap envoy-xds \| kubectl apply -f -$/);
  assert.match(explainProblem(problemOf('check', 401, 'Unauthorized'), ctx), /^Kubernetes API refused the ServiceAccount token \(401 on list configmaps "envoy-xds".* Fix: .*delete the Pod/);
  assert.match(explainProblem(problemOf('list', 429, 'too many requests', 2000), ctx), /^Kubernetes API throttles this client \(429 Too Many Requests on list configmaps "envoy-xds", Retry-After 2 s.* Fix: .*flowschemas/);
  assert.match(explainProblem(problemOf('watch', 504, 'Timeout'), ctx), /^Kubernetes API failed \(504 on watch .* Fix: /);
  assert.match(explainProblem(problemOf('check', 0, 'no answer within 10s'), ctx), /^Kubernetes API unreachable \(list configmaps "envoy-xds": no answer within 10s\): following the ConfigMap volume instead/);
});

test('a refused check of an open watch says the watch goes on (no fallback yet), with the same fix', () => {
  const ctx = { namespace: 'shop', configMap: 'envoy-xds', serviceAccount: 'envoy', credentials: 'ServiceAccount token /var/run/secrets/kubernetes.io/serviceaccount' };
  for (const problem of [problemOf('check', 401, 'Unauthorized'), problemOf('check', 403, 'forbidden'), problemOf('check', 429, 'slow down', 1000), problemOf('check', 500, 'etcd')]) {
    const line = explainProblem(problem, ctx, true);
    assert.match(line, /: the open watch goes on delivering changes .*the ConfigMap volume is followed then/);
    assert.doesNotMatch(line, /following the ConfigMap volume instead|never sooner than Retry-After/);
  }
  assert.match(explainProblem(problemOf('check', 401, 'Unauthorized'), ctx, true), /^Kubernetes API refused the ServiceAccount token \(401 on list configmaps "envoy-xds".* Fix: .*delete the Pod/);
  assert.match(explainProblem(problemOf('check', 403, 'forbidden'), ctx, true), / Fix: envoy-xds-injector rbac --namespace shop --service-account envoy --configmap envoy-xds \| kubectl apply -f -$/);
});
