// When `watch` collects garbage after a pass (src/sync/watch/memory.ts): never between a rename and
// Envoy's verdict for a small change (a full GC there delayed both Envoy's reload and the verdict),
// at once in a burst or when the heap grew a lot (memory first). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { GROWTH_COLLECT_BYTES, GROWTH_COLLECT_NOW_BYTES, LARGE_PASS_BYTES, YOUNG_ROOM_BYTES, collectionAfterPass, youngBeforePass } from '../../../src/sync/watch/memory.js';

const KiB = 1024;
const cases: { why: string; changedBytes: number; growthBytes: number; passPending: boolean; expect: ReturnType<typeof collectionAfterPass> }[] = [
  { why: 'nothing changed (a resync): nothing to collect', changedBytes: 0, growthBytes: 100 * KiB, passPending: false, expect: undefined },
  { why: 'a small change: the young generation, once Envoy has judged it', changedBytes: 2 * KiB, growthBytes: 300 * KiB, passPending: false, expect: { collect: 'young', when: 'settled' } },
  { why: 'a small change while the next swap waits: still only the young generation, after the verdicts', changedBytes: 2 * KiB, growthBytes: 300 * KiB, passPending: true, expect: { collect: 'young', when: 'settled' } },
  { why: 'a large change: a full collection, once Envoy has judged it', changedBytes: LARGE_PASS_BYTES, growthBytes: 2 * 1024 * KiB, passPending: false, expect: { collect: 'full', when: 'settled' } },
  { why: 'small changes that piled up garbage: a full collection, once Envoy has judged', changedBytes: 2 * KiB, growthBytes: GROWTH_COLLECT_BYTES, passPending: false, expect: { collect: 'full', when: 'settled' } },
  { why: 'a large change in a burst: at once, before the next pass adds its garbage', changedBytes: 256 * KiB, growthBytes: 2 * 1024 * KiB, passPending: true, expect: { collect: 'full', when: 'now' } },
  { why: 'the heap grew past the hard bound: at once, whatever is in flight', changedBytes: 256 * KiB, growthBytes: GROWTH_COLLECT_NOW_BYTES, passPending: false, expect: { collect: 'full', when: 'now' } },
  { why: 'a resync after garbage piled up: a full collection after the (absent) verdicts', changedBytes: 0, growthBytes: GROWTH_COLLECT_BYTES, passPending: false, expect: { collect: 'full', when: 'settled' } },
];

for (const { why, changedBytes, growthBytes, passPending, expect } of cases) {
  test(`collection after a pass: ${why}`, () => {
    assert.deepEqual(collectionAfterPass({ changedBytes, growthBytes, passPending }), expect);
  });
}

test('the bounds are ordered: a small pass never reaches the large-pass bound, collect-now is above collect-later', () => {
  assert.ok(LARGE_PASS_BYTES < GROWTH_COLLECT_BYTES && GROWTH_COLLECT_BYTES < GROWTH_COLLECT_NOW_BYTES);
});

// Before a pass: the young generation is emptied only when what is left in it would not hold a
// small change and its verdict (330-390 KiB measured), so that V8 does not scavenge after the renames.
const before: { why: string; roomBytes: number; expect: boolean }[] = [
  { why: 'right after the collection that follows a verdict (1 MiB new space, ~25 KiB in use): nothing', roomBytes: 980 * KiB, expect: false },
  { why: 'after the warm-up or idle work filled 600 KiB of it: a scavenge first', roomBytes: 400 * KiB, expect: true },
  { why: 'exactly the margin left: nothing', roomBytes: YOUNG_ROOM_BYTES, expect: false },
  { why: 'one byte under the margin: a scavenge first', roomBytes: YOUNG_ROOM_BYTES - 1, expect: true },
  { why: 'V8 does not report a new space: nothing', roomBytes: Infinity, expect: false },
];

for (const { why, roomBytes, expect } of before) {
  test(`young collection before a pass: ${why}`, () => {
    assert.equal(youngBeforePass(roomBytes), expect);
  });
}

test('the young margin holds a small change (390 KiB measured) and fits in the 1 MiB new space of the injected --max-semi-space-size=1', () => {
  assert.ok(YOUNG_ROOM_BYTES > 390 * KiB && YOUNG_ROOM_BYTES < 1006 * KiB);
});
