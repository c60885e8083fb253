// --volume-lag is a duration: measured on a monotonic clock, a wall-clock step (NTP, a VM resumed,
// an operator's `date -s`) neither extends nor shortens the hold.
import { strict as assert } from 'node:assert';
import { mock, test } from 'node:test';
import { FallbackGuard } from '../../../src/sync/sources/fallback-guard.js';

const LAG = 90_000;

for (const stepMs of [-3_600_000, 3_600_000]) {
  test(`the fallback guard's default clock ignores a wall-clock step of ${String(stepMs / 3_600_000)} h`, () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const guard = new FallbackGuard(LAG);
      guard.apiPublished('r5');
      mock.timers.setTime(Date.now() + stepMs);
      const decision = guard.admitVolume('r6');
      assert.equal(decision.why, 'within-lag');
      const waitMs = 'waitMs' in decision ? decision.waitMs : 0;
      assert.ok(waitMs > LAG - 5_000 && waitMs <= LAG, `waitMs ${String(waitMs)}`);
    } finally {
      mock.timers.reset();
    }
  });
}
