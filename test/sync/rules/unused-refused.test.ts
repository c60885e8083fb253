// A refused file Envoy does not use (refused, never accepted, named by no published file): the line
// of its removed key and `status` say so (verdict/unused-refused.ts, publish/published-log.ts).
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { logRemoved } from '../../../src/sync/publish/published-log.js';
import type { FileState } from '../../../src/sync/verdict/state.js';
import { formatStatus } from '../../../src/sync/verdict/status-format.js';
import { UnusedRefused, refusedUnused } from '../../../src/sync/verdict/unused-refused.js';
import type { Verdict } from '../../../src/sync/verdict/verdict.js';

const refused = { outcome: 'rejected' as const, version: 'E1', at: 'T', rolledBack: false, message: 'm', envoyLog: 'Filesystem config update rejected' };

test('refusedUnused: only a refusal no published file names, of a file Envoy never took', () => {
  const cases: { name: string; entry: FileState | undefined; want: boolean }[] = [
    { name: 'no state', entry: undefined, want: false },
    { name: 'refused, named by nothing, never accepted', entry: { verdict: { ...refused, namedByNone: true } }, want: true },
    { name: 'refused, but a published file names it (or may: the bootstrap)', entry: { verdict: refused }, want: false },
    { name: 'an earlier version was accepted: Envoy may run it', entry: { verdict: { ...refused, namedByNone: true }, accepted: { version: 'E0', at: 'T' } }, want: false },
    { name: 'accepted since', entry: { verdict: { ...refused, outcome: 'accepted' } }, want: false },
  ];
  for (const c of cases) assert.equal(refusedUnused(c.entry), c.want, c.name);
});

test('UnusedRefused: seeded from the state a watcher starts with; the last verdict on a file decides', () => {
  const unused = new UnusedRefused();
  unused.seed({ pid: 1, sourceDir: '/s', targetDir: '/t', updatedAt: 'T', files: { 'eds.yaml': { verdict: { ...refused, namedByNone: true } }, 'rds.yaml': { verdict: refused } } });
  assert.deepEqual([unused.has('eds.yaml'), unused.has('rds.yaml')], [true, false]);
  const verdict = (file: string, extra: Partial<Verdict>): Verdict => ({ file, version: 'V', sha256: 'ab', outcome: 'rejected', rolledBack: false, message: 'm', ...extra });
  unused.heard(verdict('eds.yaml', { outcome: 'accepted' }));
  unused.heard(verdict('eds2.yaml', { namedByNone: true }));
  assert.deepEqual([unused.has('eds.yaml'), unused.has('eds2.yaml')], [false, true]);
  unused.seed(undefined); // no state file: nothing added
});

test('logRemoved: a removed key of a file Envoy does not use is kept, and its line says Envoy never took it', () => {
  const lines: { file: string; msg: string; level: number }[] = [];
  const logger = pino({ base: undefined }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as { file: string; msg: string; level: number }); done(); } }));
  const removed = logRemoved(logger, ['cds.yaml', 'eds.yaml', 'lds.yaml'], new Map([['cds.yaml', 1]]), new Set(), (name) => name === 'eds.yaml');
  assert.deepEqual(removed, ['eds.yaml', 'lds.yaml']);
  assert.deepEqual(lines.map((l) => [l.file, l.level, l.msg]), [
    ['eds.yaml', 40, 'eds.yaml is no longer in the ConfigMap: keeping the published copy, though Envoy never took it (it refused it) and no published file names it, so Envoy does not use it'],
    ['lds.yaml', 40, 'lds.yaml is no longer in the ConfigMap: keeping the last published copy (Envoy keeps using it and needs it to restart)'],
  ]);
});

test('status: a refused file Envoy does not use, its key gone, is no refusal now: kept, said below the table', () => {
  const base = { targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now' };
  const out = formatStatus({ ...base, files: [{ file: 'eds.yaml', held: false, published: 'E1', unused: true, verdict: { ...refused, namedByNone: true } }] });
  assert.doesNotMatch(out, /WHY ENVOY REFUSED/, out);
  assert.ok(out.endsWith('\nREMOVED FROM THE CONFIGMAP\neds.yaml is no longer in the ConfigMap: keeping the published copy, though Envoy never took it (it refused it) and no published file names it, so Envoy does not use it\n'), out);
  // Its key still there: the refusal stands.
  assert.match(formatStatus({ ...base, files: [{ file: 'eds.yaml', held: true, configMap: 'E1', published: 'E1', verdict: { ...refused, namedByNone: true } }] }), /WHY ENVOY REFUSED\neds\.yaml E1: /);
});
