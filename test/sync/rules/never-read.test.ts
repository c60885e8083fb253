// A file of a change Envoy will never read (src/sync/verdict/never-read.ts): no subscription reads
// it and Envoy refused every file that names it, so a verdict waiting for it does not wait for
// --verdict-timeout. With real Envoy 1.40: the corpus sequence srds-new-scopes-file
// (test/envoy/verdict-sequences.test.ts, --verdict-timeout 600s).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { neverRead, stillToCome, waitedFor } from '../../../src/sync/verdict/never-read.js';
import type { Namer } from '../../../src/sync/verdict/never-read.js';
import type { Pending } from '../../../src/sync/verdict/pending.js';

const refused = (file: string): Namer => ({ file, refused: true });
const taken = (file: string): Namer => ({ file, refused: false });

test('neverRead: unread, and every file naming it refused', () => {
  const cases: [string, boolean, Namer[], boolean][] = [
    // name, read (a stats scope), namers, never read
    ['rds.yaml of scoped routes: lds.yaml and srds.yaml refused, no RDS subscription', false, [refused('lds.yaml'), refused('srds.yaml')], true],
    ['srds.yaml refused, lds.yaml not judged yet (Envoy may not have applied it)', false, [taken('lds.yaml'), refused('srds.yaml')], false],
    ['a subscription reads it (a previous version named it)', true, [refused('lds.yaml'), refused('srds.yaml')], false],
    ['eds.yaml of a refused cds.yaml', false, [refused('cds.yaml')], true],
    ['eds.yaml: Envoy kept the cluster of a refused cds.yaml (CDS applies cluster by cluster)', true, [refused('cds.yaml')], false],
    ['named by the bootstrap (never refused)', false, [taken('envoy.yaml')], false],
    ['named by two listeners files, one Envoy runs', false, [refused('lds.yaml'), taken('lds-2.yaml')], false],
    ['no file names it (not known here)', false, [], false],
  ];
  for (const [name, read, namers, want] of cases) assert.equal(neverRead(read, namers), want, name);
});

test('stillToCome: a pending verdict is waited for unless Envoy will never read its file', () => {
  assert.equal(stillToCome({ pending: true, scopes: 0, namers: [refused('lds.yaml'), refused('srds.yaml')] }), false);
  assert.equal(stillToCome({ pending: true, scopes: 0, namers: [refused('lds.yaml'), taken('srds.yaml')] }), true);
  assert.equal(stillToCome({ pending: true, scopes: 1, namers: [refused('lds.yaml')] }), true);
  assert.equal(stillToCome({ pending: false, scopes: 0, namers: [] }), false);
});

test('waitedFor: what the poll loop knows of a file waited for (set-aside refusals, namers no longer pending)', () => {
  const publish = (file: string, more: Partial<Pending> = {}): Pending => ({ file, ...more }) as unknown as Pending;
  const lds = publish('lds.yaml', { deferred: {} as Pending['deferred'] });
  const rds = publish('rds.yaml');
  const srds = publish('srds.yaml', { deferred: {} as Pending['deferred'] });
  const of = (pending: Pending[], refusedOnDisk: string[] = []) => ({
    pending: new Map(pending.map((p) => [p.file, p])),
    scopes: () => 0,
    namersOf: (file: string) => (file === 'rds.yaml' ? ['lds.yaml', 'srds.yaml'] : ['envoy.yaml']),
    refusedOnDisk: (file: string) => refusedOnDisk.includes(file),
  });
  // lds.yaml's refusal set aside waits for rds.yaml: its namers' refusals are set aside too.
  assert.deepEqual(waitedFor('rds.yaml', lds, false, of([lds, rds, srds])), { pending: true, scopes: 0, namers: [refused('lds.yaml'), refused('srds.yaml')] });
  // srds.yaml concluded, refused and left published (no version to put back): still refused.
  assert.deepEqual(waitedFor('rds.yaml', lds, false, of([lds, rds], ['srds.yaml'])).namers, [refused('lds.yaml'), refused('srds.yaml')]);
  // srds.yaml concluded and put back (or accepted): it may read rds.yaml.
  assert.deepEqual(waitedFor('rds.yaml', lds, false, of([lds, rds])).namers, [refused('lds.yaml'), taken('srds.yaml')]);
  // A set-aside refusal is not waited for by another set-aside refusal, but is by an acceptance waiting for a CDS file.
  assert.equal(waitedFor('srds.yaml', lds, false, of([lds, srds])).pending, false);
  assert.equal(waitedFor('srds.yaml', lds, true, of([lds, srds])).pending, true);
  // Not the waiter itself, nor a file no longer pending, nor one whose acceptance is set aside.
  assert.equal(waitedFor('lds.yaml', lds, true, of([lds])).pending, false);
  assert.equal(waitedFor('cds.yaml', lds, true, of([lds])).pending, false);
  assert.equal(waitedFor('cds.yaml', lds, true, of([lds, publish('cds.yaml', { acceptedAside: {} as Pending['acceptedAside'] })])).pending, false);
  // A newer publish handed over, its pass waiting for Envoy's answer (baseline-reads.ts): not pending yet, its verdict to come.
  const queued = (...files: string[]) => (file: string): boolean => files.includes(file);
  assert.equal(waitedFor('cds.yaml', lds, true, { ...of([lds]), queued: queued('cds.yaml') }).pending, true);
  assert.equal(waitedFor('cds.yaml', lds, false, { ...of([lds]), queued: queued('cds.yaml') }).pending, true, 'a set-aside refusal waits for it too');
  assert.equal(waitedFor('lds.yaml', lds, true, { ...of([lds]), queued: queued('lds.yaml') }).pending, false, 'not the waiter\'s own file');
  assert.equal(waitedFor('cds.yaml', lds, true, { ...of([lds]), queued: queued('rds.yaml') }).pending, false);
});
