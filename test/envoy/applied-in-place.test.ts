// What a refused lds.yaml's verdict line says Envoy runs of it (src/sync/verdict/applied.ts,
// ran-from.ts), against a real Envoy 1.40: folder 23-listener-updated-in-place. Envoy applies an LDS
// update's listeners one by one and counts the update `update_rejected` when one fails (here a
// listener on the port Envoy's admin listener holds: "cannot bind"). A listener whose filter chains
// alone changed is updated in place, and Envoy's config dump keeps its OLD version_info (only
// last_updated moves); an unchanged listener is skipped and keeps both. The line must name
// listener_0 as running this version whenever Envoy serves this version's listener_0 (fresh-user
// trial: "Envoy runs none of the 2 listeners of lds.yaml; it still runs an earlier version of
// listener_0" while Envoy served the new body).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyProcess } from './envoy.js';
import { envoyOf, nextVerdict, publishedVersion, quiet, served, startCase, verdictCounts, verdictLines, waitServed, withWatcherLines } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';
import { runCli } from '../sync/harness.js';

const TIMEOUT = { timeout: 300_000 };
const FOLDER = '23-listener-updated-in-place';
const spec = (lds: string, cds = 'cds-v0.yaml'): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });
const RUNS_LISTENER_0 = /Envoy runs 1 of the 2 listeners of lds\.yaml \(listener_0\) and refused the other/;

interface ListenerState { version: string | undefined; updated: string | undefined; refused: string | undefined }

interface Entry { name?: string; active_state?: { version_info?: string; last_updated?: string }; error_state?: { last_update_attempt?: string } }

/** listener_0's active_state and listener_taken's error_state, as Envoy's config dump reports them. */
async function dumped(envoy: EnvoyProcess): Promise<{ listener0: ListenerState; taken: ListenerState }> {
  const dump = (await envoy.configDump('resource=dynamic_listeners')) as { configs?: Entry[] };
  const of = (name: string): ListenerState => {
    const entry = dump.configs?.find((c) => c.name === name);
    return { version: entry?.active_state?.version_info, updated: entry?.active_state?.last_updated, refused: entry?.error_state?.last_update_attempt };
  };
  return { listener0: of('listener_0'), taken: of('listener_taken') };
}

/** Applies `lds` (and `cds`) and returns the next verdict line on `file`. */
async function edit(pod: CasePod, lds: string, cds?: string, file = 'lds.yaml'): Promise<{ outcome: unknown; msg: string; version: string }> {
  const before = verdictCounts(pod, [file]).get(file) ?? 0;
  await pod.apply(spec(lds, cds));
  const line = await nextVerdict(pod, file, before);
  return { outcome: line.outcome, msg: String(line.msg), version: String(line.xdsVersion) };
}

test('23-listener-updated-in-place: a refused lds.yaml whose listener_0 Envoy updated in place, then left unchanged, says Envoy runs listener_0 of it and refused the other, as Envoy serves it', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1-port-taken.yaml'));
  try {
    const envoy = envoyOf(pod);
    // v1, refused at start in part: Envoy builds listener_0 from v1 and cannot bind listener_taken.
    const v1 = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(v1.outcome, 'rejected', String(v1.msg));
    assert.match(String(v1.msg), RUNS_LISTENER_0);
    await waitServed(() => served(envoy, pod.ports.P0), '200 v1', 'listener_0 of v1');
    const atV1 = await dumped(envoy);
    assert.equal(atV1.listener0.version, String(v1.xdsVersion), 'built at start from v1');
    assert.ok(atV1.taken.refused !== undefined, 'Envoy refused listener_taken (its error_state)');

    // v2: listener_0's body changed (its filter chains only): Envoy updates it in place.
    const inPlaceBefore = await envoy.stat('listener_manager.listener_in_place_updated');
    const v2 = await edit(pod, 'lds-v2-in-place-port-taken.yaml');
    assert.equal(v2.outcome, 'rejected', v2.msg);
    await waitServed(() => served(envoy, pod.ports.P0), '200 v2', 'listener_0 of v2, updated in place');
    const atV2 = await dumped(envoy);
    assert.equal(await envoy.stat('listener_manager.listener_in_place_updated'), inPlaceBefore + 1, 'Envoy counted an in-place update');
    // Envoy's facts: the dump keeps v1's version_info for the listener it serves from v2; last_updated moves.
    assert.equal(atV2.listener0.version, String(v1.xdsVersion), 'an in-place update keeps the old version_info (ListenerImpl::newListenerWithFilterChain)');
    assert.notEqual(atV2.listener0.updated, atV1.listener0.updated, 'last_updated moves (ListenerImpl::initialize)');
    assert.ok(atV2.taken.refused !== undefined && atV2.taken.refused !== atV1.taken.refused, 'listener_taken refused again');
    assert.match(v2.msg, RUNS_LISTENER_0);
    assert.doesNotMatch(v2.msg, /earlier version|runs none/);

    // v3: listener_0 as v2 has it, listener_taken changed: Envoy skips listener_0 (same hash) and serves it as before.
    const v3 = await edit(pod, 'lds-v3-unchanged-port-taken.yaml');
    assert.equal(v3.outcome, 'rejected', v3.msg);
    assert.equal(await served(envoy, pod.ports.P0), '200 v2');
    const atV3 = await dumped(envoy);
    assert.deepEqual([atV3.listener0.version, atV3.listener0.updated], [atV2.listener0.version, atV2.listener0.updated], 'an unchanged listener is skipped: version_info and last_updated stay');
    assert.ok(atV3.taken.refused !== undefined && atV3.taken.refused !== atV2.taken.refused, 'listener_taken refused again');
    assert.match(v3.msg, RUNS_LISTENER_0);
    assert.doesNotMatch(v3.msg, /earlier version|runs none/);
    // status: lds.yaml's subscription has no version (Envoy accepted none), yet Envoy runs listener_0 of it (trial 3, H4: '(none)').
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stdout, /^lds\.yaml +\S+ \(refused[^)]*\) +\S+ +\(none\), runs 1 of its 2 listeners \(listener_0\) +rejected /m, status.stdout);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('23-listener-updated-in-place (v1 accepted first, the same edit): the refused edit is rolled back, the line says Envoy keeps running v1, and Envoy serves v1 again', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml'));
  try {
    const envoy = envoyOf(pod);
    const v1 = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(v1.outcome, 'accepted', String(v1.msg));
    await waitServed(() => served(envoy, pod.ports.P0), '200 v1', 'listener_0 of v1');
    // Envoy serves v2's listener_0 until the rollback's state-of-the-world update puts v1's back (docs/sync.md):
    // this line says what Envoy runs after it, and claims nothing of listener_0 from v2.
    const v2 = await edit(pod, 'lds-v2-in-place-port-taken.yaml');
    assert.equal(v2.outcome, 'rejected', v2.msg);
    assert.ok(v2.msg.startsWith(`Envoy rejected lds.yaml version ${v2.version}: it keeps running ${String(v1.xdsVersion)}, which is back on disk`), v2.msg);
    await waitServed(() => served(envoy, pod.ports.P0), '200 v1', 'listener_0 of v1, put back');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});

test('23-listener-updated-in-place (CDS): a refused cds.yaml whose cluster c1 Envoy skipped as unchanged says Envoy runs c1 of it: Envoy keeps c1\'s version_info of the update that built it', TIMEOUT, async () => {
  const pod = await startCase(FOLDER, spec('lds-v1.yaml', 'cds-v1-duplicate.yaml'));
  try {
    const envoy = envoyOf(pod);
    // cds.yaml refused at start; once lds.yaml is accepted the watcher renames it again (a new
    // version_info, the same clusters), and that version's line is the last.
    await nextVerdict(pod, 'cds.yaml', 0);
    await quiet(pod);
    const v1 = verdictLines(pod, 'cds.yaml').at(-1);
    assert.equal(v1?.outcome, 'rejected', String(v1?.msg));
    assert.equal(v1.xdsVersion, await publishedVersion(pod, 'cds.yaml'));
    assert.match(String(v1.msg), /Envoy runs 2 of the 3 clusters of cds\.yaml \((c1, shop|shop, c1)\) and refused the other/);
    const clusters = async (): Promise<Map<string, { version?: string; updated?: string }>> => {
      const dump = (await envoy.configDump('resource=dynamic_active_clusters')) as { configs?: { cluster?: { name?: string }; version_info?: string; last_updated?: string }[] };
      return new Map((dump.configs ?? []).map((c) => [String(c.cluster?.name), { version: c.version_info, updated: c.last_updated }]));
    };
    const atV1 = await clusters();
    const v2 = await edit(pod, 'lds-v1.yaml', 'cds-v2-duplicate-c1-unchanged.yaml', 'cds.yaml');
    assert.equal(v2.outcome, 'rejected', v2.msg);
    const atV2 = await clusters();
    // Envoy's facts: c1, unchanged, is skipped (its version_info and last_updated stay); shop, changed, takes v2's.
    assert.deepEqual(atV2.get('c1'), atV1.get('c1'), 'an unchanged cluster is skipped (ClusterManagerImpl::addOrUpdateCluster blockUpdate)');
    assert.equal(atV2.get('shop')?.version, v2.version, 'a changed cluster takes the update\'s version_info, refused update or not');
    assert.match(v2.msg, /Envoy runs 2 of the 3 clusters of cds\.yaml \((c1, shop|shop, c1)\) and refused the other/);
    assert.doesNotMatch(v2.msg, /earlier version/);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
