// When the --store-check read rides on the --api-check's connection (src/sync/last-accepted/
// store-check.ts storeReadRides, pure) and when its timer reads on a connection of its own
// (store-check-timer.ts, mocked timers): one connection per check period with the defaults, the
// store never read later than 1.5 × --store-check after its last read.
import { strict as assert } from 'node:assert';
import { mock, test } from 'node:test';
import { storeReadRides } from '../../../src/sync/last-accepted/store-check.js';
import { StoreCheckTimer } from '../../../src/sync/last-accepted/store-check-timer.js';
import type { KubeConnection, KubeSession } from '../../../src/sync/kube/connection.js';

for (const [since, every, next, expected, why] of [
  [30_000, 30_000, 30_000, true, 'a whole --store-check since the last read'],
  [29_990, 30_000, 30_000, true, 'just short of it, but the next check (30 s on) would be 60 s after the last read, past 45 s'],
  [15_000, 30_000, 30_000, true, 'the next check would be exactly at the latest time: ride now'],
  [14_000, 30_000, 30_000, false, 'the next check still comes within 1.5 × --store-check'],
  [20_000, 30_000, 10_000, false, '--api-check 10 s: wait for a later check'],
  [30_000, 30_000, 10_000, true, '--api-check 10 s: every third check'],
  [20_000, 30_000, 20_000, false, '--api-check 20 s: the next check is at 40 s, within 45 s'],
  [40_000, 30_000, 20_000, true, '--api-check 20 s: every other check'],
  [30_000, 60_000, 30_000, false, '--store-check 60 s, --api-check 30 s: not yet'],
  [60_000, 60_000, 30_000, true, '--store-check 60 s: every other check'],
  [1_000, 30_000, 120_000, true, '--api-check 120 s: the next check is too late, ride on every one (the timer also reads in between)'],
  [100_000, 0, 30_000, false, '--store-check 0: never'],
] as const) {
  test(`storeReadRides: ${why} -> ${String(expected)}`, () => {
    assert.equal(storeReadRides(since, every, next), expected);
  });
}

/** Which checks (the n-th, from 1) carry the store read when checks come every `checkMs` and the store reads are carried at once. */
function carriedAt(checkMs: number, storeMs: number, checks: number): number[] {
  let since = checkMs; // the first check one period after the last read
  const rode: number[] = [];
  for (let n = 1; n <= checks; n++) {
    if (storeReadRides(since, storeMs, checkMs)) {
      rode.push(n);
      since = 0;
    }
    since += checkMs;
  }
  return rode;
}

test('storeReadRides over a run of checks: every check at the defaults; every ⌈S/A⌉-th when checks are more frequent; gaps never past 1.5 × S', () => {
  assert.deepEqual(carriedAt(30_000, 30_000, 6), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(carriedAt(25_000, 30_000, 6), [1, 2, 3, 4, 5, 6], '--api-check 25 s ≥ 3/4 × 30 s');
  assert.deepEqual(carriedAt(20_000, 30_000, 6), [2, 4, 6]);
  assert.deepEqual(carriedAt(10_000, 30_000, 9), [3, 6, 9]);
  assert.deepEqual(carriedAt(30_000, 60_000, 6), [2, 4, 6]);
  for (const [a, s] of [[7_000, 30_000], [13_000, 30_000], [22_000, 30_000], [29_000, 40_000], [17_000, 50_000]] as const) {
    const rode = carriedAt(a, s, 40);
    const gaps = rode.slice(1).map((n, i) => (n - (rode[i] ?? 0)) * a);
    assert.ok(gaps.every((g) => g <= s * 1.5), `--api-check ${String(a)}, --store-check ${String(s)}: gaps ${gaps.join(', ')}`);
  }
});

/** A connection whose sessions are numbered; each store check records the session it ran on. */
function harness(everyMs: number): { timer: StoreCheckTimer; ranOn: number[]; sessions: { opened: number; ended: number }; clock: { now: number } } {
  const sessions = { opened: 0, ended: 0 };
  const ranOn: number[] = [];
  const clock = { now: 0 };
  const session = (): KubeSession & { id: number } => {
    const id = ++sessions.opened;
    return { id, request: () => Promise.reject(new Error('not sent')), end: () => { sessions.ended++; } };
  };
  const connection = { session } as unknown as KubeConnection;
  const timer = new StoreCheckTimer({
    connection, everyMs, wanted: () => true, onError: () => undefined, random: () => 0, now: () => clock.now,
    check: (s) => { ranOn.push((s as KubeSession & { id: number }).id); return Promise.resolve(); },
  });
  return { timer, ranOn, sessions, clock };
}

async function advance(clock: { now: number }, ms: number): Promise<void> {
  for (let i = 0; i < ms / 100; i++) {
    clock.now += 100;
    mock.timers.tick(100);
    await Promise.resolve();
    await Promise.resolve();
  }
}

test('StoreCheckTimer carried: the checks take every read, the timer none; a check that does not come in time is replaced by a read on a connection of its own at 1.5 × --store-check', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { timer, ranOn, sessions, clock } = harness(30_000);
    const companion = timer.carry();
    const checkSession = { id: 1000, request: () => Promise.reject(new Error('not sent')), end: () => undefined };
    for (let period = 1; period <= 4; period++) {
      await advance(clock, 30_000);
      assert.equal(companion.rideAlong(30_000), true, `period ${String(period)}`);
      await companion.read(checkSession);
    }
    assert.deepEqual(ranOn, [1000, 1000, 1000, 1000]);
    assert.equal(sessions.opened, 0, 'no connection of its own');
    assert.deepEqual(timer.stats, { carried: 4, alone: 0 });

    // The checks stop (the API unreachable, a watch being renewed): the timer reads at 45 s.
    await advance(clock, 44_900);
    assert.equal(sessions.opened, 0);
    await advance(clock, 200);
    assert.equal(sessions.opened, 1, 'read on a connection of its own at 45 s');
    assert.equal(sessions.ended, 1, 'and closed');
    assert.deepEqual(timer.stats, { carried: 4, alone: 1 });
    timer.stop();
  } finally {
    mock.timers.reset();
  }
});

test('StoreCheckTimer not carried (no watch): on a connection of its own every --store-check × 1–1.5', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { timer, ranOn, sessions, clock } = harness(30_000);
    await advance(clock, 29_900);
    assert.equal(sessions.opened, 0);
    await advance(clock, 200);
    await advance(clock, 30_000);
    assert.deepEqual(ranOn, [1, 2], 'random 0: every 30 s, each on a session of its own');
    assert.equal(sessions.ended, 2);
    timer.stop();
    await advance(clock, 60_000);
    assert.equal(sessions.opened, 2, 'stopped');
  } finally {
    mock.timers.reset();
  }
});
