// Which pending files are judged through their Secret's re-read (src/sync/verdict/sds-reread.ts
// judgedBySecretReread), as a table over counters shaped as Envoy 1.40 reports them (corpus
// sequence new-tls-listener-sds, measured: a listener sharing a draining listener's SdsApi; its
// subscription keeps update_attempt 1, update_rejected 1, version_text '' while the Secret's files
// are re-read). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { judgedBySecretReread, rereadNote } from '../../../src/sync/verdict/sds-reread.js';
import type { RereadInput } from '../../../src/sync/verdict/sds-reread.js';

const envoy = (subs: Record<string, Partial<SubscriptionCounters>>, epoch?: number): EnvoyCounters => ({
  subscriptions: new Map(Object.entries(subs).map(([k, v]) => [k, { versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0, ...v }])),
  unknownFields: 0,
  sslContextUpdates: 0,
  ...(epoch === undefined ? {} : { epoch }),
});
const REFUSED = { attempt: 1, rejected: 1 };
const SDS = 'sds.server_cert';
const base: RereadInput = { notRenamed: true, own: [SDS], baseline: envoy({ [SDS]: REFUSED }, 1), now: envoy({ [SDS]: { ...REFUSED, keyRotationFailed: 2 } }, 1), afterRenames: true };

const cases: { name: string; input: Partial<RereadInput>; reread: boolean }[] = [
  { name: 'not renamed, its SDS subscription kept and counting no attempt since the baseline (measured)', input: {}, reread: true },
  { name: 'renamed by the pass: its subscription reloads it and its counters judge it', input: { notRenamed: false }, reread: false },
  { name: 'before Envoy answered a request sent after the renames', input: { afterRenames: false }, reread: false },
  { name: 'a subscription that opened anew (the SdsApi was gone) counts an attempt: its counters judge it', input: { now: envoy({ [SDS]: { attempt: 2, rejected: 1, success: 1, versionText: 'v' } }, 1) }, reread: false },
  { name: 'a subscription the baseline does not have: opened by this pass, its counters judge it', input: { baseline: envoy({}, 1), now: envoy({ [SDS]: { attempt: 1, success: 1 } }, 1) }, reread: false },
  { name: 'no baseline: nothing to compare', input: { baseline: undefined }, reread: false },
  { name: 'a baseline of another Envoy process: nothing to compare', input: { baseline: envoy({ [SDS]: REFUSED }, 0) }, reread: false },
  { name: 'no subscription reads the file', input: { own: [] }, reread: false },
  { name: 'not an SDS subscription (an RDS file a new listener names: no Secret to re-read)', input: { own: ['http.ingress.rds.r'], baseline: envoy({ 'http.ingress.rds.r': REFUSED }, 1), now: envoy({ 'http.ingress.rds.r': REFUSED }, 1) }, reread: false },
  { name: 'one of two SDS subscriptions reloaded: its counters judge the file', input: { own: [SDS, 'sds.other'], baseline: envoy({ [SDS]: REFUSED, 'sds.other': REFUSED }, 1), now: envoy({ [SDS]: REFUSED, 'sds.other': { attempt: 2, rejected: 1, success: 1 } }, 1) }, reread: false },
  { name: 'gone from the answer', input: { now: envoy({}, 1) }, reread: false },
];

for (const c of cases) {
  test(`judgedBySecretReread: ${c.name}`, () => {
    assert.equal(judgedBySecretReread({ ...base, ...c.input }), c.reread);
  });
}

test('rereadNote: says why the subscription shows no version, and what Envoy re-read', () => {
  assert.equal(rereadNote([SDS], ['cert.pem', 'key.pem']), "; its subscription sds.server_cert counted nothing (its version_text stays as it was): Envoy kept it for a listener, re-read cert.pem, key.pem and serves the Secret's certificate");
});
