// The pure rules that keep `source: api` honest under faults: the retry backoff (reset after a
// recovery, Retry-After as a floor), the watch check (stalled or current), and the per-cause report.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_BACKOFF, RetryBackoff, retryAfterMs } from '../../../src/sync/kube/retry-backoff.js';
import { judgeCheck } from '../../../src/sync/kube/watch-health.js';
import { CauseLog, causeOf, explainProblem, problemOf } from '../../../src/sync/kube/api-problem.js';
import { cliThroughPod } from '../../../src/sync/kube/rbac-hint.js';

const noJitter = (): number => 0;

test('backoff: doubles from 0.5 s to the 30 s cap during an outage', () => {
  const b = new RetryBackoff(DEFAULT_BACKOFF, noJitter);
  const delays = Array.from({ length: 9 }, (_, i) => b.failure(i * 1000));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});

test('backoff: jitter multiplies by 1 to 1.5', () => {
  assert.equal(new RetryBackoff(DEFAULT_BACKOFF, () => 1).failure(0), 750);
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
