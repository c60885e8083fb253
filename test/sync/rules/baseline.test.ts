// Which reading of Envoy's counters a pass is judged against (src/sync/verdict/baseline.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import type { PassShape } from '../../../src/sync/publish/pass-result.js';
import { baselineSource, lateBaseline, mayRenameFirst, readsAs } from '../../../src/sync/verdict/baseline.js';

test("a pass is judged against the request sent when the watcher was told of the change only if nothing was renamed into the target since", () => {
  const cases: { name: string; sentAtRenames: number | undefined; renamesNow: number; want: 'sent' | 'ask' }[] = [
    { name: 'sent for this pass, nothing renamed since', sentAtRenames: 7, renamesNow: 7, want: 'sent' },
    { name: 'sent before any rename (first change after start)', sentAtRenames: 0, renamesNow: 0, want: 'sent' },
    { name: 'a rollback renamed a file while the pass read: its reload may be in the answer', sentAtRenames: 7, renamesNow: 8, want: 'ask' },
    { name: "an earlier pass's renames landed after the request went", sentAtRenames: 7, renamesNow: 9, want: 'ask' },
    { name: 'none sent (a resync, the API source, a released hold)', sentAtRenames: undefined, renamesNow: 7, want: 'ask' },
  ];
  for (const c of cases) assert.equal(baselineSource(c.sentAtRenames, c.renamesNow), c.want, c.name);
});

const LDS = 'listener_manager.lds';
const CDS = 'cluster_manager.cds';
function sub(attempt: number, versionText: string, more: Partial<SubscriptionCounters> = {}): SubscriptionCounters {
  return { versionText, attempt, success: attempt, rejected: 0, failure: 0, ...more };
}
function reading(subs: Record<string, SubscriptionCounters>, more: Partial<EnvoyCounters> = {}): EnvoyCounters {
  return { subscriptions: new Map(Object.entries(subs)), unknownFields: 0, sslContextUpdates: 0, epoch: 0, ...more };
}
// The last reading before the pass: LDS and CDS each loaded v1 three times.
const before = reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1') });

test('a pass renames before Envoy answers its baseline request only when it is xDS files that name no file and wait for nothing', () => {
  const cases: { name: string; pass: PassShape; want: boolean }[] = [
    { name: 'cds.yaml and lds.yaml with inline routes', pass: { kinds: ['xds', 'xds'], namesFiles: false, waits: false }, want: true },
    { name: 'one xDS file', pass: { kinds: ['xds'], namesFiles: false, waits: false }, want: true },
    { name: 'nothing renamed', pass: { kinds: [], namesFiles: false, waits: false }, want: false },
    { name: "lds.yaml names rds.yaml: Envoy may open a subscription on it, which renaming lds.yaml again would not open again", pass: { kinds: ['xds'], namesFiles: true, waits: false }, want: false },
    { name: 'a listener waits for Envoy to read the cluster file renamed before it', pass: { kinds: ['xds', 'xds'], namesFiles: false, waits: true }, want: false },
    { name: 'the bootstrap changed', pass: { kinds: ['bootstrap', 'xds'], namesFiles: false, waits: false }, want: false },
    { name: 'a certificate a secret reads', pass: { kinds: ['data'], namesFiles: false, waits: false }, want: false },
  ];
  for (const c of cases) assert.equal(mayRenameFirst(c.pass), c.want, c.name);
});

test('two readings read alike only when nothing the verdict reads moved between them', () => {
  const cases: { name: string; other: EnvoyCounters; want: boolean }[] = [
    { name: 'the same counters (a copy)', other: reading({ [CDS]: sub(3, 'v1'), [LDS]: sub(3, 'v1') }), want: true },
    { name: "LDS counted the pass's reload (update_attempt, first thing in refresh)", other: reading({ [LDS]: sub(4, 'v1', { success: 3 }), [CDS]: sub(3, 'v1') }), want: false },
    { name: 'LDS took the new version', other: reading({ [LDS]: sub(4, 'v2'), [CDS]: sub(3, 'v1') }), want: false },
    { name: 'CDS refused the new file', other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(4, 'v1', { success: 3, rejected: 1 }) }), want: false },
    { name: 'a subscription was opened', other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1'), 'http.ingress.rds.routes': sub(1, 'r1') }), want: false },
    { name: 'a subscription is gone', other: reading({ [LDS]: sub(3, 'v1') }), want: false },
    { name: 'Envoy ignored a field in a load', other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1') }, { unknownFields: 1 }), want: false },
    { name: "a secret's certificates were re-read and a TLS context rebuilt", other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1') }, { sslContextUpdates: 1 }), want: false },
    { name: "a secret's certificates were refused", other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1', { keyRotationFailed: 1 }) }), want: false },
    { name: 'another Envoy process (restarted) with the same counts', other: reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1') }, { epoch: 1 }), want: false },
  ];
  for (const c of cases) {
    assert.equal(readsAs(c.other, before), c.want, c.name);
    assert.equal(readsAs(before, c.other), c.want, `${c.name} (the other way round)`);
  }
});

test("a pass that renamed first is judged against Envoy's late answer only when it holds none of the pass's reloads", () => {
  const same = reading({ [LDS]: sub(3, 'v1'), [CDS]: sub(3, 'v1') });
  // Envoy handled the pass's inotify events before the request: the answer already counts the
  // reloads. Judged against it, a refusal would not show (rejected did not move since), nor would
  // the acceptance of a version whose reload it holds be told from an earlier one's.
  const refusedIn = reading({ [LDS]: sub(4, 'v1', { success: 3, rejected: 1 }), [CDS]: sub(3, 'v1') });
  const acceptedIn = reading({ [LDS]: sub(4, 'v2'), [CDS]: sub(4, 'v2') });
  assert.deepEqual(lateBaseline(same, before), { use: same }, 'nothing moved: the answer is the baseline');
  assert.deepEqual(lateBaseline(refusedIn, before), { renameAgain: refusedIn }, "the answer holds the pass's refused reload: rename again, judged against the answer");
  assert.deepEqual(lateBaseline(acceptedIn, before), { renameAgain: acceptedIn }, "the answer holds the pass's accepted reloads: rename again");
  assert.deepEqual(lateBaseline(undefined, before), { use: before }, 'no answer in time: the reading before the renames, as when an awaited request goes unanswered');
});
