// A watcher upgraded under a running Pod starts from a state file an older watcher wrote: its holds
// have no `refused.dependsOn` (the keys whose change could change Envoy's refusal). Such a hold is
// decided from the reason stored with it (src/sync/verdict/restored-holds.ts), so an unrelated
// edit does not publish content Envoy refused for reasons no other file can change. Real Envoy 1.40
// judges: its own refusal counter says whether it was given the refused file again.
import { strict as assert } from 'node:assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { VerdictState } from '../../src/sync/verdict/state.js';
import { envoyOf, nextVerdict, startCase, subscriptionCounters, verdictLines } from './verdict-cases.js';

const TIMEOUT = { timeout: 300_000 };
const LDS = 'listener_manager.lds';
const CDS = 'cluster_manager.cds';

test('a hold from a state file in the old shape (no dependsOn): a refusal of the content alone stays held through an unrelated edit Envoy accepts (cds.yaml gains a cluster); Envoy is not given the refused lds.yaml again', TIMEOUT, async () => {
  const spec = (lds: string, cds = 'cds-v0.yaml'): Record<string, string> => ({
    'envoy.yaml': 'envoy.yaml',
    'cds.yaml': cds,
    'lds.yaml': lds,
    ...(cds === 'cds-v0.yaml' ? {} : { 'eds.yaml': 'eds-v1.yaml' }),
  });
  const pod = await startCase('01-publish-order-new-referenced-file', spec('lds-v0.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    assert.equal((await nextVerdict(pod, 'cds.yaml', 0)).outcome, 'accepted');
    // Envoy cannot read it as a DiscoveryResponse (update_failure): the bytes alone decide.
    await pod.apply(spec('../cases/envoy-rejects-parses-fine.lds.yaml'));
    const refused = await nextVerdict(pod, 'lds.yaml', 1);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    const envoy = envoyOf(pod);
    const failures = (await subscriptionCounters(envoy, LDS)).refused;
    const rolledBack = await readFile(join(pod.target, 'lds.yaml'), 'utf8');

    // The state file as a watcher before `dependsOn` wrote it: the refusal and its reason, no keys.
    await pod.watcher.stop();
    const statePath = join(pod.target, '..envoy-xds-verdict', 'state.json');
    const state = JSON.parse(await readFile(statePath, 'utf8')) as VerdictState;
    const held = state.files['lds.yaml']?.refused;
    assert.ok(held !== undefined, 'the state file holds the refusal');
    assert.deepEqual(held.dependsOn, [], 'this watcher records that no other key can change it');
    assert.match(String(held.why?.envoyLog), /^Filesystem config update failure/);
    delete held.dependsOn;
    await writeFile(statePath, JSON.stringify(state, null, 2));
    await pod.restartWatcher();
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted', 'the rolled-back lds.yaml on disk, judged at start');

    // Edits of another key, which Envoy takes: cds.yaml gains an EDS cluster (and its eds.yaml),
    // then loses it. The second one's verdict comes after every rename of the first's pass.
    for (const cdsFile of ['cds-v1-eds.yaml', 'cds-v0.yaml']) {
      const cdsBefore = (await subscriptionCounters(envoy, CDS)).success;
      const cdsLines = verdictLines(pod, 'cds.yaml').length;
      await pod.apply(spec('../cases/envoy-rejects-parses-fine.lds.yaml', cdsFile));
      const cds = await nextVerdict(pod, 'cds.yaml', cdsLines);
      assert.equal(cds.outcome, 'accepted', String(cds.msg));
      assert.ok((await subscriptionCounters(envoy, CDS)).success > cdsBefore, `Envoy took ${cdsFile}`);
    }

    const again = pod.watcher.logs.filter((l) => String(l.msg).includes('publishing the refused version again'));
    assert.deepEqual(again.map((l) => l.msg), [], 'the hold is not released by the unrelated edits');
    const published = pod.watcher.logs.filter((l) => l.msg === 'published' && l.file === 'lds.yaml');
    assert.deepEqual(published, [], 'the refused lds.yaml is not published again');
    assert.equal(verdictLines(pod, 'lds.yaml').length, 1, 'no new verdict on lds.yaml');
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), rolledBack, 'the disk keeps what Envoy runs');
    assert.equal((await subscriptionCounters(envoy, LDS)).refused, failures, 'Envoy was not given the refused lds.yaml again');
  } finally {
    await pod.stop();
  }
});
