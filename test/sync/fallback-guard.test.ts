import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { FallbackGuard } from '../../src/sync/sources/fallback-guard.js';

const LAG = 90_000;

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

test('before any API version the volume is published as is (the copy container started from it)', () => {
  const guard = new FallbackGuard(LAG);
  assert.deepEqual(guard.admitVolume('v0'), { publish: true, why: 'no-api-version' });
});

test('after the API, a lagging volume is held within the lag, and a version it showed before is never published', () => {
  const c = clock();
  const guard = new FallbackGuard(LAG, c.now);
  guard.volumeSeen('v0');
  guard.apiPublished('r5');
  guard.volumeSeen('r3'); // the kubelet catching up, still behind
  c.advance(1_000);
  guard.apiConfirmed(c.now()); // a check found the watch current: what the volume showed before is older
  // API lost now: the volume still shows r3
  const held = guard.admitVolume('r3');
  assert.equal(held.publish, false);
  assert.equal(held.why, 'within-lag');
  // an intermediate version the API never showed us (r4) is held within the lag too
  assert.equal(guard.admitVolume('r4').publish, false);
  c.advance(LAG + 1);
  // past the lag, a version known to be older stays held ...
  assert.deepEqual(guard.admitVolume('r3'), { publish: false, why: 'known-older', waitMs: 0 });
  assert.deepEqual(guard.admitVolume('v0'), { publish: false, why: 'known-older', waitMs: 0 });
  // ... an unknown one is newer (the kubelet has synced since the API version was published)
  assert.deepEqual(guard.admitVolume('r6'), { publish: true, why: 'lag-elapsed' });
  // and from then on the volume only moves forward
  assert.equal(guard.admitVolume('r3').publish, true);
});

test('the volume showing the API version means it caught up: everything after it is newer', () => {
  const c = clock();
  const guard = new FallbackGuard(LAG, c.now);
  guard.apiPublished('r1');
  guard.apiPublished('r2');
  assert.deepEqual(guard.admitVolume('r2'), { publish: true, why: 'caught-up' });
  assert.equal(guard.admitVolume('r1').publish, true, 'ABA after catching up: the kubelet only moves forward');
});

test('a volume that caught up while the API was in use is not held after a switch', () => {
  const c = clock();
  const guard = new FallbackGuard(LAG, c.now);
  guard.apiPublished('r7');
  guard.volumeSeen('r7');
  assert.deepEqual(guard.admitVolume('r8'), { publish: true, why: 'caught-up' });
});

test('an API version published again puts the volume behind again', () => {
  const c = clock();
  const guard = new FallbackGuard(LAG, c.now);
  guard.apiPublished('r1');
  assert.equal(guard.admitVolume('r1').publish, true);
  guard.apiPublished('r2');
  assert.equal(guard.admitVolume('r1').publish, false);
  c.advance(LAG + 1);
  assert.equal(guard.admitVolume('r1').publish, false, 'r1 is known to be older than r2');
});
