// Which Pod Events to write and when (src/sync/kube/event-series.ts), on a clock the test moves:
// one series per (reason, file), a token bucket, a backoff after 403 that keeps what is pending. Pure: no API, no timers.
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

test('event series: forbidden keeps what is pending, pauses 10 s doubling to the cap, resumes at once when allowed; said once per streak', () => {
  type Row =
    | { do: 'add'; file: string; message: string; reason?: string }
    | { do: 'advance'; ms: number }
    | { do: 'drain'; writes: [string, number, string][]; then: string }
    /** The write `next` gives now is answered 403: the pause and whether this 403 is the one to log. */
    | { do: 'forbidden'; key: string; delayMs: number; first: boolean }
    | { do: 'resume'; writesPending: boolean }
    | { do: 'written' };
  const rows: Row[] = [
    { do: 'add', file: 'lds.yaml', message: 'v1', reason: 'XdsRejected' },
    { do: 'forbidden', key: 'XdsRejected/lds.yaml', delayMs: 10_000, first: true },
    // kept, not dropped: occurrences meanwhile join their series
    { do: 'add', file: 'lds.yaml', message: 'v2', reason: 'XdsAcceptedWithWarnings' },
    { do: 'add', file: 'lds.yaml', message: 'v3', reason: 'XdsRejected' },
    { do: 'drain', writes: [], then: 'wait 10000' },
    { do: 'advance', ms: 10_000 },
    // each try takes the pending series in turn
    { do: 'forbidden', key: 'XdsRejected/lds.yaml', delayMs: 20_000, first: false },
    { do: 'advance', ms: 20_000 },
    { do: 'forbidden', key: 'XdsAcceptedWithWarnings/lds.yaml', delayMs: 40_000, first: false },
    { do: 'advance', ms: 40_000 },
    { do: 'forbidden', key: 'XdsRejected/lds.yaml', delayMs: 80_000, first: false },
    { do: 'advance', ms: 80_000 },
    { do: 'forbidden', key: 'XdsAcceptedWithWarnings/lds.yaml', delayMs: 160_000, first: false },
    { do: 'advance', ms: 160_000 },
    // the cap (300 s here)
    { do: 'forbidden', key: 'XdsRejected/lds.yaml', delayMs: 300_000, first: false },
    { do: 'advance', ms: 1_000 },
    { do: 'drain', writes: [], then: 'wait 299000' },
    // the API source reads its ConfigMap again (the Role applied): writes at once, the latest of each series with its full count
    { do: 'resume', writesPending: true },
    { do: 'drain', writes: [['XdsAcceptedWithWarnings/lds.yaml', 1, 'v2'], ['XdsRejected/lds.yaml', 2, 'v3']], then: 'idle' },
    { do: 'written' },
    // nothing paused: resume changes nothing
    { do: 'resume', writesPending: false },
    // a new streak starts at 10 s again and is said again
    { do: 'add', file: 'cds.yaml', message: 'c1' },
    { do: 'forbidden', key: 'XdsAccepted/cds.yaml', delayMs: 10_000, first: true },
    { do: 'advance', ms: 10_000 },
    { do: 'drain', writes: [['XdsAccepted/cds.yaml', 1, 'c1']], then: 'idle' },
  ];
  const c = clock();
  const series = new EventSeries(100, 1000, c.now);
  for (const [index, row] of rows.entries()) {
    const at = `row ${String(index + 1)}`;
    if (row.do === 'add') series.add(occurrence(row.file, row.message, row.reason));
    else if (row.do === 'advance') c.advance(row.ms);
    else if (row.do === 'drain') assert.deepEqual(drain(series), { writes: row.writes, then: row.then }, at);
    else if (row.do === 'resume') assert.equal(series.resume(), row.writesPending, at);
    else if (row.do === 'written') series.written();
    else {
      const next = series.next();
      assert.ok(next !== undefined && 'write' in next, `${at}: a write is due`);
      assert.equal(next.write.key.replace('\0', '/'), row.key, at);
      assert.deepEqual(series.forbidden(next.write, 300_000), { delayMs: row.delayMs, first: row.first }, at);
    }
  }
});

test('event series: pending series stay bounded while writes are forbidden: past 256 the oldest pending one goes', () => {
  const c = clock();
  const series = new EventSeries(1000, 10_000, c.now);
  series.add(occurrence('f0', 'm'));
  const first = series.next();
  assert.ok(first !== undefined && 'write' in first);
  series.forbidden(first.write, 300_000);
  for (let i = 1; i <= 300; i++) series.add(occurrence(`f${String(i)}`, 'm'));
  assert.equal(series.pending, 256);
  assert.equal(series.resume(), true);
  const writes = drain(series).writes.map(([key]) => key);
  assert.equal(writes.length, 256);
  assert.deepEqual([writes[0], writes.at(-1)], ['XdsAccepted/f45', 'XdsAccepted/f300'], 'the newest 256 kept');
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
