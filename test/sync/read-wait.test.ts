// The wait between two renames of a pass until Envoy has read the first (src/sync/verdict/read-wait.ts),
// against a stand-in for Envoy's admin API that answers from a script of readings.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyAdmin } from '../../src/sync/envoy/admin.js';
import type { EnvoyCounters } from '../../src/sync/envoy/stat-prefixes.js';
import { waitUntilRead } from '../../src/sync/verdict/read-wait.js';

const cds = (attempt: number): EnvoyCounters => ({
  subscriptions: new Map([['cluster_manager.cds', { versionText: 'v', attempt, success: attempt, rejected: 0, failure: 0 }]]),
  unknownFields: 0,
  sslContextUpdates: 0,
});
/** An admin API that answers `answers` in turn (the last one from then on); an Error is thrown. */
function adminAnswering(answers: (EnvoyCounters | Error)[]): { admin: EnvoyAdmin; asked: () => number } {
  let asked = 0;
  const admin = {
    counters: (): Promise<EnvoyCounters> => {
      const answer = answers[Math.min(asked++, answers.length - 1)];
      return answer instanceof Error || answer === undefined ? Promise.reject(answer ?? new Error('no answer')) : Promise.resolve(answer);
    },
  } as unknown as EnvoyAdmin;
  return { admin, asked: () => asked };
}
const attribute = () => new Map([['cluster_manager.cds', 'cds.yaml']]);

test('the wait ends at the first answer that shows the read, asks again while it does not, and ends at the bound or a failed request', async () => {
  const first = adminAnswering([cds(4)]);
  assert.equal((await waitUntilRead(['cds.yaml'], { admin: first.admin, baseline: cds(3), attribute })).outcome, 'read');
  assert.equal(first.asked(), 1, "Envoy's first answer after the rename shows it");

  const later = adminAnswering([cds(3), cds(3), cds(4)]);
  assert.equal((await waitUntilRead(['cds.yaml'], { admin: later.admin, baseline: cds(3), attribute })).outcome, 'read');
  assert.equal(later.asked(), 3);

  const never = adminAnswering([cds(3)]);
  const timedOut = await waitUntilRead(['cds.yaml'], { admin: never.admin, baseline: cds(3), attribute }, 30);
  assert.equal(timedOut.outcome, 'timeout');
  assert.ok(timedOut.ms >= 30, `waited ${String(timedOut.ms)} ms, the bound is 30`);

  const down = adminAnswering([new Error('connect ECONNREFUSED')]);
  assert.equal((await waitUntilRead(['cds.yaml'], { admin: down.admin, baseline: cds(3), attribute })).outcome, 'unreachable');
  assert.equal(down.asked(), 1);

  const untold = adminAnswering([cds(4)]);
  assert.equal((await waitUntilRead(['other.yaml'], { admin: untold.admin, baseline: cds(3), attribute })).outcome, 'untold');
});
