// Events the apiserver cannot take now (429 with Retry-After, 5xx, no answer) are tried again,
// within the token bucket: never lost while the watcher runs (src/sync/kube/event-series.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EventSeries } from '../../../src/sync/kube/event-series.js';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}
const occurrence = { type: 'Warning' as const, reason: 'XdsRolledBack', file: 'lds.yaml', message: 'm' };

for (const { retryAfterMs, expected } of [
  { retryAfterMs: undefined, expected: [1_000, 2_000, 4_000] },
  { retryAfterMs: 2_000, expected: [2_000, 2_000, 4_000] },
  { retryAfterMs: 10 * 60_000, expected: [300_000, 300_000, 300_000] },
]) {
  test(`a failed write is retried after max(Retry-After ${String(retryAfterMs)}, backoff): ${expected.join(', ')} ms`, () => {
    const c = clock();
    const s = new EventSeries(25, 10_000, c.now);
    s.add(occurrence);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const next = s.next();
      assert.ok(next !== undefined && 'write' in next);
      waits.push(s.retry(next.write, retryAfterMs));
      const waiting = s.next();
      assert.deepEqual(waiting, { waitMs: waits.at(-1) });
      c.advance(waits.at(-1) ?? 0);
    }
    assert.deepEqual(waits, expected);
    const last = s.next();
    assert.ok(last !== undefined && 'write' in last, 'still pending: not lost');
    s.written();
    assert.equal(s.retry(last.write), 1_000, 'a success starts the backoff over');
  });
}

test('retries take tokens: the bucket bounds them like any write', () => {
  const c = clock();
  const s = new EventSeries(2, 10_000, c.now);
  s.add(occurrence);
  for (let i = 0; i < 2; i++) {
    const next = s.next();
    assert.ok(next !== undefined && 'write' in next);
    c.advance(s.retry(next.write));
  }
  const next = s.next();
  assert.ok(next !== undefined && 'waitMs' in next, 'no token left: waits for the refill');
});
