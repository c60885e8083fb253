// Which Pod Events to write and when (src/sync/kube/event-series.ts), on a clock the test moves:
// one series per (reason, file), a token bucket, a pause after 403. Pure: no API, no timers.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EventSeries } from '../../../src/sync/kube/event-series.js';
import type { EventOccurrence } from '../../../src/sync/kube/event-series.js';

function clock(start = Date.UTC(2026, 0, 2, 3, 4, 5)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const occurrence = (file: string, message: string, reason = 'XdsAccepted'): EventOccurrence => ({ type: 'Normal', reason, file, message });

/** Every write `next` grants now: [key reason/file, count, message]; and what it says after. */
function drain(series: EventSeries): { writes: [string, number, string][]; then: string } {
  const writes: [string, number, string][] = [];
  for (;;) {
    const next = series.next();
    if (next === undefined) return { writes, then: 'idle' };
    if ('waitMs' in next) return { writes, then: `wait ${String(next.waitMs)}` };
    writes.push([next.write.key.replace('\0', '/'), next.write.count, next.write.occurrence.message]);
  }
}

test('event series: the token bucket and the series, step by step', () => {
  type Row = { do: 'add'; file: string; message: string; reason?: string } | { do: 'advance'; ms: number } | { do: 'drain'; writes: [string, number, string][]; then: string };
  const rows: Row[] = [
    { do: 'drain', writes: [], then: 'idle' },
    { do: 'add', file: 'lds.yaml', message: 'v1' },
    { do: 'drain', writes: [['XdsAccepted/lds.yaml', 1, 'v1']], then: 'idle' },
    // the same series again: one write with the count and the latest message
    { do: 'add', file: 'lds.yaml', message: 'v2' },
    { do: 'add', file: 'lds.yaml', message: 'v3' },
    { do: 'drain', writes: [['XdsAccepted/lds.yaml', 3, 'v3']], then: 'idle' },
    // another reason for the same file is another series
    { do: 'add', file: 'lds.yaml', message: 'bad', reason: 'XdsRejected' },
    { do: 'add', file: 'cds.yaml', message: 'c1' },
    // burst 3: the fourth write waits for the next token (refill 1000 ms)
    { do: 'drain', writes: [['XdsRejected/lds.yaml', 1, 'bad']], then: 'wait 1000' },
    { do: 'advance', ms: 400 },
    { do: 'drain', writes: [], then: 'wait 600' },
    // meanwhile occurrences only update the series in memory
    { do: 'add', file: 'cds.yaml', message: 'c2' },
    { do: 'advance', ms: 600 },
    { do: 'drain', writes: [['XdsAccepted/cds.yaml', 2, 'c2']], then: 'idle' },
    // tokens come back one per refill, up to the burst
    { do: 'advance', ms: 10_000 },
    { do: 'add', file: 'a', message: '1' },
    { do: 'add', file: 'b', message: '1' },
    { do: 'add', file: 'c', message: '1' },
    { do: 'add', file: 'd', message: '1' },
    { do: 'drain', writes: [['XdsAccepted/a', 1, '1'], ['XdsAccepted/b', 1, '1'], ['XdsAccepted/c', 1, '1']], then: 'wait 1000' },
  ];
  const c = clock();
  const series = new EventSeries(3, 1000, c.now);
  for (const [index, row] of rows.entries()) {
    if (row.do === 'add') series.add(occurrence(row.file, row.message, row.reason));
    else if (row.do === 'advance') c.advance(row.ms);
    else assert.deepEqual(drain(series), { writes: row.writes, then: row.then }, `row ${String(index + 1)}`);
  }
});

test('event series: timestamps are the clock\'s, to the second; the first stays, the last moves', () => {
  const c = clock();
  const series = new EventSeries(25, 10_000, c.now);
  series.add(occurrence('lds.yaml', 'v1'));
  c.advance(61_500);
  series.add(occurrence('lds.yaml', 'v2'));
  const next = series.next();
  assert.ok(next !== undefined && 'write' in next);
  assert.deepEqual([next.write.firstTimestamp, next.write.lastTimestamp], ['2026-01-02T03:04:05Z', '2026-01-02T03:05:06Z']);
});

test('event series: forbidden drops what is pending and pauses writes for the retry time; said once', () => {
  const c = clock();
  const series = new EventSeries(25, 10_000, c.now);
  series.add(occurrence('lds.yaml', 'v1'));
  assert.equal(series.forbidden(300_000), true, 'the first 403 is the one to log');
  assert.equal(series.pending, 0);
  series.add(occurrence('lds.yaml', 'v2'));
  assert.equal(series.next(), undefined, 'paused: dropped, not written');
  assert.equal(series.pending, 0);
  c.advance(300_000);
  series.add(occurrence('lds.yaml', 'v3'));
  assert.deepEqual(drain(series).writes, [['XdsAccepted/lds.yaml', 3, 'v3']]);
  assert.equal(series.forbidden(300_000), false, 'later 403s are not logged again');
});

test('event series: past 256 series the oldest written one is forgotten (the apiserver expires Events anyway)', () => {
  const c = clock();
  const series = new EventSeries(1000, 10_000, c.now);
  for (let i = 0; i < 256; i++) series.add(occurrence(`f${String(i)}`, 'm'));
  assert.equal(drain(series).writes.length, 256);
  series.add(occurrence('new', 'm'));
  assert.deepEqual(drain(series).writes, [['XdsAccepted/new', 1, 'm']]);
  series.add(occurrence('f0', 'again'));
  assert.deepEqual(drain(series).writes, [['XdsAccepted/f0', 1, 'again']], 'f0 was forgotten: a new series (create, count 1)');
});
