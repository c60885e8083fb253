// Whether Envoy kept, as it runs, a resource a read-once file was published for
// (src/sync/verdict/reader-kept.ts), as tables: Envoy's config dump (per resource `version_info`,
// active and warming) against the version of the reader file Envoy just accepted; and what the
// rider's verdict and its hold say. Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { DynamicResource } from '../../../src/sync/envoy/admin.js';
import type { ReadOnceReader } from '../../../src/sync/publish/read-once.js';
import { BUILT_MARGIN_MS, keptMessages, keptReaders } from '../../../src/sync/verdict/reader-kept.js';
import type { ReaderKind } from '../../../src/sync/verdict/reader-running.js';

const L0: ReadOnceReader = { file: 'lds.yaml', resource: 'listener_0', holder: 'listener' };
const L1: ReadOnceReader = { file: 'lds.yaml', resource: 'listener_1', holder: 'listener' };
const ROUTE: ReadOnceReader = { file: 'rds.yaml', resource: 'local_route', holder: 'route configuration' };
const CLUSTER: ReadOnceReader = { file: 'cds.yaml', resource: 'backend', holder: 'cluster' };
const NEW = '1+sha256:bbbbbbbbbbbb';
const OLD = '1+sha256:aaaaaaaaaaaa';

const SINCE = Date.parse('2026-12-05T06:53:44.000Z'); // the rider's rename, before the reader's
const BEFORE = SINCE - 5000;
const AFTER = SINCE + 40;

const MID = '2+sha256:cccccccccccc';

const cases: { why: string; readers: ReadOnceReader[]; file: string; version: string | undefined; since?: number; previous?: string; dumped: [ReaderKind, DynamicResource[]][]; expect: string[] }[] = [
  { why: 'kept, the version accepted before recorded: Envoy runs it as that version has it', readers: [L0], file: 'lds.yaml', version: NEW, previous: OLD, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }]]], expect: ['listener_0@' + OLD + '/' + OLD] },
  { why: 'kept after an in-place update (version_info still the older one, last_updated of the update): the version accepted before, not the dump\'s', readers: [L0], file: 'lds.yaml', version: NEW, previous: MID, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }]]], expect: ['listener_0@' + MID + '/' + OLD] },
  { why: 'Envoy rebuilt listener_0: its version is the accepted one', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: NEW, updatedAtMs: AFTER }]]], expect: [] },
  { why: 'Envoy kept listener_0 (the edit hashed the same): its version and last_updated are the old ones', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }]]], expect: ['listener_0@' + OLD] },
  { why: 'listener_0 updated in place (its filter chains alone changed): Envoy keeps the old version_info, last_updated moves', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: AFTER }]]], expect: [] },
  { why: 'built within the margin before the rider\'s rename (Envoy\'s clock, rounded to the ms): counts as built', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: SINCE - BUILT_MARGIN_MS }]]], expect: [] },
  { why: 'built just before the margin: kept', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: SINCE - BUILT_MARGIN_MS - 1 }]]], expect: ['listener_0@' + OLD] },
  { why: 'a rebuilt listener still warming: its warming entry counts', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }, { name: 'listener_0', version: NEW, updatedAtMs: AFTER }]]], expect: [] },
  { why: 'one of two readers kept: only that one', readers: [L0, L1], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: NEW, updatedAtMs: AFTER }, { name: 'listener_1', version: OLD, updatedAtMs: BEFORE }]]], expect: ['listener_1@' + OLD] },
  { why: 'a reader Envoy does not list (nothing it runs reads the old file): not kept', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', []]], expect: [] },
  { why: 'no version Envoy reports (flow-style YAML): the time alone tells', readers: [L0], file: 'lds.yaml', version: undefined, dumped: [['LDS', [{ name: 'listener_0', version: '', updatedAtMs: BEFORE }]]], expect: ['listener_0@'] },
  { why: 'neither a version nor a publish time: the watcher cannot tell, nothing kept', readers: [L0], file: 'lds.yaml', version: undefined, since: Number.NaN, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }]]], expect: [] },
  { why: 'no last_updated in the dump and an old version: kept', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD }]]], expect: ['listener_0@' + OLD] },
  { why: 'a reader in another file than the accepted one: not this verdict\'s', readers: [L0], file: 'rds.yaml', version: NEW, dumped: [['LDS', [{ name: 'listener_0', version: OLD, updatedAtMs: BEFORE }]]], expect: [] },
  { why: 'a route configuration Envoy kept (RDS: the same hash, no new version)', readers: [ROUTE], file: 'rds.yaml', version: NEW, dumped: [['RDS', [{ name: 'local_route', version: OLD, updatedAtMs: BEFORE }]]], expect: ['local_route@' + OLD] },
  { why: 'a cluster listed active and warming, one of them at the accepted version: rebuilt', readers: [CLUSTER], file: 'cds.yaml', version: NEW, dumped: [['CDS', [{ name: 'backend', version: OLD, updatedAtMs: BEFORE }, { name: 'backend', version: NEW }]]], expect: [] },
  { why: 'a reader with no name or of a kind the config dump does not list: counts as rebuilt', readers: [{ file: 'lds.yaml' }, { file: 'lds.yaml', resource: 'ecds', holder: 'extension config' }], file: 'lds.yaml', version: NEW, dumped: [['LDS', []]], expect: [] },
  { why: 'the type was not asked (no dump): counts as rebuilt', readers: [L0], file: 'lds.yaml', version: NEW, dumped: [], expect: [] },
];
for (const c of cases) {
  test(`keptReaders: ${c.why}`, () => {
    const since = c.since === undefined ? SINCE : Number.isNaN(c.since) ? undefined : c.since;
    const kept = keptReaders(c.readers, c.file, c.version, since, new Map(c.dumped), c.previous);
    const shown = (r: (typeof kept)[number]): string => `${r.resource ?? ''}@${r.runs}${c.previous === undefined ? '' : `/${r.dumped}`}`;
    assert.deepEqual(kept.map(shown), c.expect);
  });
}

test('keptMessages: the verdict (after "rolled back with ") and the hold name the reader, the version Envoy runs, and what to do', () => {
  const said = keptMessages('script.lua', { file: 'lds.yaml', version: NEW }, [{ ...L0, runs: OLD, dumped: OLD }]);
  assert.equal(
    said.withReader,
    `lds.yaml version ${NEW}, which Envoy accepted, but Envoy kept listener listener_0 of lds.yaml (still version ${OLD}) as it runs: Envoy saw no change to it (it ignores a misspelt field, an enum's first value by name, a value spelt another way), so script.lua would only take effect on a restart; change a setting Envoy sees in that resource with it`,
  );
  assert.match(said.held, /^script\.lua held back: Envoy kept listener listener_0 of lds\.yaml \(still version 1\+sha256:a{12}\) as it runs when lds\.yaml version 1\+sha256:b{12} came with it: .*so script\.lua would only take effect on a restart; change a setting Envoy sees in that resource with it, or restart the Pod .*The published script\.lua is what Envoy runs$/);
  const two = keptMessages('script.lua', { file: 'lds.yaml', version: NEW }, [{ ...L0, runs: OLD, dumped: OLD }, { ...L1, runs: OLD, dumped: OLD }]);
  assert.match(two.held, /listener listener_0 of lds\.yaml \(still version \S+\), listener listener_1 of lds\.yaml .*no change to them .*each of those resources/);
});

test('keptMessages: after an in-place update Envoy runs the listener as the version accepted since, though its config dump keeps the older version_info: the lines name that version and say why the dump differs', () => {
  const said = keptMessages('script.lua', { file: 'lds.yaml', version: NEW }, [{ ...L0, runs: MID, dumped: OLD }]);
  const words = `listener listener_0 of lds.yaml (as lds.yaml version ${MID} has it, the last version Envoy accepted before; Envoy's config dump still says version_info ${OLD}, which Envoy keeps when it updates a listener in place or sees no change to a resource)`;
  assert.ok(said.withReader.includes(`but Envoy kept ${words} as it runs`), said.withReader);
  assert.ok(said.held.startsWith(`script.lua held back: Envoy kept ${words} as it runs when lds.yaml version ${NEW} came with it`), said.held);
  assert.doesNotMatch(said.held, /still version/);
});
