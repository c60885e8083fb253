// A refused content that stays published is renamed again once Envoy accepts a file its refusal
// depends on (src/sync/verdict/refused-retry.ts, refused-kept.ts), with a real Envoy 1.40 and folder
// 21's files (lds-v1 routes listener_0 to EnvoyNetCore, which cds-v1 has and cds-v0 has not).
// Envoy reads a path_config_source file only on a rename: before, a listener it refused for a
// missing cluster stayed refused after the cluster came, while an Envoy restarted from the same
// files served it (fresh-user trial, HIGH: a new Pod's first lds.yaml; an lds.yaml a restarted Envoy
// refused at start, which `status` still called accepted, exit 0).
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { envoyOf, nextVerdict, quiet, restartEnvoyUnderWatcher, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, waitServed, withWatcherLines } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';
import { runCli } from '../sync/harness.js';

const FOLDER = '21-cds-refused-in-part';
const TIMEOUT = { timeout: 300_000 };
const spec = (lds: string, cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });

/** cds.yaml with EnvoyNetCore again: accepted, then lds.yaml, unchanged, renamed again and accepted; B served, a restart serves the same. */
async function clusterBackLandsTheListener(pod: CasePod): Promise<void> {
  const counts = verdictCounts(pod, ['cds.yaml', 'lds.yaml']);
  await pod.apply(spec('lds-v1.yaml', 'cds-v1.yaml'));
  assert.equal((await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0)).outcome, 'accepted');
  const lds = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
  assert.equal(lds.outcome, 'accepted', String(lds.msg));
  assert.ok(pod.watcher.logs.some((l) => String(l.msg).startsWith("lds.yaml: Envoy accepted cds.yaml; publishing the refused version, which stays published, again")), 'the retry said');
  assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).versionText, lds.xdsVersion, "Envoy's lds version_text");
  await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B through EnvoyNetCore');
  const status = await runCli(['status', '--to', pod.target]);
  assert.equal(status.code, 0, `${status.stdout}${status.stderr}`);
  const { running, restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
  assert.deepEqual(restarted, running);
}

test('a new Pod\'s lds.yaml refused for a cluster cds.yaml lacks (stays published: nothing before it) is published again when Envoy accepts the cds.yaml that adds it', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml', 'cds-v0.yaml'));
  try {
    const first = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(first.outcome, 'rejected', String(first.msg));
    assert.match(String(first.msg), /no version of lds\.yaml was accepted before it/);
    // Both files were on disk before Envoy started, which read them at its start (CDS first): nothing
    // was on its way, so lds.yaml is not renamed again for cds.yaml, and Envoy refused it once (fresh-user
    // trial: "refused this version once before, while cds.yaml of the same change was still on its way").
    assert.doesNotMatch(String(first.msg), /on its way|once before/, String(first.msg));
    assert.ok(!pod.watcher.logs.some((l) => String(l.msg).includes('still on its way')), 'no line says cds.yaml was on its way');
    assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).refused, 1, "Envoy's listener_manager.lds.update_rejected");
    assert.equal((await runCli(['status', '--to', pod.target])).code, 1);
    await clusterBackLandsTheListener(pod);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('an lds.yaml a restarted Envoy refuses at start (a cds.yaml edit removed its cluster) is judged refused at the next resync, with no ConfigMap change; status says so (exit 1), and it is published again when the cluster is back', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml', 'cds-v1.yaml'), ['--resync', '1s']);
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    let counts = verdictCounts(pod, ['cds.yaml', 'lds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v0.yaml'));
    const stranded = await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0);
    assert.deepEqual(stranded.strandedRoutes, [{ file: 'lds.yaml', clusters: ['EnvoyNetCore'] }], String(stranded.msg));
    counts = verdictCounts(pod, ['lds.yaml']);
    // The kubelet restarts Envoy (a crash, an OOM kill): the new one refuses lds.yaml at start. The
    // watcher meets it at its next resync (one counters request), with no ConfigMap change.
    await restartEnvoyUnderWatcher(pod);
    const refused = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.equal(refused.rolledBack, false);
    assert.match(String(refused.msg), /^Envoy REFUSED lds\.yaml version \S+, the version accepted before \(an Envoy started since refuses it\): it stays published/);
    assert.match(String(refused.msg), /unknown cluster 'EnvoyNetCore'/);
    // Envoy applies each listener on its own: the restarted one runs up1 and up2 of it (trial 3, H4: the line said it ran none).
    assert.match(String(refused.msg), /; Envoy runs 2 of the 3 listeners of lds\.yaml \(up1, up2\) and refused the other\./);
    assert.ok(pod.watcher.logs.some((l) => l.event === 'envoy-restarted' && String(l.msg).includes('judging lds.yaml again (accepted before, refused by this Envoy at start)')));
    assert.equal(await served(envoyOf(pod), pod.ports.P0), '-', 'the restarted Envoy does not listen there');
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stdout, /lds\.yaml +\S+ \(refused by an Envoy started since, stays published: the version accepted before\) +\S+ +\(none\), runs 2 of its 3 listeners \(up1, up2\) /, status.stdout);
    assert.match(status.stderr, /lds\.yaml \(an Envoy started since refused the version accepted before; it stays published\)/, status.stderr);
    // cds.yaml's warning says what this Envoy does: nothing listens there (no 503), as Envoy answered above (fresh-user trial: "Envoy answers 503 there" after the restart).
    assert.match(status.stdout, /ROUTES TO CLUSTERS ENVOY NO LONGER HAS[^\n]*\nEnvoy accepted cds\.yaml version \S+ in [\d.]+ ms; but lds\.yaml still routes to cluster 'EnvoyNetCore', which cds\.yaml version \S+ removed: the Envoy running now refused lds\.yaml \("route: unknown cluster"\) and serves nothing there/, status.stdout);
    assert.doesNotMatch(status.stdout, /answers 503/, status.stdout);
    await clusterBackLandsTheListener(pod);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('the trial\'s order: Envoy restarts and refuses lds.yaml at start, and the next edit brings the cluster back: lds.yaml is renamed again and accepted', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml', 'cds-v1.yaml'));
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    const counts = verdictCounts(pod, ['cds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v0.yaml'));
    assert.equal((await nextVerdict(pod, 'cds.yaml', counts.get('cds.yaml') ?? 0)).outcome, 'accepted');
    await restartEnvoyUnderWatcher(pod);
    const lds = verdictCounts(pod, ['lds.yaml']).get('lds.yaml') ?? 0;
    await pod.apply(spec('lds-v1.yaml', 'cds-v1.yaml'));
    // The restarted Envoy's refusal, judged as the cds.yaml pass meets the new Envoy: said as a
    // verdict when it is concluded after cds.yaml's acceptance, or set aside while cds.yaml is on its
    // way (in-flight.ts); either way the same bytes are renamed again and taken.
    const first = await nextVerdict(pod, 'lds.yaml', lds);
    const accepted = first.outcome === 'accepted' ? first : await nextVerdict(pod, 'lds.yaml', lds + 1);
    const lines = pod.watcher.logs.filter((l) => l.event === 'verdict' && l.file === 'lds.yaml').slice(lds);
    assert.equal(accepted.outcome, 'accepted', lines.map((l) => String(l.msg)).join('\n'));
    if (first.outcome !== 'accepted') assert.match(String(first.msg), /the version accepted before \(an Envoy started since refuses it\)/);
    assert.ok(pod.watcher.logs.some((l) => /^lds\.yaml: Envoy accepted cds\.yaml; publishing the refused version|^Envoy refused lds\.yaml while cds\.yaml of the same change/.test(String(l.msg))), 'renamed again');
    assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).versionText, accepted.xdsVersion);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B through EnvoyNetCore');
    assert.equal((await runCli(['status', '--to', pod.target])).code, 0);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('a new Pod\'s cds.yaml Envoy refused for a cluster of its own (pasted twice) is not published again when Envoy accepts lds.yaml: nothing else can change that refusal', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v0.yaml', 'cds-v1-partial.yaml'));
  try {
    const cds = await nextVerdict(pod, 'cds.yaml', 0);
    assert.equal(cds.outcome, 'rejected', String(cds.msg));
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    // An edit of lds.yaml Envoy accepts: before, each acceptance renamed the refused cds.yaml again.
    const counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v1-partial.yaml'));
    assert.equal((await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0)).outcome, 'accepted');
    await quiet(pod);
    assert.deepEqual(pod.watcher.logs.filter((l) => String(l.msg).includes('publishing the refused version')).map((l) => String(l.msg)), []);
    assert.equal(pod.watcher.logs.filter((l) => l.event === 'verdict' && l.file === 'cds.yaml').length, 1, 'one verdict on cds.yaml');
    assert.equal((await subscriptionCounters(envoyOf(pod), 'cluster_manager.cds')).refused, 1, 'Envoy refused cds.yaml once');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('an lds.yaml a restarted Envoy refused at start (its address in use) and the next restarted Envoy takes: judged accepted again, status exit 0', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml', 'cds-v1.yaml'), ['--resync', '1s']);
  const blocker = createServer();
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    let counts = verdictCounts(pod, ['lds.yaml']);
    // The kubelet restarts Envoy while something else holds listener_0's port: Envoy refuses lds.yaml in part.
    await restartEnvoyUnderWatcher(pod, 4, () => new Promise((resolve) => blocker.listen(pod.ports.P0, '127.0.0.1', () => { resolve(); })));
    const refused = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.match(String(refused.msg), /the version accepted before \(an Envoy started since refuses it\).*Envoy runs 2 of the 3 listeners of lds\.yaml \(up1, up2\) and refused the other/);
    assert.equal((await runCli(['status', '--to', pod.target])).code, 1);
    // The port is free again and Envoy restarts once more: it takes lds.yaml at start (trial 4: status said refused, exit 1, for good).
    counts = verdictCounts(pod, ['lds.yaml']);
    await restartEnvoyUnderWatcher(pod, 4, () => new Promise((resolve) => blocker.close(() => { resolve(); })));
    const taken = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(taken.outcome, 'accepted', String(taken.msg));
    assert.ok(pod.watcher.logs.some((l) => l.event === 'envoy-restarted' && String(l.msg).includes('judging lds.yaml again (refused before, loaded by this Envoy at start)')));
    assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).versionText, taken.xdsVersion);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.doesNotMatch(status.stdout, /refused by an Envoy started since/, status.stdout);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    if (blocker.listening) blocker.close();
    await pod.stop();
  }
});

test('after a refusal rolled back and the ConfigMap set back to the version published, a restarted Envoy that refuses that version at start (its address in use) is met: judged refused, status exit 1', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v0.yaml', 'cds-v0.yaml'), ['--resync', '1s']);
  const blocker = createServer();
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    let counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v0.yaml')); // routes to EnvoyNetCore, which cds-v0 lacks: refused, rolled back
    const refused = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(refused.rolledBack, true, String(refused.msg));
    await pod.apply(spec('lds-v0.yaml', 'cds-v0.yaml')); // the operator reverts: the ConfigMap is the version published
    await pod.watcher.waitForLog((l) => l.file === 'lds.yaml' && String(l.msg).includes('the ConfigMap is back to version'), 'the revert reaching the watcher');
    counts = verdictCounts(pod, ['lds.yaml']);
    await restartEnvoyUnderWatcher(pod, 4, () => new Promise((resolve) => blocker.listen(pod.ports.P0, '127.0.0.1', () => { resolve(); })));
    // Trial 5: nothing was said (the last verdict, the rollback's, was not 'accepted'), and status exited 0.
    const atStart = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(atStart.outcome, 'rejected', String(atStart.msg));
    assert.match(String(atStart.msg), /the version accepted before \(an Envoy started since refuses it\)/);
    assert.match(String(atStart.msg), /cannot bind|Address already in use/);
    assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).refused, 1);
    assert.equal((await runCli(['status', '--to', pod.target])).code, 1);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    if (blocker.listening) blocker.close();
    await pod.stop();
  }
});
