// What Envoy did with a publish a newer one replaced before its verdict (src/sync/verdict/superseded-fate.ts):
// read from the file's counters between the two publishes' baselines, never guessed.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { errorsBefore, fateAtVerdict, ownRefusals, supersededFate, supersededMessage, windowFate } from '../../../src/sync/verdict/superseded-fate.js';
import type { KnownContents, PublishRecord, SupersededFate, WindowCounts } from '../../../src/sync/verdict/superseded-fate.js';

const LDS = 'listener_manager.lds';
const sub = (c: Partial<SubscriptionCounters>): SubscriptionCounters => ({ versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0, ...c });
const reading = (c: Partial<SubscriptionCounters>, more: Partial<EnvoyCounters> = {}): EnvoyCounters => ({ subscriptions: new Map([[LDS, sub(c)]]), unknownFields: 0, sslContextUpdates: 0, epoch: 1, ...more });

test('a replaced publish: refused when the file counted a refusal between its baseline and the newer one', () => {
  const base = reading({ versionText: 'g1', attempt: 4, success: 4 });
  const old = { sha256: 'bad', version: 'bad', at: 100, baseline: base };
  const renames: PublishRecord[] = [{ sha256: 'g1', version: 'g1', at: 50 }, { sha256: 'bad', version: 'bad', at: 100 }, { sha256: 'g2', version: 'g2', at: 120 }];
  const cases: { name: string; end: EnvoyCounters | undefined; old?: { sha256: string; version: string; at: number; baseline: EnvoyCounters | undefined }; renames?: PublishRecord[]; want: SupersededFate }[] = [
    { name: 'Envoy read it before the newer rename and refused it', end: reading({ versionText: 'g1', attempt: 5, success: 4, rejected: 1 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'refused', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected' } },
    { name: 'refused as a file that does not parse (update_failure)', end: reading({ versionText: 'g1', attempt: 5, success: 4, failure: 1 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'refused', count: 1, counter: `${LDS}.update_failure`, refusal: 'failure' } },
    { name: 'refused twice (renamed again in its window)', end: reading({ versionText: 'g1', attempt: 6, success: 4, rejected: 2 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'refused', count: 2, counter: `${LDS}.update_rejected`, refusal: 'rejected' } },
    { name: 'Envoy did not read it before the newer rename (one read of both renames: no count)', end: reading({ versionText: 'g1', attempt: 4, success: 4 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'none' } },
    { name: 'Envoy accepted it', end: reading({ versionText: 'bad', attempt: 5, success: 5 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'accepted', count: 1, counter: `${LDS}.update_success` } },
    {
      name: 'an update Envoy took while other content was renamed in the window too: not credited to it',
      end: reading({ versionText: 'bad2', attempt: 5, success: 5 }, { sentAt: 115, answeredAt: 118 }),
      renames: [...renames.slice(0, 2), { sha256: 'bad2', version: 'bad2', at: 112 }],
      want: { kind: 'untold', count: 1, counter: `${LDS}.update_success` },
    },
    {
      name: 'the newer baseline answered after the newer rename: its update may be the one counted',
      end: reading({ versionText: 'g2', attempt: 5, success: 5 }, { sentAt: 105, answeredAt: 125 }),
      want: { kind: 'untold', count: 1, counter: `${LDS}.update_success` },
    },
    { name: 'the newer baseline was asked before this rename: it may not reflect it', end: reading({ versionText: 'g1', attempt: 5, success: 4, rejected: 1 }, { sentAt: 95, answeredAt: 110 }), want: { kind: 'unread', why: "Envoy's counters before the newer publish were read before this rename" } },
    { name: 'no newer baseline', end: undefined, want: { kind: 'unread', why: "Envoy's counters were not read before the newer publish" } },
    { name: 'another Envoy process answered', end: reading({ rejected: 1, attempt: 1 }, { epoch: 2, sentAt: 105, answeredAt: 110 }), want: { kind: 'unread', why: 'Envoy restarted in between' } },
    { name: 'no baseline of its own', old: { ...old, baseline: undefined }, end: reading({ rejected: 1, attempt: 5 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'unread', why: "Envoy's counters were not read before its rename" } },
    {
      name: 'other content renamed in the window too (a pass never tracked): not told which',
      end: reading({ versionText: 'g1', attempt: 6, success: 4, rejected: 1, failure: 1 }, { sentAt: 115, answeredAt: 118 }),
      renames: [...renames.slice(0, 2), { sha256: 'bad2', version: 'bad2', at: 112 }, { sha256: 'g2', version: 'g2', at: 120 }],
      want: { kind: 'unattributed', count: 2, counter: `${LDS}.update_rejected`, refusal: 'rejected', versions: ['bad2'] },
    },
    {
      name: 'the newer baseline answered after the newer rename (a pass that renamed first): it may hold the newer read',
      end: reading({ versionText: 'g1', attempt: 6, success: 5, rejected: 1 }, { sentAt: 105, answeredAt: 125 }),
      want: { kind: 'unattributed', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected', versions: ['g2'] },
    },
    { name: 'the same content renamed again in the window is its own', end: reading({ versionText: 'g1', attempt: 6, success: 4, rejected: 2 }, { sentAt: 115, answeredAt: 118 }), renames: [...renames.slice(0, 2), { sha256: 'bad', version: 'bad', at: 112 }], want: { kind: 'refused', count: 2, counter: `${LDS}.update_rejected`, refusal: 'rejected' } },
    { name: 'counters that went down (a scope made again) count from zero', end: reading({ versionText: 'g1', attempt: 1, rejected: 1 }, { sentAt: 105, answeredAt: 110 }), want: { kind: 'refused', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected' } },
  ];
  for (const c of cases) assert.deepEqual(supersededFate(c.old ?? old, c.end, [LDS], c.renames ?? renames), c.want, c.name);
  // Other content renamed in the window that Envoy took (running at the window's end, or recorded
  // accepted) is not what it refused there: the refusals are this publish's, said as refused.
  const undo = reading({ versionText: 'g1', attempt: 6, success: 5, rejected: 1 }, { sentAt: 105, answeredAt: 125 });
  const refusedOnce: SupersededFate = { kind: 'refused', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected' };
  const backToG1 = [...renames.slice(0, 2), { sha256: 'g1', version: 'g1', at: 112 }];
  assert.deepEqual(supersededFate(old, undo, [LDS], backToG1), refusedOnce, 'the edit undone: g1, which Envoy runs, renamed back in the window');
  assert.deepEqual(supersededFate(old, undo, [LDS], [...renames.slice(0, 2), { sha256: 'g1', version: undefined, at: 112 }], new Map([['g1', 'accepted']])), refusedOnce, 'no version_info: recorded accepted by its content');
  assert.deepEqual(supersededFate(old, undo, [LDS], [...backToG1, { sha256: 'g2', version: 'g2', at: 120 }]), { ...refusedOnce, kind: 'unattributed', versions: ['g2'] }, 'g2, never judged, could be the one refused');
  // A scope the file does not own says nothing of it.
  assert.deepEqual(supersededFate(old, reading({ rejected: 1, attempt: 5 }, { sentAt: 105, answeredAt: 110 }), ['cluster_manager.cds'], renames), { kind: 'none' });
});

// A window where other content was renamed too (a chain A, B, C... replaced within ms): whose
// Envoy's counts are, from what the watcher knows Envoy did with each content (each is judged
// alike at every read) and the version Envoy reports at the window's end. Never guessed.
test('a window with other content renamed in it: settled from contents Envoy took or refused, else not told', () => {
  const A = { sha256: 'a', version: 'va' };
  const rec = (sha256: string, at = 110): PublishRecord => ({ sha256, version: `v${sha256}`, at });
  const ok = `${LDS}.update_success`;
  const rej = `${LDS}.update_rejected`;
  const counts = (successes: number, refusals: number): WindowCounts => ({ successes, successCounter: successes > 0 ? ok : undefined, refusals, refusalCounter: refusals > 0 ? rej : undefined, refusal: 'rejected' });
  const known = (entries: Record<string, 'accepted' | 'refused'>): KnownContents => new Map(Object.entries(entries));
  const cases: { name: string; others: PublishRecord[]; counts: WindowCounts; running?: string[]; ranBefore?: boolean; known?: KnownContents; want: SupersededFate }[] = [
    { name: 'nothing counted', others: [rec('b')], counts: counts(0, 0), want: { kind: 'none' } },
    { name: 'an update, nothing else renamed: A', others: [], counts: counts(1, 0), want: { kind: 'accepted', count: 1, counter: ok } },
    { name: 'updates, B renamed too and never judged: not told whether Envoy read A', others: [rec('b')], counts: counts(2, 0), want: { kind: 'untold', count: 2, counter: ok } },
    { name: 'updates, B is content Envoy refuses: every update was A', others: [rec('b')], counts: counts(2, 0), known: known({ b: 'refused' }), want: { kind: 'accepted', count: 2, counter: ok } },
    { name: 'updates, B took too: not told', others: [rec('b')], counts: counts(2, 0), known: known({ b: 'accepted' }), want: { kind: 'untold', count: 2, counter: ok } },
    { name: "Envoy reports A's version at the end, not at the start: it read A and took it", others: [rec('b')], counts: counts(2, 0), running: ['va'], want: { kind: 'accepted', count: 1, counter: ok } },
    { name: "A's version reported at the start too: its own read is not shown", others: [rec('b')], counts: counts(2, 0), running: ['va'], ranBefore: true, want: { kind: 'untold', count: 2, counter: ok } },
    { name: 'A is content Envoy refuses and no refusal was counted: Envoy did not read it', others: [rec('b')], counts: counts(1, 0), known: known({ a: 'refused' }), want: { kind: 'none' } },
    { name: 'a refusal, nothing else renamed: A', others: [], counts: counts(0, 1), want: { kind: 'refused', count: 1, counter: rej, refusal: 'rejected' } },
    { name: 'a refusal, B and C Envoy took: A', others: [rec('b'), rec('c', 115)], counts: counts(2, 1), known: known({ b: 'accepted', c: 'accepted' }), want: { kind: 'refused', count: 1, counter: rej, refusal: 'rejected' } },
    { name: 'a refusal, B and C never judged: not told which', others: [rec('b'), rec('c', 115)], counts: counts(2, 1), want: { kind: 'unattributed', count: 1, counter: rej, refusal: 'rejected', versions: ['vb', 'vc'] } },
    {
      name: 'a refusal, A and C Envoy took: the refusal is B\'s (the one left)',
      others: [rec('b'), rec('c', 115)], counts: counts(2, 1), known: known({ a: 'accepted', c: 'accepted' }),
      want: { kind: 'unattributed', count: 1, counter: rej, refusal: 'rejected', versions: ['vb'], refusedBy: { sha256: 'b', version: 'vb', count: 1, counter: rej, refusal: 'rejected' } },
    },
    {
      name: 'a refusal and an update, B is content Envoy refuses: A accepted, the refusal B\'s',
      others: [rec('b')], counts: counts(1, 1), known: known({ b: 'refused' }),
      want: { kind: 'accepted', count: 1, counter: ok, refusedBy: { sha256: 'b', version: 'vb', count: 1, counter: rej, refusal: 'rejected' } },
    },
    { name: 'a refusal, A took, B and C never judged: not told which of them', others: [rec('b'), rec('c', 115)], counts: counts(1, 1), known: known({ a: 'accepted' }), want: { kind: 'unattributed', count: 1, counter: rej, refusal: 'rejected', versions: ['vb', 'vc'] } },
    { name: 'the same content renamed again is A itself', others: [rec('a')], counts: counts(0, 2), want: { kind: 'refused', count: 2, counter: rej, refusal: 'rejected' } },
  ];
  for (const c of cases) {
    assert.deepEqual(windowFate({ old: A, others: c.others, counts: c.counts, running: new Set(c.running ?? ['g0']), ranBefore: c.ranBefore ?? false, known: c.known ?? new Map() }), c.want, c.name);
  }
});

// A replaced publish that waited for the verdict on the newer one (superseded.ts judged): its line.
test('the fate of a replaced publish decided at the newer verdict', () => {
  const refused: SupersededFate = { kind: 'refused', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected' };
  const accepted: SupersededFate = { kind: 'accepted', count: 1, counter: `${LDS}.update_success` };
  const unattributed: SupersededFate = { kind: 'unattributed', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected', versions: ['v3'] };
  const untold: SupersededFate = { kind: 'untold', count: 2, counter: `${LDS}.update_success` };
  const unread: SupersededFate = { kind: 'unread', why: 'w' };
  const none: SupersededFate = { kind: 'none' };
  const cases: { name: string; waited: SupersededFate; settled: SupersededFate | undefined; outcome: string; want: SupersededFate | undefined }[] = [
    { name: 'not attributed, the newer verdict tells: refused', waited: unattributed, settled: refused, outcome: 'accepted', want: refused },
    { name: 'not attributed, still not told: said so', waited: unattributed, settled: unattributed, outcome: 'accepted', want: unattributed },
    { name: 'not attributed, the newer one refused too: still said so', waited: unattributed, settled: unattributed, outcome: 'rejected', want: unattributed },
    { name: 'not attributed, the window now says A took', waited: unattributed, settled: accepted, outcome: 'rejected', want: accepted },
    { name: 'untold, now told accepted', waited: untold, settled: accepted, outcome: 'rejected', want: accepted },
    { name: 'untold, still untold: no line', waited: untold, settled: untold, outcome: 'accepted', want: undefined },
    { name: 'unread, read up to an accepted verdict: its refusal', waited: unread, settled: refused, outcome: 'accepted', want: refused },
    { name: 'unread, up to an accepted verdict, not told which', waited: unread, settled: unattributed, outcome: 'accepted', want: unattributed },
    { name: "unread, up to a refused verdict: the refusals may be the newer one's, its own line says them", waited: unread, settled: refused, outcome: 'rejected', want: undefined },
    { name: 'unread, up to an unknown verdict: nothing said', waited: unread, settled: unattributed, outcome: 'unknown', want: undefined },
    { name: 'unread, an update only it can be credited with', waited: unread, settled: accepted, outcome: 'rejected', want: accepted },
    { name: 'unread, nothing counted', waited: unread, settled: none, outcome: 'accepted', want: undefined },
    { name: 'unread, still no window', waited: unread, settled: unread, outcome: 'accepted', want: undefined },
  ];
  for (const c of cases) assert.deepEqual(fateAtVerdict(c.waited, c.settled, c.outcome), c.want, c.name);
});

// A refused publish judged on its own, renamed twice (its pass renamed first and was published
// again, baseline-reads.ts): Envoy may read and refuse it twice; the line says each refusal.
test("a refused publish's own refusals: counted only when no other content was renamed before Envoy's answer", () => {
  const p = { sha256: 'bad', at: 100, baseline: reading({ versionText: 'g1', attempt: 4, success: 4, rejected: 1 }) };
  const end = reading({ versionText: 'g1', attempt: 6, success: 4, rejected: 2, failure: 1 }, { sentAt: 110, answeredAt: 112 });
  assert.equal(ownRefusals(p, end, [LDS], [{ sha256: 'g1', version: 'g1', at: 50 }, { sha256: 'bad', version: 'bad', at: 100 }, { sha256: 'bad', version: 'bad', at: 105 }]), 2, 'read twice, refused twice');
  assert.equal(ownRefusals(p, end, [LDS], [{ sha256: 'bad', version: 'bad', at: 100 }, { sha256: 'g2', version: 'g2', at: 111 }]), undefined, 'g2 renamed before the answer: one may be its');
  assert.equal(ownRefusals(p, end, [LDS], [{ sha256: 'g2', version: 'g2', at: 120 }]), 2, 'renamed after the answer: not in it');
  assert.equal(ownRefusals({ ...p, baseline: undefined }, end, [LDS], []), undefined, 'no baseline');
  assert.equal(ownRefusals(p, reading({ attempt: 1, rejected: 1 }, { epoch: 2 }), [LDS], []), undefined, 'another Envoy process');
});

test("Envoy's listener errors read after the newer rename: the older publish's only while every named one predates the newer publish", () => {
  const errs = (...ats: (number | undefined)[]) => ats.map((at, i) => (at === undefined ? { details: `e${String(i)}` } : { name: `l${String(i)}`, details: `e${String(i)}`, at }));
  assert.deepEqual(errorsBefore(errs(1000, undefined), 2000), errs(1000, undefined), "the LDS API's last update was before the newer publish");
  assert.equal(errorsBefore(errs(1000, 2000), 2000), undefined, 'one is from the newer publish on: the errors are its update');
  assert.equal(errorsBefore(errs(undefined), 2000), undefined, 'none named: no time to tell');
  assert.equal(errorsBefore([], 2000), undefined, 'none: the newer publish may have been accepted and cleared them');
  assert.equal(errorsBefore(undefined, 2000), undefined);
});

test('the line of a replaced publish says what Envoy counted, what replaced it, and nothing rolled back', () => {
  const refused = supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v3', fate: { kind: 'refused', count: 1, counter: `${LDS}.update_rejected`, refusal: 'rejected' }, because: 'Envoy says: x', keptAt: '/t/refused/lds.yaml' });
  assert.equal(refused, `Envoy rejected lds.yaml version v2 (${LDS}.update_rejected counted it); a newer publish replaced it on disk first, so nothing is rolled back for it (the ConfigMap has moved on); refused content kept at /t/refused/lds.yaml. Envoy says: x; version v3, which replaced it, is judged on its own`);
  assert.match(supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v3', fate: { kind: 'refused', count: 2, counter: `${LDS}.update_failure`, refusal: 'failure' } }), /version v2 2 times \(/);
  const unattributed = supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v4', fate: { kind: 'unattributed', count: 2, counter: `${LDS}.update_rejected`, refusal: 'rejected', versions: ['v3', undefined] } });
  assert.equal(unattributed, `Envoy counted 2 refusals of lds.yaml (${LDS}.update_rejected) after version v2 was published; other content (v3, (no version_info)) was renamed onto it too before Envoy's counters for the newer publish were read, so they do not tell which of these versions Envoy refused; version v4, which replaced it, is judged on its own`);
  assert.equal(supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v3', fate: { kind: 'accepted', count: 1, counter: `${LDS}.update_success` } }), `Envoy accepted lds.yaml version v2 (${LDS}.update_success counted it); a newer publish replaced it on disk before its verdict was read; version v3, which replaced it, is judged on its own`);
  assert.equal(supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v3', fate: { kind: 'none' }, before: '; before' }), 'lds.yaml version v2 was replaced by a newer publish before Envoy\'s verdict; version v3, which replaced it, is judged on its own; before');
});
