// Files Envoy read together at its start (src/sync/verdict/read-at-start.ts): none of them was on
// its way when Envoy refused another, so that refusal is not set aside for them (in-flight.ts). The
// behaviour with real Envoy: test/envoy/refused-retry.test.ts (a new Pod's lds.yaml refused at start).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { readAtSameStart } from '../../../src/sync/verdict/read-at-start.js';
import { refusedWhileOnTheWay } from '../../../src/sync/verdict/messages.js';

test('readAtSameStart: both published no later than Envoy\'s start, and that start known', () => {
  const start = 1_000_000;
  const cases: [string, number, number | undefined, number | undefined, boolean][] = [
    // name, refused at, other at, Envoy started at, read together at start
    ['both copied before Envoy started (a new Pod)', start - 5000, start - 5001, start, true],
    ['both at the very millisecond Envoy started', start, start, start, true],
    ['the other renamed after Envoy started (a pass)', start - 5000, start + 20, start, false],
    ['the refused file renamed after Envoy started', start + 20, start - 5000, start, false],
    ['Envoy\'s start not read', start - 5000, start - 5000, undefined, false],
    ['no publish of the other known', start - 5000, undefined, start, false],
  ];
  for (const [name, refusedAt, otherAt, startedAt, want] of cases) assert.equal(readAtSameStart(refusedAt, otherAt, startedAt), want, name);
});

test('refusedWhileOnTheWay: one file on its way, or several on theirs', () => {
  assert.equal(
    refusedWhileOnTheWay('lds.yaml', ['cds.yaml']),
    'Envoy refused lds.yaml while cds.yaml of the same change was still on its way (Envoy applies the files of one change in an order of its own); publishing it again for Envoy to judge now that it is applied',
  );
  assert.match(refusedWhileOnTheWay('lds.yaml', ['cds.yaml', 'rds.yaml']), /while cds\.yaml, rds\.yaml of the same change were still on their way .* now that they are applied$/);
});
