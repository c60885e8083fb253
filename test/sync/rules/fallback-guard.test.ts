// The rule that keeps `watch` from publishing an older ConfigMap version when it switches from the
// API to the volume (src/sync/sources/fallback-guard.ts), as tables of what happened → what the
// volume may publish. Pure, on a clock the test moves (test/sync/fallback-guard.test.ts tells the
// same rules as stories).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { FallbackGuard } from '../../../src/sync/sources/fallback-guard.js';
import type { VolumeDecision } from '../../../src/sync/sources/fallback-guard.js';

const LAG = 90_000;

type Event = ['api', string] | ['volumeSeen', string] | ['advance', number];

const cases: { name: string; history: Event[]; volume: string; decision: VolumeDecision }[] = [
  { name: 'no API version yet', history: [], volume: 'v0', decision: { publish: true, why: 'no-api-version' } },
  { name: 'the volume shows what the API published', history: [['api', 'r2']], volume: 'r2', decision: { publish: true, why: 'caught-up' } },
  { name: 'the volume caught up while the API was in use', history: [['api', 'r2'], ['volumeSeen', 'r2']], volume: 'r3', decision: { publish: true, why: 'caught-up' } },
  { name: 'an unknown volume version within the lag', history: [['api', 'r2'], ['advance', 30_000]], volume: 'r3', decision: { publish: false, why: 'within-lag', waitMs: 60_000 } },
  { name: 'an unknown volume version past the lag is newer', history: [['api', 'r2'], ['advance', LAG]], volume: 'r3', decision: { publish: true, why: 'lag-elapsed' } },
  { name: 'a version the volume showed before the API version, past the lag', history: [['volumeSeen', 'r1'], ['api', 'r2'], ['advance', LAG]], volume: 'r1', decision: { publish: false, why: 'known-older', waitMs: 0 } },
  { name: 'an earlier API version, past the lag', history: [['api', 'r1'], ['api', 'r2'], ['advance', LAG]], volume: 'r1', decision: { publish: false, why: 'known-older', waitMs: 0 } },
  { name: 'an earlier API version published again is the newest', history: [['api', 'r1'], ['api', 'r2'], ['api', 'r1']], volume: 'r1', decision: { publish: true, why: 'caught-up' } },
  { name: 'a new API version restarts the lag', history: [['api', 'r1'], ['advance', LAG], ['api', 'r2'], ['advance', 1000]], volume: 'r3', decision: { publish: false, why: 'within-lag', waitMs: LAG - 1000 } },
];

for (const c of cases) {
  test(`fallback guard: ${c.name}`, () => {
    let now = 1_000_000;
    const guard = new FallbackGuard(LAG, () => now);
    for (const [kind, value] of c.history) {
      if (kind === 'api') guard.apiPublished(value);
      else if (kind === 'volumeSeen') guard.volumeSeen(value);
      else now += value;
    }
    assert.deepEqual(guard.admitVolume(c.volume), c.decision);
  });
}
