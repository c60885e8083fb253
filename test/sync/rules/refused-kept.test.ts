// Which files a pass judges again although it did not rename them (src/sync/verdict/refused-kept.ts),
// as a table: a refused content that stays published (nothing to put back), touched by the pass
// through a file it names or a file naming it. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { refusedKeptOnDisk, refusedKeptTouched, refusedStaysPublishedState } from '../../../src/sync/verdict/refused-kept.js';
import type { FileState } from '../../../src/sync/verdict/state.js';

const AT = '2026-12-06T00:00:00.000Z';
const verdict = (outcome: 'accepted' | 'rejected' | 'unknown', rolledBack = false): FileState['verdict'] => ({ outcome, rolledBack, message: outcome, at: AT });
/** Refused first, kept published (corpus sequence new-tls-listener-sds, step 1's sds.yaml). */
const KEPT: FileState = { published: { sha256: 'a', at: AT }, refused: { sha256: 'a', at: AT }, verdict: verdict('rejected') };
const NAMES: Record<string, string[]> = { 'lds.yaml': ['sds.yaml'], 'sds.yaml': ['cert.pem', 'key.pem'], 'rds.yaml': [], 'tls.yaml': ['cert.pem'] };
const names = (file: string): string[] => NAMES[file] ?? [];

const cases: { name: string; files: Record<string, FileState>; renamed: string[]; again: string[] }[] = [
  { name: 'the files it names published (the matching pair, measured)', files: { 'sds.yaml': KEPT }, renamed: ['cert.pem', 'key.pem'], again: ['sds.yaml'] },
  { name: 'the file naming it published (the listener opening its subscription)', files: { 'sds.yaml': KEPT }, renamed: ['lds.yaml'], again: ['sds.yaml'] },
  { name: 'renamed by the pass itself: judged as any publish', files: { 'sds.yaml': KEPT }, renamed: ['sds.yaml', 'cert.pem'], again: [] },
  { name: 'a pass touching neither', files: { 'sds.yaml': KEPT, 'rds.yaml': KEPT }, renamed: ['cds.yaml'], again: [] },
  { name: 'put back and held: the hold publishes it again (holds.ts)', files: { 'sds.yaml': { ...KEPT, published: { sha256: 'old', at: AT }, verdict: verdict('rejected', true) } }, renamed: ['cert.pem'], again: [] },
  { name: 'a newer content published since the refusal', files: { 'sds.yaml': { ...KEPT, published: { sha256: 'b', at: AT } } }, renamed: ['cert.pem'], again: [] },
  { name: 'accepted since (the refusal record kept while held)', files: { 'sds.yaml': { ...KEPT, verdict: verdict('accepted') } }, renamed: ['cert.pem'], again: [] },
  { name: 'last said unknown', files: { 'sds.yaml': { ...KEPT, verdict: verdict('unknown') } }, renamed: ['cert.pem'], again: [] },
  { name: 'every one touched, sorted; one renamed and one touching none left out', files: { 'tls.yaml': KEPT, 'sds.yaml': KEPT, 'rds.yaml': KEPT, 'lds.yaml': KEPT }, renamed: ['cert.pem', 'rds.yaml'], again: ['sds.yaml', 'tls.yaml'] },
];

for (const c of cases) {
  test(`refusedKeptTouched: ${c.name}`, () => {
    assert.deepEqual(refusedKeptTouched(c.files, c.renamed, names), c.again);
  });
}

// The one rule for "Envoy refused the content on disk" (refusedKeptOnDisk; refusedStaysPublishedState
// with a publish recorded): refused-retry.ts, refusedKeptTouched and never-read.ts (a namer's
// refusal, tracker.ts) ask it. Rows as conclude.ts writes the state (version: as the lines show it).
test('refusedKeptOnDisk / refusedStaysPublishedState: the last verdict refused the content last published, and nothing was put back', () => {
  const refusedAs = (sha256: string, version?: string, rolledBack = false): Pick<FileState, 'refused' | 'verdict'> => ({ refused: { sha256, at: AT, ...(version === undefined ? {} : { version }) }, verdict: { outcome: 'rejected', rolledBack, message: '', at: AT, version: version ?? `sha256:${sha256.repeat(12)}` } });
  const published = (sha256: string, version?: string): FileState['published'] => ({ sha256, at: AT, ...(version === undefined ? {} : { version }) });
  // [name, entry, refusedKeptOnDisk, refusedStaysPublishedState]
  const rows: [string, FileState | undefined, boolean, boolean][] = [
    ['no state', undefined, false, false],
    ['refused, nothing put back', { published: published('a', 'v1+sha256:aaaaaaaaaaaa'), ...refusedAs('a', 'v1+sha256:aaaaaaaaaaaa') }, true, true],
    ['refused and put back', { published: published('a', 'v1+sha256:aaaaaaaaaaaa'), ...refusedAs('a', 'v1+sha256:aaaaaaaaaaaa', true) }, false, false],
    ['refused an earlier version: another published since', { published: published('b', 'v2+sha256:bbbbbbbbbbbb'), ...refusedAs('a', 'v1+sha256:aaaaaaaaaaaa') }, false, false],
    ['accepted since (the refusal record kept while held)', { published: published('a', 'v1+sha256:aaaaaaaaaaaa'), refused: { sha256: 'a', at: AT }, verdict: { outcome: 'accepted', rolledBack: false, message: '', at: AT, version: 'v1+sha256:aaaaaaaaaaaa' } }, false, false],
    ['refused, then a put-back\'s hold released (the state forgets the refusal)', { published: published('a', 'v1+sha256:aaaaaaaaaaaa'), verdict: refusedAs('a', 'v1+sha256:aaaaaaaaaaaa', true).verdict }, false, false],
    ['last said unknown', { published: published('a'), refused: { sha256: 'a', at: AT }, verdict: verdict('unknown') }, false, false],
    ['found on disk at start: no publish recorded (the caller compares the bytes)', refusedAs('a', 'v1+sha256:aaaaaaaaaaaa'), true, false],
    // state.ts refusedOnDisk compared the versions: a content published with none (flow-style YAML,
    // `version_info: 3`, a certificate) was never refused on disk for never-read.ts.
    ['published with no version (its line shows its digest)', { published: published('a'), ...refusedAs('a') }, true, true],
  ];
  for (const [name, entry, kept, stays] of rows) {
    assert.equal(refusedKeptOnDisk(entry), kept, `refusedKeptOnDisk: ${name}`);
    assert.equal(refusedStaysPublishedState(entry), stays, `refusedStaysPublishedState: ${name}`);
  }
});
