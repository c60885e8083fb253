// A Lua script published with an lds.yaml edit Envoy sees no change in goes back, and is held back
// saying which version of lds.yaml Envoy runs the listener reading it as (src/sync/verdict/reader-kept.ts).
// After an in-place update (a filter-chain-only change: `ListenerImpl::newListenerWithFilterChain`
// passes the running listener's `version_info`), Envoy's config dump keeps the older `version_info`
// while Envoy runs the listener from the later version. Fresh-user trial: the line said "still
// version V0" of a listener Envoy ran from V1. Real Envoy 1.40 judges, through `copy` + `watch`.
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUILT_MARGIN_MS } from '../../src/sync/verdict/reader-kept.js';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { waitFor } from '../sync/harness.js';
import type { EnvoyProcess } from './envoy.js';
import { answer, envoyOf, nextVerdict, restartFromPublished, startCase, subscriptionCounters, verdictCounts } from './verdict-cases.js';

const TIMEOUT = { timeout: 300_000 };
const LDS = 'listener_manager.lds';

/** listener_0 as Envoy's config dump lists it: `version_info` and `last_updated` (epoch ms) of its active state. */
async function listener0(envoy: EnvoyProcess): Promise<{ version?: string; updatedAtMs: number }> {
  const dump = (await envoy.configDump('resource=dynamic_listeners')) as { configs?: { name?: string; active_state?: { version_info?: string; last_updated?: string } }[] };
  const active = (dump.configs ?? []).find((l) => l.name === 'listener_0')?.active_state;
  return { ...(active?.version_info === undefined ? {} : { version: active.version_info }), updatedAtMs: Date.parse(active?.last_updated ?? '') };
}

const escape = (text: string): string => text.replace(/[.+*?()[\]\\^$|{}]/g, '\\$&');

test('18-file-a-resource-reads-once (an in-place update, then an edit Envoy sees no change in, with a new script): the script goes back and is held, and the lines name lds.yaml\'s version Envoy runs listener_0 as, not the older version_info its config dump keeps', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds.yaml', 'script-v0.lua'));
  try {
    const v0 = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(v0.outcome, 'accepted', String(v0.msg));
    await nextVerdict(pod, 'script.lua', 0);
    const envoy = envoyOf(pod);
    const built = await listener0(envoy);
    assert.equal(built.version, v0.xdsVersion);
    // Each edit comes after BUILT_MARGIN_MS from Envoy's last build of listener_0 (a build within it counts as built for the edit).
    await new Promise((resolve) => setTimeout(resolve, BUILT_MARGIN_MS + 300));

    // lds-v1.yaml changes listener_0's filter chain alone: Envoy updates it in place and reads script-v1.
    const inPlace = await envoy.stat('listener_manager.listener_in_place_updated');
    let counts = verdictCounts(pod, ['lds.yaml', 'script.lua']);
    await pod.apply(spec('lds-v1.yaml', 'script-v1.lua'));
    const v1 = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(v1.outcome, 'accepted', String(v1.msg));
    assert.equal((await nextVerdict(pod, 'script.lua', counts.get('script.lua') ?? 0)).outcome, 'accepted');
    assert.equal(await envoy.stat('listener_manager.listener_in_place_updated'), inPlace + 1, 'Envoy updated listener_0 in place');
    const updated = await listener0(envoy);
    assert.equal(updated.version, v0.xdsVersion, "Envoy's config dump keeps listener_0's version_info across the in-place update");
    assert.ok(updated.updatedAtMs > built.updatedAtMs, 'and moves its last_updated');
    assert.equal(await answer(pod.ports.P0, '/lua'), '200 lua-v1', 'Envoy runs listener_0 from lds-v1 with script-v1');
    await new Promise((resolve) => setTimeout(resolve, BUILT_MARGIN_MS + 300));

    // lds-v1 with a misspelt field (the same listener to Envoy) and script-v0: Envoy keeps listener_0.
    counts = verdictCounts(pod, ['lds.yaml', 'script.lua']);
    const seen = pod.watcher.logs.length;
    await pod.apply(spec('lds-v1-misspelt.yaml', 'script-v0.lua'));
    const v2 = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(v2.outcome, 'accepted', String(v2.msg));
    assert.equal((await subscriptionCounters(envoy, LDS)).versionText, v2.xdsVersion, 'Envoy took lds.yaml');
    assert.deepEqual(await listener0(envoy), updated, 'Envoy kept listener_0 as it runs');
    const line = await nextVerdict(pod, 'script.lua', counts.get('script.lua') ?? 0);
    assert.equal(line.outcome, 'unknown', String(line.msg));
    assert.equal(line.rolledBack, true, String(line.msg));
    const runs = `listener listener_0 of lds\\.yaml \\(as lds\\.yaml version ${escape(String(v1.xdsVersion))} has it, the last version Envoy accepted before; Envoy's config dump still says version_info ${escape(String(v0.xdsVersion))}, which Envoy keeps when it updates a listener in place or sees no change to a resource\\)`;
    assert.match(String(line.msg), new RegExp(`^script\\.lua version \\S+ rolled back with lds\\.yaml version ${escape(String(v2.xdsVersion))}, which Envoy accepted, but Envoy kept ${runs} as it runs: `), String(line.msg));
    assert.doesNotMatch(String(line.msg), /still version/, 'not the version_info alone');
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v1.lua'), 'the published script is what Envoy runs');
    await waitFor(() => pod.watcher.logs.slice(seen).some((l) => l.event === 'held-back' && l.file === 'script.lua'), 'script.lua held back');
    const held = pod.watcher.logs.slice(seen).find((l) => l.event === 'held-back' && l.file === 'script.lua');
    assert.match(String(held?.msg), new RegExp(`^script\\.lua held back: Envoy kept ${runs} as it runs when lds\\.yaml version \\S+ came with it: `), String(held?.msg));
    let row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'script.lua');
    for (let i = 0; i < 100 && row?.heldBack !== held?.msg; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'script.lua');
    }
    assert.equal(row?.heldBack, held?.msg, 'status says the same');
    assert.equal(await answer(pod.ports.P0, '/lua'), '200 lua-v1', 'Envoy did not read the script again');
    const { running, restarted } = await restartFromPublished(pod, async () => [await answer(pod.ports.P0, '/lua')]);
    assert.deepEqual(restarted, running, 'an Envoy restarted from the published directory serves what the running one served');
  } finally {
    await pod.stop();
  }
});
