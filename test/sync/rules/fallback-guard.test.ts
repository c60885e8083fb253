// The rule that keeps `watch` from publishing an older ConfigMap version when it switches from the
// API to the volume (src/sync/sources/fallback-guard.ts), as tables of what happened → what the
// volume may publish. Pure, on a clock the test moves (test/sync/fallback-guard.test.ts tells the
// same rules as stories).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { FallbackGuard } from '../../../src/sync/sources/fallback-guard.js';
import type { VolumeDecision } from '../../../src/sync/sources/fallback-guard.js';

const LAG = 90_000;

// confirmed: a list, or a check that found the watch current, at that moment.
type Event = ['api', string] | ['volumeSeen', string] | ['advance', number] | ['confirmed'];

const cases: { name: string; history: Event[]; volume: string; decision: VolumeDecision }[] = [
  { name: 'no API version yet', history: [], volume: 'v0', decision: { publish: true, why: 'no-api-version' } },
  { name: 'the volume shows what the API published', history: [['api', 'r2']], volume: 'r2', decision: { publish: true, why: 'caught-up' } },
  { name: 'the volume caught up while the API was in use', history: [['api', 'r2'], ['volumeSeen', 'r2']], volume: 'r3', decision: { publish: true, why: 'caught-up' } },
  { name: 'an unknown volume version within the lag', history: [['api', 'r2'], ['advance', 30_000]], volume: 'r3', decision: { publish: false, why: 'within-lag', waitMs: 60_000 } },
  { name: 'an unknown volume version past the lag is newer', history: [['api', 'r2'], ['advance', LAG]], volume: 'r3', decision: { publish: true, why: 'lag-elapsed' } },
  { name: 'a version the volume showed before the API version, past the lag', history: [['volumeSeen', 'r1'], ['api', 'r2'], ['confirmed'], ['advance', LAG]], volume: 'r1', decision: { publish: false, why: 'known-older', waitMs: 0 } },
  { name: 'a version the volume showed, the API confirmed current after, past the lag', history: [['api', 'a1'], ['volumeSeen', 'a2'], ['advance', 1000], ['confirmed'], ['advance', LAG]], volume: 'a2', decision: { publish: false, why: 'known-older', waitMs: 0 } },
  { name: 'a version the volume showed while the API only looked fine (a silent watch), past the lag', history: [['api', 'a1'], ['volumeSeen', 'a2'], ['advance', LAG]], volume: 'a2', decision: { publish: true, why: 'lag-elapsed' } },
  { name: 'a version the volume showed after the last confirmation, past the lag', history: [['api', 'a1'], ['confirmed'], ['advance', 1000], ['volumeSeen', 'a2'], ['advance', LAG]], volume: 'a2', decision: { publish: true, why: 'lag-elapsed' } },
  { name: 'a silent watch, the volume newer, within the lag of the last API version', history: [['api', 'a1'], ['advance', 1000], ['volumeSeen', 'a2'], ['advance', 3000]], volume: 'a2', decision: { publish: false, why: 'within-lag', waitMs: LAG - 4000 } },
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
      else if (kind === 'confirmed') guard.apiConfirmed(now);
      else now += value;
    }
    assert.deepEqual(guard.admitVolume(c.volume), c.decision);
  });
}
