// The lines of publishes replaced before their verdict (src/sync/verdict/superseded.ts) on a real
// target directory, Envoy's answers given as the counters it reports: several replaced publishes
// of one file wait for a newer verdict at once, and each gets the line Envoy's counters settle.
import { KeptVersions } from '../../src/sync/verdict/kept.js';
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { EnvoyCounters } from '../../src/sync/envoy/stat-prefixes.js';
import { newPending } from '../../src/sync/verdict/pending.js';
import type { Pending } from '../../src/sync/verdict/pending.js';
import { StateWriter } from '../../src/sync/verdict/state.js';
import type { VerdictState } from '../../src/sync/verdict/state.js';
import { SupersededPublishes } from '../../src/sync/verdict/superseded.js';
import type { Verdict } from '../../src/sync/verdict/verdict.js';

const LDS = 'listener_manager.lds';
const FILE = 'lds.yaml';
const reading = (c: { success: number; rejected: number; versionText: string }, sentAt: number, answeredAt: number): EnvoyCounters => ({
  subscriptions: new Map([[LDS, { ...c, attempt: c.success + c.rejected, failure: 0 }]]),
  unknownFields: 0,
  sslContextUpdates: 0,
  epoch: 1,
  sentAt,
  answeredAt,
});

async function withSuperseded(run: (s: SupersededPublishes, lines: Verdict[]) => Promise<void>): Promise<void> {
  const target = await mkdtemp(join(tmpdir(), 'superseded-lines-'));
  const state: VerdictState = { pid: process.pid, sourceDir: target, targetDir: target, updatedAt: '', files: {} };
  const stateFile = new StateWriter(target, () => state, () => undefined);
  const lines: Verdict[] = [];
  const superseded = new SupersededPublishes({ logger: pino({ level: 'silent' }), targetDir: target, state, stateFile, listeners: [(v) => { lines.push(v); }], admin: () => undefined, pathOf: (name) => join(target, name), validateHint: (name) => `validate ${name}`, kept: new KeptVersions(target) });
  try {
    await run(superseded, lines);
  } finally {
    await stateFile.flush();
    await rm(target, { recursive: true, force: true });
  }
}

/** A publish of lds.yaml with content (and version) `sha`, renamed at `at`, judged against `baseline`. */
function publish(superseded: SupersededPublishes, sha: string, at: number, baseline: EnvoyCounters): Pending {
  superseded.published([{ name: FILE, sha256: sha, version: sha, at }]);
  return newPending({ name: FILE, content: Buffer.from(`version_info: "${sha}"\n`), version: sha, sha256: sha, ino: 1, at }, { previousVersion: undefined, baseline, names: [], deadline: at + 10_000, initial: false, inFlight: new Set(), retried: false });
}

test('two replaced publishes wait for the same newer verdict: both are decided, the refusal is the one Envoy refused', () => withSuperseded(async (superseded, lines) => {
  // g1 was judged accepted before (nothing else Envoy reads changed since).
  const g1 = publish(superseded, 'g1', 10, reading({ success: 3, rejected: 0, versionText: 'g0' }, 5, 6));
  await superseded.judged(g1, 'accepted', reading({ success: 4, rejected: 0, versionText: 'g1' }, 20, 21), [LDS]);
  // bad (A) renamed at 100; g1 again (B) at 110, its baseline asked before A's rename (A: no window);
  // g2 (C) at 120, its baseline asked before B's rename (B: no window either). Both wait for C's verdict.
  const A = publish(superseded, 'bad', 100, reading({ success: 4, rejected: 0, versionText: 'g1' }, 90, 95));
  const B = publish(superseded, 'g1', 110, reading({ success: 4, rejected: 0, versionText: 'g1' }, 95, 96));
  superseded.replace(A, B, [LDS]);
  const C = publish(superseded, 'g2', 120, reading({ success: 4, rejected: 0, versionText: 'g1' }, 105, 106));
  superseded.replace(B, C, [LDS]);
  assert.equal(lines.length, 0, 'nothing said before the verdict on C');
  // Envoy read A (refused), then B and C (accepted): C accepted.
  await superseded.judged(C, 'accepted', reading({ success: 6, rejected: 1, versionText: 'g2' }, 130, 131), [LDS]);
  assert.deepEqual(lines.map((l) => `${l.outcome} ${String(l.version)}`), ['rejected bad'], 'A refused (its line was lost when B waited too); B, content Envoy took, is not blamed');
}));

test('a publish handed over by a round that judged it after the newer one was replaced too waits for the newest verdict', () => withSuperseded(async (superseded, lines) => {
  const g1 = publish(superseded, 'g1', 10, reading({ success: 3, rejected: 0, versionText: 'g0' }, 5, 6));
  await superseded.judged(g1, 'accepted', reading({ success: 4, rejected: 0, versionText: 'g1' }, 20, 21), [LDS]);
  const A = publish(superseded, 'bad', 100, reading({ success: 4, rejected: 0, versionText: 'g1' }, 90, 95));
  const B = publish(superseded, 'g1', 110, reading({ success: 4, rejected: 0, versionText: 'g1' }, 95, 96));
  const C = publish(superseded, 'g2', 120, reading({ success: 4, rejected: 0, versionText: 'g1' }, 105, 106));
  const D = publish(superseded, 'g3', 140, reading({ success: 5, rejected: 1, versionText: 'g2' }, 135, 136));
  // The round judging A hands it over only after B was replaced by C, and C by D (poll.ts replacedWhileJudged).
  superseded.replace(B, C, [LDS]);
  superseded.replace(C, D, [LDS]);
  superseded.replace(A, B, [LDS]);
  await superseded.judged(D, 'accepted', reading({ success: 6, rejected: 1, versionText: 'g3' }, 150, 151), [LDS]);
  assert.ok(lines.some((l) => l.outcome === 'rejected' && l.version === 'bad'), `A's refusal is said: ${JSON.stringify(lines.map((l) => [l.outcome, l.version]))}`);
}));

test('configMapAt: the ConfigMap of the last pass renamed before a verdict\'s answer (what Envoy read with a refused file: a pair published, then a certificate that does not match, 08 in random edit orders)', () => withSuperseded((superseded) => {
  const pairB = new Map([['cert.pem', 'b'], ['key.pem', 'b']]);
  const mismatch = new Map([['cert.pem', 'c'], ['key.pem', 'b']]);
  assert.equal(superseded.configMapAt(100), undefined, 'no pass yet');
  superseded.published([{ name: 'cert.pem', sha256: 'b', version: undefined, at: 10, configMap: pairB }, { name: 'key.pem', sha256: 'b', version: undefined, at: 10, configMap: pairB }]);
  superseded.published([{ name: 'cert.pem', sha256: 'c', version: undefined, at: 17, configMap: mismatch }]);
  assert.equal(superseded.configMapAt(5), undefined, 'before any pass');
  assert.equal(superseded.configMapAt(12), pairB);
  assert.equal(superseded.configMapAt(24), mismatch, 'key.pem refused at 24: Envoy read it with cert c, not with the pair it was published in');
  return Promise.resolve();
}));
