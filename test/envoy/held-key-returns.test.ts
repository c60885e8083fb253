// A key removed from the ConfigMap and put back with the content Envoy refused (held: the version
// before was put back) is said, not silently held (src/sync/publish/published-log.ts
// heldOnReturnMessage; trial: re-adding rtds.yaml with its refused content printed nothing). Real
// Envoy 1.40, folder 21: lds-v1 routes listener_0 to EnvoyNetCore, which cds-v0 lacks.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyOf, nextVerdict, publishedVersion, served, startCase, verdictCounts, waitServed, withWatcherLines } from './verdict-cases.js';
import type { ConfigMapSpec } from './verdict-cases.js';

const FOLDER = '21-cds-refused-in-part';

test('a refused lds.yaml whose key is removed and put back with the same content: the watcher says it stays held back, and the version before stays published and served', { timeout: 300_000 }, async () => {
  const spec = (lds?: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml', ...(lds === undefined ? {} : { 'lds.yaml': lds }) });
  const pod = await startCase(FOLDER, spec('lds-v0.yaml'));
  try {
    const v0 = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(v0.outcome, 'accepted');
    const counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v1.yaml'));
    const refused = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.equal(refused.rolledBack, true);
    await pod.apply(spec());
    await pod.watcher.waitForLog((l) => l.file === 'lds.yaml' && String(l.msg).includes('no longer in the ConfigMap'), 'the removed key\'s line');
    await pod.apply(spec('lds-v1.yaml'));
    const back = await pod.watcher.waitForLog((l) => l.file === 'lds.yaml' && String(l.msg).includes('is back in the ConfigMap'), 'the returned key\'s line');
    assert.equal(String(back.msg), `lds.yaml is back in the ConfigMap with version ${String(refused.xdsVersion)}, which stays held back (Envoy refused it, or it went back with a file Envoy refused; its verdict line and status say which): the published lds.yaml stays`);
    assert.equal(await publishedVersion(pod, 'lds.yaml'), String(v0.xdsVersion));
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A from lds-v0');
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
