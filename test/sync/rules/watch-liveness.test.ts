// src/sync/kube/watch-liveness.ts: over HTTP/1.1, whether a watch's BOOKMARKs tell it alive, or the check must.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BOOKMARK_EVERY_MS, livenessOf, type Heard, type Liveness } from '../../../src/sync/kube/watch-liveness.js';

const MARGIN = 10_000;

const cases: { name: string; heard: Heard; now: number; want: Liveness }[] = [
  { name: 'a new watch, nothing heard: the check', heard: { bookmarks: 0, lastAt: 0 }, now: 0, want: { by: 'check' } },
  { name: 'events but no BOOKMARK: the check (nothing promises a BOOKMARK)', heard: { bookmarks: 0, lastAt: 50_000 }, now: 55_000, want: { by: 'check' } },
  { name: 'no BOOKMARK for ten minutes: still the check, never silent by this rule', heard: { bookmarks: 0, lastAt: 0 }, now: 600_000, want: { by: 'check' } },
  { name: 'a BOOKMARK just heard: no check, silent after the period plus the margin', heard: { bookmarks: 1, lastAt: 1_000 }, now: 1_000, want: { by: 'bookmarks', silentAt: 71_000 } },
  { name: 'an event after the BOOKMARK moves the bound', heard: { bookmarks: 1, lastAt: 40_000 }, now: 90_000, want: { by: 'bookmarks', silentAt: 110_000 } },
  { name: 'a minute and a bit since the last BOOKMARK: within the margin', heard: { bookmarks: 3, lastAt: 0 }, now: 65_000, want: { by: 'bookmarks', silentAt: 70_000 } },
  { name: 'exactly at the bound: not yet silent', heard: { bookmarks: 3, lastAt: 0 }, now: 70_000, want: { by: 'bookmarks', silentAt: 70_000 } },
  { name: 'past the bound: silent', heard: { bookmarks: 3, lastAt: 0 }, now: 70_001, want: { by: 'silent', quietMs: 70_001 } },
  { name: 'long past it: silent, with how long', heard: { bookmarks: 1, lastAt: 5_000 }, now: 200_000, want: { by: 'silent', quietMs: 195_000 } },
];

for (const c of cases) {
  test(`liveness: ${c.name}`, () => {
    assert.deepEqual(livenessOf(c.heard, c.now, MARGIN), c.want);
  });
}

test('the period is the apiserver\'s bookmark frequency (a minute), and can be given', () => {
  assert.equal(BOOKMARK_EVERY_MS, 60_000);
  assert.deepEqual(livenessOf({ bookmarks: 1, lastAt: 0 }, 0, 500, 2_000), { by: 'bookmarks', silentAt: 2_500 });
  assert.deepEqual(livenessOf({ bookmarks: 1, lastAt: 0 }, 2_501, 500, 2_000), { by: 'silent', quietMs: 2_501 });
});
