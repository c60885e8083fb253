// What a refusal goes back to (src/sync/verdict/conclude.ts): the version Envoy runs, also when a
// newer publish replaced its file before its verdict. Fresh-user loop (rapid good/bad/good swaps
// 0-20 ms apart, real Envoy 1.40, 4 of 20 sequences at load 9): the good lds.yaml was accepted
// after the bad one was already renamed over it, its accepted copy was not kept, and the refusal
// of the bad one put the version before back on disk, which Envoy then loaded. Envoy's answer
// is given here as the counters it reported then (the real-Envoy loop is in the report of issue 18);
// the files, the rollback's rename and the state are real.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Conclusions } from '../../src/sync/verdict/conclude.js';
import type { Pending } from '../../src/sync/verdict/pending.js';
import type { StateWriter, VerdictState } from '../../src/sync/verdict/state.js';
import { LDS, conclusionsAt, envoyReporting } from './conclusions-harness.js';
import { makeTempDirs } from './harness.js';

const roots: string[] = [];
const writers: StateWriter[] = [];
after(async () => {
  await Promise.all(writers.map((writer) => writer.flush()));
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

const envoy = envoyReporting;

async function setUp(): Promise<{ target: string; conclusions: Conclusions; publish: (version: string, at?: number) => Promise<Pending>; state: VerdictState; heldAtRestore: boolean[] }> {
  const dirs = await makeTempDirs('rollback-target-');
  roots.push(dirs.root);
  return { target: dirs.target, ...conclusionsAt(dirs.target, dirs.source, writers) };
}

const refusedBy = (version: string): Parameters<Conclusions['conclude']>[1] => ({
  outcome: 'rejected',
  judgement: { outcome: 'rejected', subscription: LDS, kind: 'rejected' },
  counters: envoy(version, 1),
  own: [LDS],
  now: 1,
  why: { envoyLog: 'Filesystem config update rejected', schema: 'sees' },
});

test("a good version accepted after the bad one was renamed over it: the bad one's refusal puts the good one back (what Envoy runs)", async () => {
  const { target, conclusions, publish, state, heldAtRestore } = await setUp();
  const v0 = await publish('v0');
  await conclusions.conclude(v0, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('v0', 0), own: [LDS], now: 1 });
  const good = await publish('good');
  const bad = await publish('bad'); // renamed before the good one's verdict
  await conclusions.conclude(good, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('good', 0), own: [LDS], now: 1 });
  await conclusions.conclude(bad, refusedBy('good'));
  assert.match(await readFile(join(target, 'lds.yaml'), 'utf8'), /"good"/, 'the version Envoy runs is back on disk');
  assert.equal(state.files['lds.yaml']?.accepted?.version, 'good');
  assert.match(state.files['lds.yaml'].verdict?.message ?? '', /keeps running good, which is back on disk/);
  // A pass queued behind the rollback's rename finds the refused content held (measured: the next
  // swap's pass ran between the rename and the hold and published the refused content again).
  assert.deepEqual(heldAtRestore, [true]);
});

test('a good version whose verdict a newer publish replaced (no line), Envoy runs it: the refusal of the newer one puts it back', async () => {
  const { target, conclusions, publish, state } = await setUp();
  const v0 = await publish('v0');
  await conclusions.conclude(v0, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('v0', 0), own: [LDS], now: 1 });
  const good = await publish('good');
  const bad = await publish('bad');
  conclusions.superseded.replace(good, bad, [LDS]);
  await conclusions.conclude(bad, refusedBy('good'));
  assert.match(await readFile(join(target, 'lds.yaml'), 'utf8'), /"good"/, 'the version Envoy runs is back on disk');
  assert.equal(state.files['lds.yaml']?.accepted?.version, 'good');
  // Envoy runs v0 (the superseded version never reached it): v0 goes back, as before.
  const { target: target2, conclusions: c2, publish: publish2 } = await setUp();
  const w0 = await publish2('v0');
  await c2.conclude(w0, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('v0', 0), own: [LDS], now: 1 });
  const skipped = await publish2('good');
  const bad2 = await publish2('bad');
  c2.superseded.replace(skipped, bad2, [LDS]);
  await c2.conclude(bad2, refusedBy('v0'));
  assert.match(await readFile(join(target2, 'lds.yaml'), 'utf8'), /"v0"/);
});

// Plain-directory trial (issue 18): A accepted, then B (refused) and C (accepted) renamed 0-20 ms
// apart; B's refusal was concluded after Envoy had read C (it reports C) but before C's publish was
// tracked, and the accepted A was renamed over C: the disk no longer held what Envoy ran.
test('a refusal concluded once Envoy runs a publish renamed after the refused one: nothing is put back over it, and nothing held', async () => {
  const { target, conclusions, publish, state, heldAtRestore } = await setUp();
  const v0 = await publish('v0', 1);
  await conclusions.conclude(v0, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('v0', 0), own: [LDS], now: 1 });
  const bad = await publish('bad', 10);
  const newer = await publish('newer', 20);
  conclusions.superseded.published([bad, newer].map((p) => ({ name: p.file, sha256: p.sha256, version: p.version, at: p.at })));
  await conclusions.conclude(bad, refusedBy('newer'));
  assert.match(await readFile(join(target, 'lds.yaml'), 'utf8'), /"newer"/, 'what Envoy runs stays on disk');
  assert.deepEqual(heldAtRestore, [], 'nothing renamed back');
  const entry = state.files['lds.yaml'];
  assert.equal(entry?.verdict?.outcome, 'rejected');
  assert.equal(entry.verdict.rolledBack, false);
  assert.match(entry.verdict.message, /keeps running newer, a later version it accepted/);
  assert.match(await readFile(join(target, '..envoy-xds-verdict', 'refused', 'lds.yaml'), 'utf8'), /"bad"/, 'the refused bytes are kept, not the newer file');
  // Envoy runs the version published before the refused one (not after it): that goes back, as before.
  const { target: target2, conclusions: c2, publish: publish2 } = await setUp();
  await c2.conclude(await publish2('v0', 1), { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoy('v0', 0), own: [LDS], now: 1 });
  const bad2 = await publish2('bad', 10);
  c2.superseded.published([{ name: 'lds.yaml', sha256: 'bad', version: 'bad', at: 10 }]);
  await c2.conclude(bad2, refusedBy('v0'));
  assert.match(await readFile(join(target2, 'lds.yaml'), 'utf8'), /"v0"/);
});
