// Integers as Envoy 1.40 reads them (yaml-cpp: a plain `060` is octal 48, `0x3C` hex, `08` the text
// "08"), judged by the real binary through `copy` + `watch`: whether an edit rebuilds the listener
// that reads a Lua script (the script then reaches Envoy with it, or is held back), and the
// version_info Envoy reports. Fresh-user trial: `max_request_headers_kb: 060` with a new script held
// the script back "Envoy would not read it" while Envoy rebuilt the listener (disk was what Envoy ran).
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import { answer, envoyOf, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictCounts, verdictLines, waitServed } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';

const TIMEOUT = { timeout: 300_000 };
const LDS = 'listener_manager.lds';


const heldBackLines = (pod: CasePod, file: string): LogLine[] => pod.watcher.logs.filter((l) => l.event === 'held-back' && l.file === file);

/** After the sequence: an Envoy restarted from the published directory serves what the running one served. */
async function restartServesTheSame(pod: CasePod, probes: () => Promise<string>[]): Promise<void> {
  const { running, restarted } = await restartFromPublished(pod, async () => Promise.all(probes()));
  assert.ok(running.every((a) => a !== '-'), `the running Envoy serves: ${JSON.stringify(running)}`);
  assert.deepEqual(restarted, running, 'an Envoy restarted from the published directory serves what the running one served');
}

/**
 * Applies `spec` and waits for lds.yaml's verdict, and for script.lua's verdict or its held-back
 * line, whichever the watcher gives: returns both (`script` is a verdict line or a held-back line).
 */
async function edit(pod: CasePod, spec: ConfigMapSpec): Promise<{ lds: LogLine; script: LogLine }> {
  const before = verdictCounts(pod, ['lds.yaml', 'script.lua']);
  const held = heldBackLines(pod, 'script.lua').length;
  await pod.apply(spec);
  const lds = await nextVerdict(pod, 'lds.yaml', before.get('lds.yaml') ?? 0);
  await waitFor(() => verdictLines(pod, 'script.lua').length > (before.get('script.lua') ?? 0) || heldBackLines(pod, 'script.lua').length > held, `script.lua: a verdict or held back\n${pod.watcher.stdout.slice(-4000)}`);
  const script = heldBackLines(pod, 'script.lua')[held] ?? verdictLines(pod, 'script.lua')[before.get('script.lua') ?? 0];
  assert.ok(script);
  return { lds, script };
}

test('read-once (a listener edited max_request_headers_kb: 60 → 060 with a new script): 060 is 48 to Envoy, so Envoy rebuilds the listener and the script goes with it; 060 → 48 is no change, so the script is held back', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds-timeouts.yaml', 'script-v0.lua'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    await waitFor(() => verdictLines(pod, 'script.lua').length > 0, 'script.lua: its verdict at start');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0');
    const envoy = envoyOf(pod);
    const modified = await envoy.stat('listener_manager.listener_modified');

    const octal = await edit(pod, spec('lds-timeouts-octal.yaml', 'script-v1.lua'));
    assert.equal(octal.script.event, 'verdict', `script.lua is published with the listener Envoy rebuilds, not held back: ${String(octal.script.msg)}`);
    assert.equal(octal.lds.outcome, 'accepted', String(octal.lds.msg));
    assert.equal(octal.script.outcome, 'accepted', String(octal.script.msg));
    assert.equal(octal.script.judgedWith, 'lds.yaml');
    assert.equal(await envoy.stat('listener_manager.listener_modified'), modified + 1, 'Envoy rebuilt listener_0 (060 is 48, not 60)');
    const dump = (await (await fetch(`${envoy.adminUrl}/config_dump?resource=dynamic_listeners`)).text());
    assert.match(dump, /"max_request_headers_kb": 48\b/, 'Envoy runs max_request_headers_kb 48');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v1', 'lua v1: Envoy read the new script');
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v1.lua'));

    // 48 is what Envoy runs: the same listener, spelt otherwise. A new script is held back.
    const same = await edit(pod, spec('lds-timeouts-48.yaml', 'script-v0.lua'));
    assert.equal(same.lds.outcome, 'accepted', String(same.lds.msg));
    assert.equal(same.script.event, 'held-back', `script.lua: ${String(same.script.msg)}`);
    assert.match(String(same.script.msg), /^script\.lua held back: Envoy reads it only when it builds listener listener_0 of lds\.yaml/);
    assert.equal(await envoy.stat('listener_manager.listener_modified'), modified + 1, 'Envoy kept listener_0 (48 is what it runs)');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v1', 'lua v1: Envoy did not read the script again');
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v1.lua'), 'the published script is what Envoy runs');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('04-version-read-as-envoy (version_info: 08 and 0100000000000): Envoy reports "08" (not an integer to yaml-cpp) and "8589934592" (octal, beyond int32); each is published with a version of its own and accepted', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    for (const [fixture, shown, body] of [['lds-v6-not-octal.yaml', '08', '200 v6'], ['lds-v7-octal-int64.yaml', '8589934592', '200 v7']] as const) {
      const before = verdictLines(pod, 'lds.yaml').length;
      await pod.apply(spec(fixture));
      const line = await nextVerdict(pod, 'lds.yaml', before);
      assert.equal(line.outcome, 'accepted', String(line.msg));
      assert.match(String(line.xdsVersion), new RegExp(`^${shown}\\+sha256:[0-9a-f]{12}$`), String(line.msg));
      assert.equal((await subscriptionCounters(envoyOf(pod), LDS)).versionText, line.xdsVersion, "Envoy's version_text is the accepted version");
      await waitServed(() => served(envoyOf(pod), pod.ports.P0), body, fixture);
    }
  } finally {
    await pod.stop();
  }
});
