// A resource renamed in its file and in the file naming it, in one ConfigMap swap
// (test/fixtures/verdict-cases/22-resource-renamed-with-its-namer), with a real Envoy 1.40: the
// subscription of the listener lds.yaml replaces refuses the new rds.yaml, the one it opens takes
// it. The old subscription's refusals do not count once no published file asks for the resource
// the version it ran holds (judge.ts `leftover`); the refusal is also set aside while lds.yaml
// (which names rds.yaml: the name a subscription asks for comes from it) is on its way.
// Found by a fresh-user trial: rds.yaml was judged refused and put back, and an Envoy restarted
// from the directory answered 404.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyOf, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, waitServed, withWatcherLines } from './verdict-cases.js';

test('22: a route configuration renamed in rds.yaml and in lds.yaml in one swap is accepted, and a restarted Envoy serves it too', { timeout: 300_000 }, async () => {
  const spec = (lds: string, rds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml', 'lds.yaml': lds, 'rds.yaml': rds });
  const pod = await startCase('22-resource-renamed-with-its-namer', spec('lds-v1.yaml', 'rds-v1.yaml'));
  try {
    for (const file of ['lds.yaml', 'rds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    const counts = verdictCounts(pod, ['lds.yaml', 'rds.yaml']);
    await pod.apply(spec('lds-v2-renamed.yaml', 'rds-v2-renamed.yaml'));
    const lds = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    const rds = await nextVerdict(pod, 'rds.yaml', counts.get('rds.yaml') ?? 0);
    assert.equal(lds.outcome, 'accepted', String(lds.msg));
    assert.equal(rds.outcome, 'accepted', String(rds.msg));
    // Envoy: the new subscription runs the new rds.yaml.
    assert.equal((await subscriptionCounters(envoyOf(pod), 'http.ingress_http.rds.local_route_2')).versionText, rds.xdsVersion);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'v2');
    const { running, restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
    assert.deepEqual(running, ['200 v2']);
    assert.deepEqual(restarted, running, 'an Envoy restarted from the published directory serves what the running one served');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
