// The verdict's judgement as a table (src/sync/verdict/judge.ts): Envoy's counters before and after
// a publish → accepted, rejected or not decided yet. Pure: no Envoy, no clock.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { SubscriptionStats } from '../../../src/sync/envoy/admin.js';
import { baseFor, judge, pollDelayMs, refusalKind, startedLoading, step } from '../../../src/sync/verdict/judge.js';
import type { Waiting } from '../../../src/sync/verdict/judge.js';

const LDS = 'listener_manager.lds';
const RDS = 'http.ingress.rds.local';

/** Stats in a line: version, success, rejected, failure, attempt. */
const s = (versionText: string, success = 0, rejected = 0, failure = 0, attempt = success + rejected + failure): SubscriptionStats => ({ versionText, success, rejected, failure, attempt });

interface Row {
  name: string;
  version: string | undefined;
  before: Record<string, SubscriptionStats | undefined>;
  now: Record<string, SubscriptionStats>;
  prefixes?: string[];
  expected: 'accepted' | 'rejected' | undefined;
}

const rows: Row[] = [
  { name: 'Envoy reports the new version after a successful update', version: 'v2', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v2', 2) }, expected: 'accepted' },
  { name: 'the new version without a counted update yet is still accepted (version_text decides)', version: 'v2', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v2', 1) }, expected: 'accepted' },
  { name: 'nothing moved yet', version: 'v2', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 1) }, expected: undefined },
  { name: 'update_rejected moved and the version stayed', version: 'v2', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 1, 1) }, expected: 'rejected' },
  { name: 'update_failure moved (did not parse) and the version stayed', version: 'v2', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 1, 0, 1) }, expected: 'rejected' },
  { name: 'Envoy already ran this version: only a new success accepts it', version: 'v1', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 1) }, expected: undefined },
  { name: 'Envoy already ran this version, and counted a success since', version: 'v1', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 2) }, expected: 'accepted' },
  { name: 'Envoy already ran this version, and refused since', version: 'v1', before: { [LDS]: s('v1', 1) }, now: { [LDS]: s('v1', 1, 1) }, expected: 'rejected' },
  { name: 'no version_info: a success and no failure accepts', version: undefined, before: { [LDS]: s('', 1) }, now: { [LDS]: s('', 2) }, expected: 'accepted' },
  { name: 'no version_info: a failure rejects, even with a success', version: undefined, before: { [LDS]: s('', 1) }, now: { [LDS]: s('', 2, 1) }, expected: 'rejected' },
  { name: 'never seen before: counters from 0', version: 'v1', before: {}, now: { [LDS]: s('v1', 1) }, expected: 'accepted' },
  { name: 'never seen before and refused', version: 'v1', before: {}, now: { [LDS]: s('', 0, 1) }, expected: 'rejected' },
  { name: 'Envoy restarted (counters went down): compared with zeros', version: 'v1', before: { [LDS]: s('v1', 9) }, now: { [LDS]: s('v1', 1) }, expected: 'accepted' },
  { name: 'Envoy restarted and refused the file it started with', version: 'v2', before: { [LDS]: s('v1', 9) }, now: { [LDS]: s('', 0, 0, 1) }, expected: 'rejected' },
  { name: 'a subscription Envoy has no stats for (RDS before its listener) is undecided', version: 'v2', before: {}, now: { [LDS]: s('v2', 1) }, prefixes: [LDS, RDS], expected: undefined },
  { name: 'every subscription the file feeds must report the version', version: 'v2', before: {}, now: { [LDS]: s('v2', 1), [RDS]: s('v1', 1) }, prefixes: [LDS, RDS], expected: undefined },
  { name: 'two subscriptions both report it', version: 'v2', before: {}, now: { [LDS]: s('v2', 1), [RDS]: s('v2', 1) }, prefixes: [LDS, RDS], expected: 'accepted' },
  { name: 'one of two subscriptions refused it', version: 'v2', before: { [RDS]: s('v1', 1) }, now: { [LDS]: s('v2', 1), [RDS]: s('v1', 1, 1) }, prefixes: [LDS, RDS], expected: 'rejected' },
];

for (const row of rows) {
  test(`judge: ${row.name} → ${row.expected ?? 'undecided'}`, () => {
    const judged = { version: row.version, baseline: new Map(Object.entries(row.before)) };
    const prefixes = (row.prefixes ?? [LDS]).map((statPrefix) => ({ statPrefix }));
    assert.equal(judge(judged, prefixes, new Map(Object.entries(row.now))), row.expected);
  });
}

test('baseFor: the baseline, or zeros once the counters went down (Envoy restarted)', () => {
  const table: [SubscriptionStats | undefined, SubscriptionStats, SubscriptionStats][] = [
    [undefined, s('v1', 1), s('')],
    [s('v1', 2, 1), s('v1', 3, 1), s('v1', 2, 1)],
    [s('v1', 2, 1), s('v1', 1, 0), s('')],
    [s('v1', 2, 1), s('v1', 2, 1), s('v1', 2, 1)],
  ];
  for (const [base, now, expected] of table) assert.deepEqual(baseFor(base, now), expected, JSON.stringify({ base, now }));
});

test('refusalKind: update_rejected before update_failure, nothing when neither moved', () => {
  const table: [SubscriptionStats, SubscriptionStats, 'rejected' | 'failure' | undefined][] = [
    [s('v1', 1), s('v1', 1, 1), 'rejected'],
    [s('v1', 1), s('v1', 1, 0, 1), 'failure'],
    [s('v1', 1), s('v1', 1, 1, 1), 'rejected'],
    [s('v1', 1), s('v2', 2), undefined],
  ];
  for (const [base, now, expected] of table) assert.equal(refusalKind(base, now), expected, JSON.stringify({ base, now }));
});

test('startedLoading: every subscription counted an update_attempt', () => {
  const subs = [{ statPrefix: LDS }, { statPrefix: RDS }];
  assert.equal(startedLoading(subs, new Map([[LDS, s('', 0, 0, 0, 1)], [RDS, s('', 0, 0, 0, 1)]])), true);
  assert.equal(startedLoading(subs, new Map([[LDS, s('', 0, 0, 0, 1)]])), false);
  assert.equal(startedLoading(subs, new Map([[LDS, s('', 0, 0, 0, 1)], [RDS, s('', 0, 0, 0, 0)]])), false);
});

test('pollDelayMs: every 3 ms at first, backing off to 500 ms', () => {
  const table: [number, number][] = [[0, 3], [199, 3], [200, 20], [999, 20], [1000, 100], [9999, 100], [10_000, 500], [300_000, 500]];
  for (const [since, delay] of table) assert.equal(pollDelayMs(since), delay, `${String(since)} ms after the publish`);
});

test('step: a judgement wins; unknown past the deadline or without an admin API; a file found at start waits for Envoy to start loading it', () => {
  const waiting = (over: Partial<Waiting> = {}): Waiting => ({ version: 'v2', baseline: new Map([[LDS, s('v1', 1)]]), initial: false, deadline: 1000, ...over });
  const subs = [{ statPrefix: LDS }];
  const accepted = new Map([[LDS, s('v2', 2)]]);
  const quiet = new Map([[LDS, s('v1', 1)]]);
  const table: { name: string; w: Waiting; stats: Map<string, SubscriptionStats> | undefined; now: number; hasAdmin: boolean; outcome: string | undefined }[] = [
    { name: 'accepted before the deadline', w: waiting(), stats: accepted, now: 10, hasAdmin: true, outcome: 'accepted' },
    { name: 'accepted after the deadline still counts', w: waiting(), stats: accepted, now: 5000, hasAdmin: true, outcome: 'accepted' },
    { name: 'undecided before the deadline', w: waiting(), stats: quiet, now: 10, hasAdmin: true, outcome: undefined },
    { name: 'undecided at the deadline', w: waiting(), stats: quiet, now: 1000, hasAdmin: true, outcome: 'unknown' },
    { name: 'no answer (admin unreachable) before the deadline', w: waiting(), stats: undefined, now: 10, hasAdmin: true, outcome: undefined },
    { name: 'no admin API at all', w: waiting(), stats: undefined, now: 10, hasAdmin: false, outcome: 'unknown' },
  ];
  for (const row of table) assert.equal(step(row.w, subs, row.stats, row.now, 10_000, row.hasAdmin), row.outcome, row.name);

  const initial = waiting({ initial: true, deadline: 300_000, baseline: new Map() });
  assert.equal(step(initial, subs, new Map([[LDS, s('', 0, 0, 0, 0)]]), 50, 10_000, true), undefined);
  assert.deepEqual([initial.initial, initial.deadline], [true, 300_000], 'no update_attempt counted yet: Envoy may still be starting or warming clusters');
  assert.equal(step(initial, subs, new Map(), 50, 10_000, true), undefined, 'no stats for LDS yet');
  const started = waiting({ initial: true, deadline: 300_000, baseline: new Map() });
  assert.equal(step(started, subs, new Map([[LDS, s('', 0, 0, 0, 1)]]), 50, 10_000, true), undefined);
  assert.deepEqual([started.initial, started.deadline], [false, 10_050], 'Envoy started loading it: the usual 10 s from now');
});
