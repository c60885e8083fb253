// Which refused contents that stay published are renamed again (src/sync/verdict/refused-kept.ts
// keptRefusedToRetry, dependencyTakenSince, refusedKeptOnDisk) and which files a restarted Envoy's
// refusal at start makes the watcher judge again (envoy-restarted.ts judgeAgainAfterRestart), as tables. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { judgeAgainAfterRestart, restartMessage } from '../../../src/sync/verdict/envoy-restarted.js';
import { dependencyTakenSince, keptRefusedToRetry, refusedKeptOnDisk } from '../../../src/sync/verdict/refused-kept.js';
import type { FileState, VerdictState } from '../../../src/sync/verdict/state.js';

const AT = '2026-12-06T00:00:00.000Z';
const LATER = '2026-12-06T00:01:00.000Z';
const verdict = (outcome: 'accepted' | 'rejected' | 'unknown', rolledBack = false, version?: string): FileState['verdict'] => ({ outcome, rolledBack, message: outcome, at: AT, ...(version === undefined ? {} : { version }) });
/** lds.yaml refused for a cluster cds.yaml lacks, kept published (nothing before it). */
const KEPT: FileState = { published: { sha256: 'l', at: AT }, refused: { sha256: 'l', at: AT, dependsOn: ['cds.yaml'] }, verdict: verdict('rejected') };
const none = (): boolean => false;

test('keptRefusedToRetry: after Envoy accepted a file, the refused contents kept published whose refusal it may change', () => {
  const cases: { name: string; files: Record<string, FileState>; accepted: string; pending?: string[]; want: string[] }[] = [
    { name: 'the file its refusal depends on', files: { 'lds.yaml': KEPT }, accepted: 'cds.yaml', want: ['lds.yaml'] },
    { name: 'a file it does not depend on', files: { 'lds.yaml': KEPT }, accepted: 'rds.yaml', want: [] },
    { name: 'depends on any (unknown)', files: { 'lds.yaml': { ...KEPT, refused: { sha256: 'l', at: AT } } }, accepted: 'rds.yaml', want: ['lds.yaml'] },
    { name: 'found on disk at start: no publish recorded (the bytes are compared on disk)', files: { 'lds.yaml': { refused: KEPT.refused, verdict: KEPT.verdict } }, accepted: 'cds.yaml', want: ['lds.yaml'] },
    { name: 'a verdict on it pending', files: { 'lds.yaml': KEPT }, accepted: 'cds.yaml', pending: ['lds.yaml'], want: [] },
    { name: 'put back (held: the pass publishes it again)', files: { 'lds.yaml': { ...KEPT, verdict: verdict('rejected', true) } }, accepted: 'cds.yaml', want: [] },
    { name: 'a newer content published since', files: { 'lds.yaml': { ...KEPT, published: { sha256: 'm', at: AT } } }, accepted: 'cds.yaml', want: [] },
    { name: 'accepted since', files: { 'lds.yaml': { ...KEPT, verdict: verdict('accepted') } }, accepted: 'cds.yaml', want: [] },
    { name: 'the accepted file itself', files: { 'cds.yaml': KEPT }, accepted: 'cds.yaml', want: [] },
  ];
  for (const c of cases) {
    const pending = (file: string): boolean => (c.pending ?? []).includes(file);
    assert.deepEqual(keptRefusedToRetry(c.files, c.accepted, pending), c.want, c.name);
  }
  assert.equal(refusedKeptOnDisk(undefined), false);
});

test('dependencyTakenSince: a file the refusal depends on, published after the refused content was and accepted, with nothing pending on it', () => {
  const cds = (at: string, outcome: 'accepted' | 'rejected' = 'accepted', version = 'c2'): FileState => ({ published: { version: 'c2', sha256: 'c', at }, verdict: verdict(outcome, false, version) });
  const since = Date.parse(AT);
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'cds.yaml': cds(LATER) }, 'lds.yaml', since, none), 'cds.yaml', 'cds.yaml published after and taken');
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'cds.yaml': cds(AT) }, 'lds.yaml', since, none), undefined, 'published before the refused content was read: the refusal saw it');
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'cds.yaml': cds(LATER, 'rejected') }, 'lds.yaml', since, none), undefined, 'refused');
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'cds.yaml': cds(LATER, 'accepted', 'c1') }, 'lds.yaml', since, none), undefined, 'its verdict is of an earlier version');
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'cds.yaml': cds(LATER) }, 'lds.yaml', since, (f) => f === 'cds.yaml'), undefined, 'its verdict pending');
  assert.equal(dependencyTakenSince({ 'lds.yaml': KEPT, 'rds.yaml': cds(LATER) }, 'lds.yaml', since, none), undefined, 'not a file it depends on');
  assert.equal(dependencyTakenSince({ 'lds.yaml': { ...KEPT, refused: { sha256: 'l', at: AT } }, 'rds.yaml': cds(LATER) }, 'lds.yaml', since, none), 'rds.yaml', 'depends on any');
});

test('judgeAgainAfterRestart: a file last accepted that the restarted Envoy refused at start is judged again; restartMessage says why', () => {
  const state: VerdictState = {
    pid: 1, sourceDir: '/s', targetDir: '/t', updatedAt: AT,
    files: {
      'lds.yaml': { published: { version: 'l1', sha256: 'l', at: AT }, verdict: verdict('accepted', false, 'l1') },
      'cds.yaml': { published: { version: 'c2', sha256: 'c', at: AT }, verdict: verdict('accepted', false, 'c2') },
      'rds.yaml': { published: { version: 'r1', sha256: 'r', at: AT }, verdict: verdict('rejected', false, 'r1') },
    },
  };
  assert.deepEqual(judgeAgainAfterRestart(state, none), []);
  assert.deepEqual(judgeAgainAfterRestart(state, none, ['lds.yaml', 'rds.yaml']), ['lds.yaml'], 'an accepted one; a refused one stays as judged');
  assert.deepEqual(judgeAgainAfterRestart(state, (f) => f === 'lds.yaml', ['lds.yaml']), [], 'pending: judged already');
  const message = restartMessage({ why: 'it started at T' }, [{ file: 'cds.yaml', version: 'c2' }, { file: 'lds.yaml', version: '', refused: true }], ['lds.yaml'], ['lds.yaml']);
  assert.match(message, /at start it loaded cds\.yaml version c2, lds\.yaml \(refused it\)\..*; judging lds\.yaml again \(accepted before, refused by this Envoy at start\)$/);
});

test('judgeAgainAfterRestart: a refused content that stays published, which the restarted Envoy took at start (its version reported), is judged again; restartMessage says why', () => {
  const refusedKept = { published: { version: 'l2', sha256: 'l', at: AT }, verdict: verdict('rejected', false, 'l2'), refused: { version: 'l2', sha256: 'l', at: AT } };
  const state: VerdictState = { pid: 1, sourceDir: '/s', targetDir: '/t', updatedAt: AT, files: { 'lds.yaml': refusedKept, 'cds.yaml': { published: { version: 'c2', sha256: 'c', at: AT }, verdict: verdict('accepted', false, 'c2') } } };
  assert.deepEqual(judgeAgainAfterRestart(state, none, [], new Map([['lds.yaml', 'l2'], ['cds.yaml', 'c2']])), ['lds.yaml']);
  assert.deepEqual(judgeAgainAfterRestart(state, none, [], new Map([['lds.yaml', 'l1']])), [], 'Envoy reports another version: not the refused content');
  assert.deepEqual(judgeAgainAfterRestart(state, none, ['lds.yaml'], new Map()), [], 'refused at start again: stays as judged');
  const rolledBack = { ...state, files: { 'lds.yaml': { ...refusedKept, verdict: verdict('rejected', true, 'l2') } } };
  assert.deepEqual(judgeAgainAfterRestart(rolledBack, none, [], new Map([['lds.yaml', 'l2']])), [], 'put back: the refused content is not what is published');
  const message = restartMessage({ why: 'it started at T' }, [{ file: 'lds.yaml', version: 'l2' }], ['lds.yaml'], [], ['lds.yaml']);
  assert.match(message, /at start it loaded lds\.yaml version l2\..*; judging lds\.yaml again \(refused before, loaded by this Envoy at start\)$/);
});
