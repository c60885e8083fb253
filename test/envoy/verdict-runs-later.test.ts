// A refusal by an Envoy that runs a LATER version than the last one judged accepted: the state a
// rapid good/bad edit leaves when the good version's verdict never comes (a newer publish replaced it
// before Envoy answered; fresh-user trial, once in 40 good/bad/fix sequences). Envoy's subscription
// reports that version (`version_text` moves only with an accepted update), so the refusal's line
// must not say "this Envoy process never loaded the last accepted version". Made deterministic here:
// the good version is renamed into the published directory behind the watcher, stamped exactly as
// the watcher publishes it, and Envoy accepts it; then the ConfigMap gets a version Envoy refuses.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { stampVersion } from '../../src/sync/envoy/version-stamp.js';
import { waitFor } from '../sync/harness.js';
import { envoyOf, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictLines, waitServed } from './verdict-cases.js';

const LDS = 'listener_manager.lds';

test('a refusal while Envoy runs a later version it accepted (no verdict recorded it): the line says Envoy keeps running that version, not that it never loaded the last accepted one', { timeout: 300_000 }, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v1-date.yaml'));
  try {
    const first = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(first.outcome, 'accepted', String(first.msg));
    // The good version, published with no verdict recorded (as when a newer publish replaced it first).
    const source = Buffer.from(await pod.fixture('lds-v2-float.yaml'));
    const later = stampVersion('lds.yaml', source, createHash('sha256').update(source).digest('hex'));
    assert.ok(later.version);
    const tmp = join(pod.target, '.lds.yaml.later');
    await writeFile(tmp, later.content);
    await rename(tmp, join(pod.target, 'lds.yaml'));
    await waitFor(async () => (await subscriptionCounters(envoyOf(pod), LDS)).versionText === later.version, 'Envoy accepted the later version');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'v2');

    const before = verdictLines(pod, 'lds.yaml').length;
    await pod.apply(spec('lds-v3-float-bad.yaml'));
    const line = await nextVerdict(pod, 'lds.yaml', before);
    assert.equal(line.outcome, 'rejected', String(line.msg));
    assert.equal(line.rolledBack, true, String(line.msg));
    assert.doesNotMatch(String(line.msg), /never loaded/, String(line.msg));
    assert.match(String(line.msg), new RegExp(`^Envoy rejected lds\\.yaml version \\S+: it keeps running ${later.version.replace(/[.+]/g, '\\$&')}, a later version it accepted \\(published after ${String(first.xdsVersion).replace(/[.+]/g, '\\$&')}, before any verdict on it was recorded\\); ${String(first.xdsVersion).replace(/[.+]/g, '\\$&')}, the last version judged accepted, is put back on disk and Envoy loads it`), String(line.msg));
    // Envoy then loads what was put back, and serves it; a restarted Envoy serves the same.
    await waitFor(async () => (await subscriptionCounters(envoyOf(pod), LDS)).versionText === first.xdsVersion, 'Envoy loaded the version put back');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1 put back');
    const { running, restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
    assert.deepEqual(restarted, running);
  } finally {
    await pod.stop();
  }
});
