// Which reading Envoy answered first (verdict/reading-order.ts): a poll round's reading answered
// before a publish's baseline must not judge it. Table tests over readings shaped as envoy/admin.ts
// makes them, with the counters of test/envoy/plain-dir-bursts.test.ts's failed burst 11.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { judge } from '../../../src/sync/verdict/judge.js';
import { answeredBefore } from '../../../src/sync/verdict/reading-order.js';

const LDS = 'listener_manager.lds';
const reading = (answeredAt: number | undefined, lds: { versionText: string; attempt: number; success: number; failure: number }): EnvoyCounters => ({
  subscriptions: new Map([[LDS, { rejected: 0, ...lds }]]),
  unknownFields: 0,
  sslContextUpdates: 0,
  epoch: 0,
  ...(answeredAt === undefined ? {} : { sentAt: answeredAt - 1, answeredAt }),
});

test('answeredBefore: only when both answers are timed and the reading came first', () => {
  const at = (ms: number | undefined) => (ms === undefined ? {} : { answeredAt: ms });
  const cases: [number | undefined, number | undefined, boolean][] = [
    [100, 200, true],
    [200, 100, false],
    [150, 150, false], // the same reading (the last poll's standing in as the baseline)
    [undefined, 100, false],
    [100, undefined, false],
  ];
  for (const [r, b, expected] of cases) assert.equal(answeredBefore(at(r), at(b)), expected, `reading ${String(r)}, baseline ${String(b)}`);
  assert.equal(answeredBefore(undefined, at(1)), false);
  assert.equal(answeredBefore(at(1), undefined), false);
});

test('a round reading answered before the baseline reads as a scope counting from zero: judged with it, the good publish is rejected for every refusal since start', () => {
  // Burst 11: the poll read Envoy (P), then, while it wrote a replaced publish's line, the last
  // good version was renamed and tracked with a baseline Envoy answered after P (B).
  const p = reading(1000, { versionText: 'sha256:b827c6010549', attempt: 50, success: 39, failure: 11 });
  const b = reading(1004, { versionText: 'sha256:b827c6010549', attempt: 51, success: 40, failure: 11 });
  const input = { version: 'sha256:d8874af37077', previousVersion: 'sha256:b827c6010549', baseline: b, subscriptions: [LDS], named: new Map<string, string>() };
  assert.deepEqual(judge({ ...input, now: p }), { outcome: 'rejected', subscription: LDS, kind: 'failure' }, 'what the round did before');
  assert.equal(answeredBefore(p, b), true, 'the round now leaves it to the next');
  const next = reading(1020, { versionText: 'sha256:d8874af37077', attempt: 52, success: 41, failure: 11 });
  assert.equal(answeredBefore(next, b), false);
  assert.deepEqual(judge({ ...input, now: next }), { outcome: 'accepted', subscriptions: [LDS] });
});
