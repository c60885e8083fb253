// Clusters a refused cds.yaml takes away (src/sync/verdict/clusters-gone.ts), with a real Envoy 1.40.
// Kind 7 with EDS (folder 07): an edit that adds a cluster reading a new eds.yaml (path_config_source)
// opens a new EDS subscription. Envoy takes cds.yaml (cluster_manager.cds.update_success) and the
// subscription it opened refuses eds.yaml (an endpoint address that is not an IP: update_rejected or
// update_failure on cluster.<name>, never update_success). The edit is refused as a whole: cds.yaml
// is put back, and a file of the same change that routes to the cluster only the refused cds.yaml
// adds goes back with it (a restarted Envoy would refuse it: "route: unknown cluster"). Folder 21: a
// cds.yaml Envoy refuses in part, after applying the cluster the route needs.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyOf, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, waitServed, withWatcherLines } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';
import { runCli } from '../sync/harness.js';

const TIMEOUT = { timeout: 300_000 };
const FOLDER = '07-subscription-an-edit-creates';
const CDS = 'cluster_manager.cds';
const LDS = 'listener_manager.lds';
const EDS = 'cluster.EnvoyNetCore';

/** Envoy's count of refusals (update_rejected + update_failure) on `prefix`. */
async function refusals(pod: CasePod, prefix: string): Promise<number> {
  return (await subscriptionCounters(envoyOf(pod), prefix)).refused;
}

/** The verdict lines of `files` after `spec` is applied, by file. */
async function applyAndJudge(pod: CasePod, spec: ConfigMapSpec, files: readonly string[]): Promise<Map<string, { outcome: unknown; msg: string; rolledBack: unknown; xdsVersion: unknown; level: unknown }>> {
  const counts = verdictCounts(pod, files);
  await pod.apply(spec);
  const lines = new Map<string, { outcome: unknown; msg: string; rolledBack: unknown; xdsVersion: unknown; level: unknown }>();
  for (const file of files) {
    const line = await nextVerdict(pod, file, counts.get(file) ?? 0);
    lines.set(file, { outcome: line.outcome, msg: String(line.msg), rolledBack: line.rolledBack, xdsVersion: line.xdsVersion, level: line.level });
  }
  return lines;
}

async function restartServesTheSame(pod: CasePod): Promise<void> {
  const { running, restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
  assert.ok(running.every((answer) => answer !== '-'), `the running Envoy serves: ${JSON.stringify(running)}`);
  assert.deepEqual(restarted, running, 'an Envoy restarted from the published directory serves what the running one served');
}

test('07 (EDS): an edit adding a cluster whose new eds.yaml Envoy refuses is refused: cds.yaml is put back, eds.yaml reported refused; fixing eds.yaml lands both', TIMEOUT, async () => {
  const spec = (cds: string, eds?: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy-cds.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': cds, ...(eds === undefined ? {} : { 'eds.yaml': eds }) });
  const pod = await startCase(FOLDER, spec('cds-v0.yaml'));
  try {
    const v0 = await nextVerdict(pod, 'cds.yaml', 0);
    assert.equal(v0.outcome, 'accepted', String(v0.msg));
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const cdsRefusalsBefore = await refusals(pod, CDS);
    const lines = await applyAndJudge(pod, spec('cds-v1-eds.yaml', 'eds-v1-hostname.yaml'), ['eds.yaml', 'cds.yaml']);
    const eds = lines.get('eds.yaml');
    const cds = lines.get('cds.yaml');
    assert.equal(eds?.outcome, 'rejected', eds?.msg);
    assert.equal(cds?.outcome, 'rejected', cds?.msg);
    assert.equal(cds.rolledBack, true, cds.msg);
    assert.match(cds.msg, /the subscription it opened \(cluster\.EnvoyNetCore\) refused eds\.yaml/);
    // eds.yaml stays published (a new key: nothing to put back) but no published file names it once cds.yaml is back:
    // Envoy does not use it, so its line is an error, not fatal.
    assert.match(eds.msg, /stays published; .* no published file names it (now|once cds\.yaml)/, eds.msg);
    assert.equal(eds.level, 50, eds.msg);
    // Envoy itself: cds.yaml was taken (no refusal of it), the subscription it opened refused eds.yaml
    // and never took it, and the rollback made Envoy run the version before again.
    assert.equal(await refusals(pod, CDS), cdsRefusalsBefore, 'Envoy refused no cds.yaml: the refusal is the EDS subscription it opened');
    // (The cluster went with the rollback, and its stats with it: what is left never counted a success.)
    assert.equal((await subscriptionCounters(envoyOf(pod), EDS)).success, 0);
    assert.equal((await subscriptionCounters(envoyOf(pod), CDS)).versionText, v0.xdsVersion, "Envoy's cds version_text is the version put back");
    // status says the reason as the verdict's line does: the watcher's reading of Envoy's counters, not Envoy's words.
    const status = await runCli(['status', '--to', pod.target]);
    assert.match(status.stdout, /^cds\.yaml \S+: From Envoy's counters: Envoy took cds\.yaml but the subscription it opened \(cluster\.EnvoyNetCore\) refused eds\.yaml/m, status.stdout);
    assert.doesNotMatch(status.stdout, /Envoy says: Envoy took/, status.stdout);
    // No line says cds.yaml was accepted afterwards.
    assert.ok(!pod.watcher.logs.some((l) => l.event === 'verdict' && l.file === 'cds.yaml' && l.xdsVersion === cds.xdsVersion && l.outcome === 'accepted'), 'cds.yaml judged accepted later');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    await restartServesTheSame(pod);
    // The operator fixes eds.yaml: the held cds.yaml is published again with it, and Envoy takes both.
    const fixed = await applyAndJudge(pod, spec('cds-v1-eds.yaml', 'eds-v1.yaml'), ['eds.yaml', 'cds.yaml']);
    assert.equal(fixed.get('eds.yaml')?.outcome, 'accepted', fixed.get('eds.yaml')?.msg);
    assert.equal(fixed.get('cds.yaml')?.outcome, 'accepted', fixed.get('cds.yaml')?.msg);
    assert.equal((await subscriptionCounters(envoyOf(pod), CDS)).versionText, fixed.get('cds.yaml')?.xdsVersion);
    await restartServesTheSame(pod);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('07 (EDS), the refused eds.yaml\'s key removed: the line says Envoy never took it and nothing names it; status no longer lists it as a refusal', TIMEOUT, async () => {
  const spec = (cds: string, eds?: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy-cds.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': cds, ...(eds === undefined ? {} : { 'eds.yaml': eds }) });
  const pod = await startCase(FOLDER, spec('cds-v0.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'cds.yaml', 0)).outcome, 'accepted');
    const lines = await applyAndJudge(pod, spec('cds-v1-eds.yaml', 'eds-v1-hostname.yaml'), ['eds.yaml', 'cds.yaml']);
    assert.equal(lines.get('eds.yaml')?.outcome, 'rejected', lines.get('eds.yaml')?.msg);
    assert.equal(lines.get('cds.yaml')?.rolledBack, true, lines.get('cds.yaml')?.msg);
    // The operator reverts: cds.yaml back to what Envoy runs, eds.yaml's key gone.
    await pod.apply(spec('cds-v0.yaml'));
    const removed = await pod.watcher.waitForLog((l) => l.file === 'eds.yaml' && String(l.msg).includes('no longer in the ConfigMap'), 'the removed key\'s line');
    assert.equal(String(removed.msg), 'eds.yaml is no longer in the ConfigMap: keeping the published copy, though Envoy never took it (it refused it) and no published file names it, so Envoy does not use it');
    // Envoy's own word: no EDS subscription reads it.
    assert.equal((await envoyOf(pod).stats('^cluster\\.EnvoyNetCore\\.')).size, 0, 'Envoy has no cluster reading eds.yaml');
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.doesNotMatch(status.stdout.split('WHY ENVOY REFUSED')[1] ?? '', /^eds\.yaml/m, status.stdout);
    assert.match(status.stdout, /\nREMOVED FROM THE CONFIGMAP\neds\.yaml is no longer in the ConfigMap: keeping the published copy, though Envoy never took it/, status.stdout);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('07 (EDS, with a route to it): the listener of the same change that routes to the refused cluster goes back with cds.yaml; the running and a restarted Envoy serve the version before', TIMEOUT, async () => {
  const before = { 'envoy.yaml': 'envoy-cds.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' };
  const pod = await startCase(FOLDER, before);
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const lines = await applyAndJudge(pod, { 'envoy.yaml': 'envoy-cds.yaml', 'lds.yaml': 'lds-eds-v1.yaml', 'cds.yaml': 'cds-v1-eds.yaml', 'eds.yaml': 'eds-v1-hostname.yaml' }, ['eds.yaml', 'cds.yaml']);
    assert.equal(lines.get('eds.yaml')?.outcome, 'rejected', lines.get('eds.yaml')?.msg);
    assert.equal(lines.get('cds.yaml')?.outcome, 'rejected', lines.get('cds.yaml')?.msg);
    // lds.yaml's last line puts it back with cds.yaml (Envoy may have taken it first, while the cluster existed).
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A again: lds.yaml went back with cds.yaml');
    const last = pod.watcher.logs.filter((l) => l.event === 'verdict' && l.file === 'lds.yaml').at(-1);
    assert.equal(last?.outcome, 'rejected', String(last?.msg));
    assert.equal(last.rolledBack, true, String(last.msg));
    assert.match(String(last.msg), /^Envoy took lds\.yaml version \S+, but it routes to cluster 'EnvoyNetCore', which only cds\.yaml version \S+ adds, and Envoy refused that version: \S+ goes back on disk with cds\.yaml/);
    assert.equal((await subscriptionCounters(envoyOf(pod), LDS)).versionText, last.previousXdsVersion, 'Envoy runs the lds.yaml put back');
    // status: the ConfigMap's version is refused (exit 1), and lds.yaml is named as what Envoy took and went back.
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stderr, /lds\.yaml \(Envoy took it; held back with cds\.yaml, which Envoy refused\)/, status.stderr);
    // Its row and the line below the table say it went back with cds.yaml, in the verdict line's words; not that Envoy refused it.
    assert.match(status.stdout, /^lds\.yaml .* took \S+ at \S+ \(\S+ ms\), went back with cds\.yaml, which Envoy refused$/m, status.stdout);
    assert.ok(status.stdout.includes(`WENT BACK WITH A CDS FILE ENVOY REFUSED (Envoy took these)\n${String(last.msg)}`), status.stdout);
    assert.doesNotMatch(status.stdout, /^lds\.yaml .*rejected/m, status.stdout);
    await restartServesTheSame(pod);
    // The operator fixes eds.yaml: the held cds.yaml and lds.yaml are published again with it, and Envoy takes all three.
    const fixed = await applyAndJudge(pod, { 'envoy.yaml': 'envoy-cds.yaml', 'lds.yaml': 'lds-eds-v1.yaml', 'cds.yaml': 'cds-v1-eds.yaml', 'eds.yaml': 'eds-v1.yaml' }, ['eds.yaml', 'cds.yaml', 'lds.yaml']);
    for (const [file, line] of fixed) assert.equal(line.outcome, 'accepted', `${file}: ${line.msg}`);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B, through the new cluster');
    await restartServesTheSame(pod);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('21-cds-refused-in-part: a cds.yaml Envoy refuses after applying the cluster an lds.yaml of the same change routes to goes back, and lds.yaml with it', TIMEOUT, async () => {
  const spec = (lds: string, cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });
  const pod = await startCase('21-cds-refused-in-part', spec('lds-v0.yaml', 'cds-v0.yaml'));
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const cdsRefusalsBefore = await refusals(pod, CDS);
    const lines = await applyAndJudge(pod, spec('lds-v1.yaml', 'cds-v1-partial.yaml'), ['cds.yaml', 'lds.yaml']);
    assert.equal(lines.get('cds.yaml')?.outcome, 'rejected', lines.get('cds.yaml')?.msg);
    assert.equal(await refusals(pod, CDS), cdsRefusalsBefore + 1, 'Envoy refused cds.yaml once');
    const lds = lines.get('lds.yaml');
    assert.equal(lds?.outcome, 'rejected', lds?.msg);
    assert.equal(lds.rolledBack, true, lds.msg);
    assert.match(lds.msg, /routes to cluster 'EnvoyNetCore', which only cds\.yaml version \S+ adds, and Envoy refused that version/);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A again');
    await restartServesTheSame(pod);
    // Without the duplicate, Envoy takes both.
    const fixed = await applyAndJudge(pod, spec('lds-v1.yaml', 'cds-v1.yaml'), ['cds.yaml', 'lds.yaml']);
    for (const [file, line] of fixed) assert.equal(line.outcome, 'accepted', `${file}: ${line.msg}`);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    await restartServesTheSame(pod);
  } finally {
    await pod.stop();
  }
});
