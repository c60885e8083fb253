// src/sync/kube/check-schedule.ts: when a watch's periodic checks run (mocked timers).
import { strict as assert } from 'node:assert';
import { mock, test } from 'node:test';
import { scheduleChecks } from '../../../src/sync/kube/check-schedule.js';

/** Times (ms on the mocked clock) at which `check` ran within `untilMs`, ticking 1 ms at a time. */
function runs(everyMs: number, random: (() => number) | undefined, untilMs: number, stopAtMs = Infinity): number[] {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const at: number[] = [];
    let now = 0;
    const schedule = scheduleChecks(everyMs, () => at.push(now), random);
    for (; now < untilMs; ) {
      now++;
      if (now === stopAtMs) schedule.stop();
      mock.timers.tick(1);
    }
    schedule.stop();
    return at;
  } finally {
    mock.timers.reset();
  }
}

test('the first check at a random point of the first period, then every period', () => {
  assert.deepEqual(runs(1000, () => 0.75, 3500), [250, 1250, 2250, 3250]);
  assert.deepEqual(runs(1000, () => 0, 3500), [1000, 2000, 3000], 'random 0: one whole period');
  assert.deepEqual(runs(1000, () => 0.999, 2100), [1, 1001, 2001], 'never before the watch opened');
});

test('watches opened together with different random draws check at different times', () => {
  const firsts = [0.1, 0.4, 0.7].map((r) => runs(30_000, () => r, 30_000)[0]);
  assert.deepEqual(firsts, [27_000, 18_000, 9_000]);
});

test('no random: one period after the watch opened (as before); 0: never; stop() ends it', () => {
  assert.deepEqual(runs(1000, undefined, 2500), [1000, 2000]);
  assert.deepEqual(runs(0, () => 0.5, 5000), []);
  assert.deepEqual(runs(1000, () => 0.5, 5000, 1200), [500]);
  assert.deepEqual(runs(1000, () => 0.5, 5000, 300), []);
});
