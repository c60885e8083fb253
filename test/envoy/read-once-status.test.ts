// `status`'s ENVOY RUNS for a file Envoy reads once, when it builds the resource reading it (a Lua
// script by `filename`): no subscription of the file reports a version, so the column says the
// version accepted with its reader (src/sync/verdict/status.ts runsWithReader). Checked against what
// the real Envoy 1.40 serves through `copy` + `watch`. Fresh-user trial: the column said `-` for a
// script Envoy ran.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { runCli, waitFor } from '../sync/harness.js';
import { answer, nextVerdict, startCase, waitServed } from './verdict-cases.js';

const TIMEOUT = { timeout: 300_000 };
const shown = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;

test('18-file-a-resource-reads-once: ENVOY RUNS of script.lua is the version accepted with lds.yaml, the one Envoy serves, also while an edit of it is held back', TIMEOUT, async () => {
  const spec = (script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('script-v0.lua'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    const script = await nextVerdict(pod, 'script.lua', 0);
    assert.equal(script.outcome, 'accepted', String(script.msg));
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'Envoy runs script-v0');
    const v0 = shown(await pod.fixture('script-v0.lua'));
    const row = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === 'script.lua');
    await waitFor(async () => (await row())?.withReader !== undefined, "script.lua's verdict in status", 10_000).catch(() => undefined);
    const withReader = (await row())?.withReader;
    assert.ok(withReader !== undefined && 'accepted' in withReader, JSON.stringify(withReader));
    assert.equal(withReader.accepted, v0);
    let table = await runCli(['status', '--to', pod.target]);
    assert.match(table.stdout, new RegExp(`^script\\.lua +${v0} +${v0} +${v0} \\(accepted with its reader\\) +accepted`, 'm'), table.stdout);

    // script-v1 alone: held back (Envoy would not read it); Envoy still runs script-v0, and the column says so.
    await pod.apply(spec('script-v1.lua'));
    await waitFor(() => pod.watcher.logs.some((l) => l.event === 'held-back' && l.file === 'script.lua'), 'script.lua held back');
    await waitFor(async () => (await row())?.heldBack !== undefined, 'held back in status', 10_000).catch(() => undefined);
    table = await runCli(['status', '--to', pod.target]);
    const v1 = shown(await pod.fixture('script-v1.lua'));
    assert.match(table.stdout, new RegExp(`^script\\.lua +${v1} \\(held back, see below\\) +${v0} +${v0} \\(accepted with its reader\\) `, 'm'), table.stdout);
    assert.equal(await answer(pod.ports.P0, '/lua'), '200 lua-v0', 'Envoy runs what the column says');
  } finally {
    await pod.stop();
  }
});
