// The hold of an lds.yaml that goes back with a refused cds.yaml (src/sync/verdict/withdrawn.ts), with
// a real Envoy 1.40, folder 21 (a cds.yaml Envoy refuses in part, "duplicate cluster", after applying
// the cluster an lds.yaml of the same change routes to). lds.yaml is held until a key the cds.yaml
// refusal depends on changes (its hold's keys: cds.yaml, nothing else here), or Envoy accepts cds.yaml.
// The keys never reached the hold (poll.ts passed the verdict as given, before finish.ts worked
// them out): any key released it, so a pass for another key gave lds.yaml to Envoy again, which
// refused it ("route: unknown cluster 'EnvoyNetCore'": the cds.yaml put back lacks it).
// Second: a cds.yaml renamed by a later pass whose baseline Envoy has not answered yet is handed to
// the verdicts only with that answer (baseline-reads.ts); until then no cds.yaml was pending, so
// lds.yaml's acceptance did not wait for it (never-read.ts waitedFor `queued`).
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../sync/harness.js';
import { sleep } from './envoy.js';
import { envoyOf, nextVerdict, publishedVersion, quiet, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, verdictLines, waitServed, withWatcherLines } from './verdict-cases.js';
import type { ConfigMapSpec } from './verdict-cases.js';

const LDS = 'listener_manager.lds';
const spec = (lds: string, cds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });

test('21: an lds.yaml withdrawn with a refused cds.yaml stays held when a key its refusal does not depend on changes; fixing cds.yaml lands both', { timeout: 300_000 }, async () => {
  const pod = await startCase('21-cds-refused-in-part', spec('lds-v0.yaml', 'cds-v0.yaml'));
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const v0 = await publishedVersion(pod, 'lds.yaml');
    const counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v1-partial.yaml'));
    const lds = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(lds.outcome, 'rejected', String(lds.msg));
    assert.equal(lds.rolledBack, true, String(lds.msg));
    assert.match(String(lds.msg), /routes to cluster 'EnvoyNetCore', which only cds\.yaml version \S+ adds, and Envoy refused that version/);
    assert.match(String(lds.msg), /held until the ConfigMap changes cds\.yaml, or Envoy accepts cds\.yaml$/, 'the keys of the cds.yaml refusal (duplicate cluster: cds.yaml alone)');
    await quiet(pod);
    assert.equal(await publishedVersion(pod, 'lds.yaml'), v0, 'lds-v0 back on disk');
    const lines = verdictLines(pod, 'lds.yaml').length;
    const refused = (await subscriptionCounters(envoyOf(pod), LDS)).refused;
    // A pass for another key; the ConfigMap's cds.yaml is still the one Envoy refused.
    await pod.writer.write({ ...pod.configMap, 'note.txt': 'another key\n' });
    await waitFor(() => existsSync(join(pod.target, 'note.txt')), 'note.txt published');
    await quiet(pod);
    assert.equal(verdictLines(pod, 'lds.yaml').length, lines, `no lds.yaml verdict: still held (${verdictLines(pod, 'lds.yaml').slice(lines).map((l) => String(l.msg)).join(' | ')})`);
    assert.equal((await subscriptionCounters(envoyOf(pod), LDS)).refused, refused, 'Envoy was not given lds.yaml again');
    assert.equal(await publishedVersion(pod, 'lds.yaml'), v0);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A still');
    // cds.yaml fixed: the hold ends, and Envoy takes both.
    const fixed = verdictCounts(pod, ['lds.yaml', 'cds.yaml']);
    await pod.apply(spec('lds-v1.yaml', 'cds-v1.yaml'));
    for (const file of ['cds.yaml', 'lds.yaml']) {
      const line = await nextVerdict(pod, file, fixed.get(file) ?? 0);
      assert.equal(line.outcome, 'accepted', `${file}: ${String(line.msg)}`);
    }
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('21 with Envoy stopped across two passes (their baselines answered late): lds.yaml does not stay accepted with a cds.yaml Envoy refused; the running Envoy and one restarted from the directory serve the same', { timeout: 300_000 }, async () => {
  const pod = await startCase('21-cds-refused-in-part', spec('lds-v0.yaml', 'cds-v0.yaml'));
  try {
    for (const file of ['lds.yaml', 'cds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).outcome, 'accepted');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const v0 = await publishedVersion(pod, 'lds.yaml');
    const published = (file: string): number => pod.watcher.logs.filter((l) => l.msg === 'published' && l.file === file).length;
    const [cds0, lds0] = [published('cds.yaml'), published('lds.yaml')];
    const { pid } = envoyOf(pod).process;
    process.kill(pid, 'SIGSTOP');
    try {
      await pod.apply(spec('lds-v1.yaml', 'cds-v1-partial.yaml'));
      await waitFor(() => published('lds.yaml') > lds0 && published('cds.yaml') > cds0, 'the first pass renamed');
      // Another cds.yaml Envoy refuses in part (the same clusters and a comment), renamed by a second pass.
      const again = { ...pod.configMap, 'cds.yaml': `${pod.configMap['cds.yaml'] ?? ''}# the same clusters, pasted again\n` };
      await pod.writer.write(again);
      pod.configMap = again;
      await waitFor(() => published('cds.yaml') > cds0 + 1, 'the second pass renamed');
      await sleep(100); // past the second pass's log line, into its hand-over (tracker.ts published)
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => verdictLines(pod, 'lds.yaml').some((l) => l.xdsVersion !== v0), 'a verdict on lds-v1');
    await quiet(pod);
    const said = verdictLines(pod, 'lds.yaml').filter((l) => l.xdsVersion !== v0).map((l) => `${String(l.outcome)}: ${String(l.msg)}`);
    assert.equal(await publishedVersion(pod, 'lds.yaml'), v0, `lds-v0 back on disk with cds-v0 (${said.join(' | ')})`);
    const { running, restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
    assert.deepEqual(running, ['200 A'], 'the running Envoy serves A (503: lds-v1 kept without its cluster)');
    assert.deepEqual(restarted, running, 'an Envoy restarted from the published directory serves the same');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
