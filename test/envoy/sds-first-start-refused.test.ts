// A new Pod whose certificate and key do not match (folder 08's cert-a.pem with key-b.pem): Envoy
// 1.40 refuses sds.yaml at start (sds.server_cert.update_rejected 1) and builds no TLS context from
// the pair. Fresh-user trial (issue 18): `status` showed `-` for cert.pem and key.pem while the
// pair's refusal was known; once key.pem was fixed, the unchanged cert.pem was said accepted "in
// 11 s", measured from the Pod's start, not from the rename that made Envoy read it again.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { runCli, waitFor } from '../sync/harness.js';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { envoyOf, nextVerdict, served, startCase, subscriptionCounters, verdictLines, waitServed, withWatcherLines } from './verdict-cases.js';

const spec = (cert: string, key: string) => ({ 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': cert, 'key.pem': key });

test('a first start with a pair that does not match: the pair\'s rows say Envoy refused sds.yaml, which reads them; the key fixed, the unchanged certificate is timed from that rename', { timeout: 300_000 }, async () => {
  const pod = await startCase('08-sds-named-files', spec('cert-a.pem', 'key-b.pem'));
  try {
    const sds = await nextVerdict(pod, 'sds.yaml', 0);
    assert.equal(sds.outcome, 'rejected', String(sds.msg));
    assert.equal((await subscriptionCounters(envoyOf(pod), 'sds.server_cert')).refused, 1, "Envoy's sds.server_cert.update_rejected");
    await waitFor(async () => (await gatherStatus(pod.target)).files.find((f) => f.file === 'sds.yaml')?.verdict !== undefined, "sds.yaml's verdict in status", 10_000);
    const status = await runCli(['status', '--to', pod.target]);
    for (const file of ['cert.pem', 'key.pem']) {
      assert.match(status.stdout, new RegExp(`^${file.replace('.', '\\.')} +\\S+ +\\S+ +\\(none accepted with its reader\\) +none yet: Envoy refused sds\\.yaml, which reads it$`, 'm'), status.stdout);
    }
    assert.equal(verdictLines(pod, 'cert.pem').length, 0, 'no verdict on cert.pem yet: Envoy built nothing from it');

    // The key fixed: Envoy re-reads the pair on the rename of key.pem and takes it.
    const applied = Date.now();
    await pod.apply(spec('cert-a.pem', 'key-a.pem'));
    const key = await nextVerdict(pod, 'key.pem', 0);
    const cert = await nextVerdict(pod, 'cert.pem', 0);
    assert.deepEqual([key.outcome, cert.outcome], ['accepted', 'accepted'], `${String(key.msg)}\n${String(cert.msg)}`);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-A', 'cert A');
    // Timed from a rename after the edit, not from the watcher's start (its line came `time - applied` ms after the edit).
    assert.ok(typeof cert.latencyMs === 'number' && cert.latencyMs <= Number(cert.time) - applied + 1, `cert.pem latency ${String(cert.latencyMs)} ms, ${String(Number(cert.time) - applied)} ms after the edit: ${String(cert.msg)}`);
  } catch (err) {
    throw withWatcherLines(pod, err);
  } finally {
    await pod.stop();
  }
});
