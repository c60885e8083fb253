// A new rds.yaml Envoy refuses, published with the lds.yaml edit that names it: lds.yaml goes back
// to its last accepted version, which names no rds.yaml, so nothing on disk reads the refused
// rds.yaml that stays published. Its line and Event say so, not "a restarted Envoy will refuse it
// again", and an Envoy restarted from the published directory shows it: no RDS subscription at all.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EventReason } from '../../src/sync/watch/reporters.js';
import { envoyOf, eventOfLine, nextVerdict, restartFromPublished, served, startCase, subscriptionCounters, verdictLines, waitServed } from './verdict-cases.js';

const TIMEOUT = { timeout: 300_000 };
const RDS = 'http.ingress_http.rds.local_route';

test('01 (RDS) with a refused new rds.yaml: lds.yaml is rolled back, and the refusal of rds.yaml says no published file names it (a restarted Envoy does not read it), not that a restarted Envoy will refuse it', TIMEOUT, async () => {
  const base = { 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml' };
  const pod = await startCase('01-publish-order-new-referenced-file', { ...base, 'lds.yaml': 'lds-v0.yaml' });
  try {
    await nextVerdict(pod, 'lds.yaml', 0);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0');
    const ldsBefore = verdictLines(pod, 'lds.yaml').length;
    await pod.apply({ ...base, 'lds.yaml': 'lds-v1-rds.yaml', 'rds.yaml': 'rds-v1-refused.yaml' });
    const rds = await nextVerdict(pod, 'rds.yaml', 0);
    const lds = await nextVerdict(pod, 'lds.yaml', ldsBefore);
    // Envoy's own word: the subscription lds.yaml opened refused rds.yaml (status 700), and lds.yaml went back.
    assert.deepEqual([(await subscriptionCounters(envoyOf(pod), RDS)).refused, (await subscriptionCounters(envoyOf(pod), RDS)).success], [1, 0]);
    assert.equal([lds.outcome, lds.rolledBack].join(' '), 'rejected true', String(lds.msg));
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0 back');
    assert.equal(rds.outcome, 'rejected');
    // The refusal of rds.yaml waits for lds.yaml, which names it (refusal-cause.ts namesIt): lds.yaml is back by then.
    const said = 'Envoy runs WITHOUT the resources of rds.yaml, and no published file names it now, so a restarted Envoy does not read it; fix the ConfigMap.';
    assert.ok(String(rds.msg).includes(said), String(rds.msg));
    assert.doesNotMatch(String(rds.msg), /restarted Envoy will refuse/);
    // Envoy does not use it: an error line, not fatal (fatal: a file Envoy reads, with nothing accepted before it).
    assert.equal(rds.level, 50, String(rds.msg));
    const event = eventOfLine(rds, 'rds.yaml');
    assert.equal(event.reason, EventReason.rejected);
    assert.ok(event.message.includes(said), event.message);
    // What the line says of a restart, Envoy shows: restarted from the published directory, it serves
    // v0 and opens no RDS subscription (rds.yaml is read by nothing).
    const { restarted } = await restartFromPublished(pod, async () => [await served(envoyOf(pod), pod.ports.P0)]);
    assert.deepEqual(restarted, ['200 v0']);
    assert.equal((await envoyOf(pod).stats('\\.rds\\.')).size, 0, 'a restarted Envoy has no RDS subscription');
  } finally {
    await pod.stop();
  }
});
