// Reading Envoy until it is back after an `unknown` verdict (src/sync/verdict/envoy-recheck.ts),
// on a clock the test drives.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EnvoyRecheck, RECHECK_MAX_MS, recheckDelayMs } from '../../../src/sync/verdict/envoy-recheck.js';

test('the delay between readings: 1 s, doubling, at most 30 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 40].map(recheckDelayMs), [1000, 2000, 4000, 8000, 16_000, RECHECK_MAX_MS, RECHECK_MAX_MS, RECHECK_MAX_MS]);
});

/** A loop whose timers and readings the test runs by hand. */
function harness(answers: boolean[], due: () => boolean = () => true) {
  const timers: { ms: number; run: () => void; cancelled: boolean }[] = [];
  let reads = 0;
  const loop = new EnvoyRecheck({
    due,
    read: () => Promise.resolve(answers[reads++] ?? false),
    after: (ms, run) => {
      const timer = { ms, run, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  });
  /** Fires the last timer set and lets the reading settle; returns its delay. */
  const fire = async (): Promise<number | undefined> => {
    const timer = timers.at(-1);
    if (timer === undefined || timer.cancelled) return undefined;
    timers.pop();
    timer.run();
    await new Promise((resolve) => setImmediate(resolve));
    return timer.ms;
  };
  return { loop, timers, fire, reads: () => reads };
}

test('after a kick it reads on a backoff until Envoy answers, then stops', async () => {
  const h = harness([false, false, true]);
  h.loop.kick();
  assert.equal(await h.fire(), 1000);
  assert.equal(await h.fire(), 2000);
  assert.equal(await h.fire(), 4000);
  assert.equal(h.reads(), 3);
  assert.equal(h.timers.length, 0, 'no reading after Envoy answered');
});

test('nothing due: no reading, and the loop ends', async () => {
  let due = true;
  const h = harness([false, false], () => due);
  h.loop.kick();
  await h.fire();
  due = false; // a publish judged the file meanwhile
  await h.fire();
  assert.equal(h.reads(), 1);
  assert.equal(h.timers.length, 0);
});

test('a kick while the loop runs keeps its backoff; a kick after it ended starts from 1 s again', async () => {
  const h = harness([false, true, false]);
  h.loop.kick();
  await h.fire();
  h.loop.kick();
  assert.equal(h.timers.length, 1, 'one timer');
  assert.equal(await h.fire(), 2000);
  h.loop.kick();
  assert.equal(await h.fire(), 1000);
});

test('stop cancels the timer, and a later kick does nothing', async () => {
  const h = harness([false]);
  h.loop.kick();
  h.loop.stop();
  assert.equal(await h.fire(), undefined);
  h.loop.kick();
  assert.equal(h.timers.length, 1, 'only the cancelled timer');
  assert.equal(h.reads(), 0);
});
