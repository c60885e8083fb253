// A cds.yaml edit that removes a cluster a published listener still routes to (src/sync/verdict/
// routes-stranded.ts), with a real Envoy 1.40 and folder 21's files: Envoy takes the CDS update and
// the running listener answers 503 for the route; an Envoy restarted from the published directory
// refuses that lds.yaml ("route: unknown cluster") and does not listen. The verdict is accepted (it
// is Envoy's to take), with a warning naming the route file and the cluster, in the line, `status`
// and the verdict's state; a cds.yaml edit that removes a cluster nothing routes to gets none.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EventReason } from '../../src/sync/watch/reporters.js';
import { answer, envoyOf, eventOfLine, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, waitServed, withWatcherLines } from './verdict-cases.js';
import { waitFor } from './envoy.js';
import type { ConfigMapSpec } from './verdict-cases.js';
import { runCli } from '../sync/harness.js';

const spec = (lds: string, cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });

test('a cds.yaml that removes a cluster lds.yaml still routes to: accepted with a warning (503 now, a restarted Envoy refuses lds.yaml); one that removes a cluster nothing routes to: no warning', { timeout: 300_000 }, async () => {
  // listener_0 routes to svc_static ("A"); cds-v1 also has EnvoyNetCore ("B"), which nothing routes to yet.
  const pod = await startCase('21-cds-refused-in-part', spec('lds-v0.yaml', 'cds-v1.yaml'));
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');

    // EnvoyNetCore removed, nothing routes to it: accepted, no warning.
    let counts = verdictCounts(pod, ['cds.yaml']);
    await pod.apply(spec('lds-v0.yaml', 'cds-v0.yaml'));
    const quiet = await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0);
    assert.equal(quiet.outcome, 'accepted', String(quiet.msg));
    assert.equal(quiet.strandedRoutes, undefined, String(quiet.msg));
    assert.equal(quiet.level, 30, 'an info line');
    assert.equal(eventOfLine(quiet).reason, EventReason.accepted);

    // The route to EnvoyNetCore, then a cds.yaml edit alone that removes it again.
    counts = verdictCounts(pod, ['cds.yaml', 'lds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v1.yaml'));
    for (const file of ['cds.yaml', 'lds.yaml']) assert.equal((await nextVerdict(pod, file, counts.get(file) ?? 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    counts = verdictCounts(pod, ['cds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v0.yaml'));
    const line = await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0);
    assert.equal(line.outcome, 'accepted', String(line.msg));
    assert.equal(line.rolledBack, false);
    assert.equal(line.level, 40, 'a warning line');
    assert.deepEqual(line.strandedRoutes, [{ file: 'lds.yaml', clusters: ['EnvoyNetCore'] }]);
    assert.deepEqual([eventOfLine(line).reason, eventOfLine(line).type], [EventReason.acceptedWithWarnings, 'Warning']);
    assert.match(String(line.msg), /^Envoy accepted cds\.yaml version \S+ in [\d.]+ ms; but lds\.yaml still routes to cluster 'EnvoyNetCore', which cds\.yaml version \S+ removed: Envoy answers 503 there, and an Envoy restarted from these files would refuse lds\.yaml \("route: unknown cluster"\)/);

    // What the line says, Envoy does: the running listener answers 503, a restarted Envoy does not listen there.
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'status'), '503', 'the route to the removed cluster');
    const status = await runCli(['status', '--to', pod.target]);
    assert.match(status.stdout, /cds\.yaml .*accepted \S+ at .*, routes left to removed clusters: lds\.yaml \('EnvoyNetCore'\)/, status.stdout);
    assert.match(status.stdout, /ROUTES TO CLUSTERS ENVOY NO LONGER HAS[^\n]*\nEnvoy accepted cds\.yaml/, status.stdout);
    // A restarted Envoy: its LDS subscription refuses lds.yaml at start, and nothing listens there.
    await envoyOf(pod).stop();
    pod.envoy = undefined;
    await pod.startEnvoy();
    await waitFor('the restarted Envoy refuses lds.yaml', async () => ((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).refused >= 1 ? true : undefined));
    assert.equal(await served(envoyOf(pod), pod.ports.P0, 'status'), '-', 'nothing listens where the running Envoy answered 503');

    // The operator removes the route too: Envoy takes lds.yaml, and a restart serves the same.
    counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v0.yaml', 'cds-v0.yaml'));
    assert.equal((await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const again = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
    assert.deepEqual(again.restarted, again.running);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('24-cluster-named-unchecked: a cds.yaml that removes a cluster rds.yaml routes to (RDS does not validate its clusters): accepted with a warning naming rds.yaml; Envoy answers 503 there, and a restarted Envoy loads rds.yaml and answers the same', { timeout: 300_000 }, async () => {
  const rdsSpec = (cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'rds.yaml': 'rds-v0.yaml', 'cds.yaml': cds });
  const pod = await startCase('24-cluster-named-unchecked', rdsSpec('cds-v0.yaml'));
  try {
    for (const file of ['lds.yaml', 'rds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => answer(pod.ports.P0, '/b'), '200 B', 'B through svc_b');
    const counts = verdictCounts(pod, ['cds.yaml']);
    await pod.apply(rdsSpec('cds-v1.yaml'));
    const line = await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0);
    assert.equal(line.outcome, 'accepted', String(line.msg));
    assert.equal(line.level, 40, 'a warning line');
    assert.deepEqual(line.strandedRoutes, [{ file: 'rds.yaml', clusters: ['svc_b'], unchecked: true }], String(line.msg));
    assert.deepEqual([eventOfLine(line).reason, eventOfLine(line).type], [EventReason.acceptedWithWarnings, 'Warning']);
    assert.match(String(line.msg), /; but rds\.yaml still names cluster 'svc_b', which cds\.yaml version \S+ removed: Envoy loads it without the cluster, an Envoy restarted from these files too, and what needs it fails \(a route to it answers 503/);
    // What the line says, Envoy does: 503 on /b, A on /, and the same from an Envoy restarted from the published files.
    // No cluster: the route's cluster_not_found_response_code, 503 with no body.
    const code = async (path: string): Promise<string> => (await answer(pod.ports.P0, path)).split(' ')[0] ?? '';
    await waitServed(() => code('/b'), '503', 'the route to the removed cluster');
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /cds\.yaml .*accepted \S+ at .*, routes left to removed clusters: rds\.yaml \('svc_b'\)/, status.stdout);
    // A later cds.yaml edit that removes nothing: the earlier removal is still said (trial 4: only the latest removal was).
    const later = verdictCounts(pod, ['cds.yaml']);
    await pod.apply(rdsSpec('cds-v2.yaml'));
    const v2 = await nextVerdict(pod, 'cds.yaml', later.get('cds.yaml') ?? 0);
    assert.equal(v2.outcome, 'accepted', String(v2.msg));
    assert.deepEqual(v2.strandedRoutes, [{ file: 'rds.yaml', clusters: ['svc_b'], unchecked: true }], String(v2.msg));
    const probes = async (): Promise<string[]> => [await code('/b'), await answer(pod.ports.P0, '/')];
    const { running, restarted } = await restartFromPublished(pod, probes);
    assert.deepEqual(running, ['503', '200 A']);
    assert.deepEqual(restarted, running);
    assert.equal((await subscriptionCounters(envoyOf(pod), 'http.ingress_http.rds.local_route')).refused, 0, 'the restarted Envoy took rds.yaml');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('24-cluster-named-unchecked: an rds.yaml routing to a cluster only a cds.yaml of its change adds, which Envoy refuses in part, goes back with cds.yaml; the running Envoy and a restarted one serve the version before', { timeout: 300_000 }, async () => {
  const change = (rds: string, cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'rds.yaml': rds, 'cds.yaml': cds });
  const pod = await startCase('24-cluster-named-unchecked', change('rds-v0.yaml', 'cds-v0.yaml'));
  try {
    for (const file of ['lds.yaml', 'rds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    const counts = verdictCounts(pod, ['cds.yaml', 'rds.yaml']);
    await pod.apply(change('rds-v1.yaml', 'cds-v3-partial.yaml'));
    const cds = await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0);
    assert.equal(cds.outcome, 'rejected', String(cds.msg));
    assert.equal(cds.rolledBack, true);
    const rds = await nextVerdict(pod, 'rds.yaml', counts.get('rds.yaml') ?? 0);
    assert.equal(rds.outcome, 'rejected', String(rds.msg));
    assert.equal(rds.rolledBack, true, String(rds.msg));
    assert.equal(rds.withdrawnWith, 'cds.yaml');
    assert.match(String(rds.msg), /^Envoy took rds\.yaml version \S+, but it names cluster 'svc_c', which only cds\.yaml version \S+ adds, and Envoy refused that version: \S+ goes back on disk with cds\.yaml/);
    // Before: rds.yaml stayed accepted and /c answered 503 (trial 4). Now the version before is served, running and restarted.
    await waitServed(() => answer(pod.ports.P0, '/c'), '200 A', '/c through / of rds-v0');
    const probes = async (): Promise<string[]> => [await answer(pod.ports.P0, '/c'), await answer(pod.ports.P0, '/b')];
    const { running, restarted } = await restartFromPublished(pod, probes);
    assert.deepEqual(running, ['200 A', '200 B']);
    assert.deepEqual(restarted, running);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
