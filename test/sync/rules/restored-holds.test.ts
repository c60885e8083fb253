// The holds a watcher restores from its state file (src/sync/verdict/restored-holds.ts), as a
// table: a refusal stored with `dependsOn` keeps it; one stored before `dependsOn` was kept (an
// older watcher's state file) is decided from the reason stored with it; one from another Pod's
// Envoy (the last-accepted store keeps no reason) is released by no other key. Pure; the real
// watcher and Envoy: test/envoy/restored-holds.test.ts.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Holds } from '../../../src/sync/verdict/holds.js';
import { restoreHolds, restoredDependsOn } from '../../../src/sync/verdict/restored-holds.js';
import type { RestoreMap } from '../../../src/sync/verdict/restored-holds.js';
import type { FileState } from '../../../src/sync/verdict/state.js';

// envoy.yaml names lds.yaml (LDS) and cds.yaml (CDS); lds.yaml names rds.yaml (RDS) and script.lua (read once).
const READ_AS: Record<string, string[]> = { 'lds.yaml': ['LDS'], 'cds.yaml': ['CDS'], 'rds.yaml': ['RDS'], 'script.lua': ['read-once'] };
const map = (names: Record<string, string[]> = {}): RestoreMap => ({
  readAs: (name) => new Set(READ_AS[name] ?? []),
  names: (name) => names[name] ?? [],
  mayBeRead: (name) => (READ_AS[name] ?? []).some((t) => t !== 'read-once'),
  isRead: (name) => (READ_AS[name] ?? []).some((t) => t !== 'read-once'),
  secretReaders: () => ({ sdsFiles: [] }),
  readOnceReaders: (name) => (name === 'script.lua' ? [{ file: 'lds.yaml', resource: 'listener_0', holder: 'listener' }] : []),
});
const KEYS = ['envoy.yaml', 'lds.yaml', 'cds.yaml', 'rds.yaml', 'notes.txt'];
const refused = (r: Partial<NonNullable<FileState['refused']>>): NonNullable<FileState['refused']> => ({ sha256: 'bad', at: '2026-12-01T00:00:00.000Z', ...r });
const REJECTED = 'Filesystem config update rejected';

test('restoredDependsOn: the keys that may release a hold restored from the state file', () => {
  const cases: [string, string, NonNullable<FileState['refused']>, Record<string, string[]>, string[]][] = [
    ['stored with dependsOn: as stored', 'lds.yaml', refused({ dependsOn: ['cds.yaml'] }), {}, ['cds.yaml']],
    ['stored with dependsOn none: none', 'lds.yaml', refused({ dependsOn: [], why: { reason: "route: unknown cluster 'c'", envoyLog: REJECTED } }), {}, []],
    ['old shape, did not parse (update_failure): the bytes alone', 'lds.yaml', refused({ why: { envoyLog: 'Filesystem config update failure: in /etc/envoy/lds.yaml', schema: 'sees' } }), {}, []],
    ['old shape, a duplicate listener: the content alone', 'lds.yaml', refused({ why: { reason: 'duplicate listener listener_0 found', envoyLog: REJECTED } }), {}, []],
    ['old shape, a listener named for a cluster cannot bind: the content alone', 'lds.yaml', refused({ why: { reason: "listener cluster_front: cannot bind '127.0.0.1:80': Address already in use", envoyLog: REJECTED } }), {}, []],
    ['old shape, a route to an unknown cluster: the CDS file', 'lds.yaml', refused({ why: { reason: "listener listener_0: route: unknown cluster 'c'", envoyLog: REJECTED } }), {}, ['cds.yaml']],
    ['old shape, a named file not there: that file', 'lds.yaml', refused({ why: { reason: "paths must refer to an existing path in the system: '/etc/envoy/rds.yaml' does not exist", envoyLog: REJECTED } }), { 'lds.yaml': ['rds.yaml'] }, ['rds.yaml']],
    ['old shape, RDS (no reason from Envoy): the CDS file', 'rds.yaml', refused({ why: { envoyLog: REJECTED, schema: 'if-constraint' } }), {}, ['cds.yaml']],
    ['old shape, CDS (no reason from Envoy): no other CDS file', 'cds.yaml', refused({ why: { envoyLog: REJECTED, schema: 'if-constraint' } }), {}, []],
    ['old shape, no reason stored at all (LDS): the CDS file and the files it names', 'lds.yaml', refused({}), { 'lds.yaml': ['rds.yaml'] }, ['cds.yaml', 'rds.yaml']],
    ['old shape, content naming a file read once: any key it may depend on', 'lds.yaml', refused({ why: { reason: 'duplicate listener listener_0 found', envoyLog: REJECTED } }), { 'lds.yaml': ['script.lua'] }, ['envoy.yaml', 'cds.yaml', 'rds.yaml', 'notes.txt', 'script.lua']],
    ["another Pod's refusal (the store keeps no reason): none", 'lds.yaml', refused({ fromStore: 'web-1' }), {}, []],
  ];
  for (const [name, file, entry, names, expect] of cases) {
    assert.deepEqual([...restoredDependsOn(file, entry, KEYS, map(names))].sort(), [...expect].sort(), name);
  }
});

test('restoreHolds: an old-shape hold of the content alone is not released by an unrelated key, its own new content releases it; one on a cluster is released by cds.yaml', () => {
  const holds = new Holds();
  const released: string[] = [];
  holds.onRelease((file) => released.push(file));
  restoreHolds(holds, {
    'lds.yaml': { refused: refused({ sha256: 'bad-lds', why: { reason: 'duplicate listener listener_0 found', envoyLog: REJECTED } }) },
    'rds.yaml': { refused: refused({ sha256: 'bad-rds', why: { envoyLog: REJECTED, schema: 'if-constraint' } }) },
  }, ['envoy.yaml', 'cds.yaml'], map());
  const first = new Map([['envoy.yaml', 'b'], ['lds.yaml', 'bad-lds'], ['rds.yaml', 'bad-rds'], ['cds.yaml', 'c0'], ['notes.txt', 'n0']]);
  assert.equal(holds.isHeld('lds.yaml', 'bad-lds', first), true);
  assert.equal(holds.isHeld('rds.yaml', 'bad-rds', first), true);
  const notes = new Map([...first, ['notes.txt', 'n1']]);
  assert.equal(holds.isHeld('lds.yaml', 'bad-lds', notes), true, 'notes.txt changed: lds.yaml stays held');
  assert.equal(holds.isHeld('rds.yaml', 'bad-rds', notes), true, 'notes.txt changed: rds.yaml stays held');
  assert.deepEqual(holds.otherAccepted('cds.yaml'), ['rds.yaml'], 'Envoy accepted cds.yaml: only the refusal that may depend on it is tried again');
  assert.equal(holds.isHeld('lds.yaml', 'fixed', notes), false, 'its own fix releases it');
  assert.deepEqual(released, ['rds.yaml', 'lds.yaml']);
});

test("restoreHolds: another Pod's refusal stays held through a change of another key, until this Envoy judges the file", () => {
  const holds = new Holds();
  restoreHolds(holds, { 'lds.yaml': { refused: refused({ sha256: 'other-pod', fromStore: 'web-1' }) } }, ['envoy.yaml', 'cds.yaml'], map());
  const first = new Map([['lds.yaml', 'other-pod'], ['cds.yaml', 'c0']]);
  assert.equal(holds.isHeld('lds.yaml', 'other-pod', first), true);
  assert.equal(holds.isHeld('lds.yaml', 'other-pod', new Map([...first, ['cds.yaml', 'c1']])), true, 'cds.yaml changed');
  assert.equal(holds.acceptedHere('lds.yaml'), true, 'this Envoy runs the accepted version: judged here once');
  assert.equal(holds.isHeld('lds.yaml', 'other-pod', first), false);
});
