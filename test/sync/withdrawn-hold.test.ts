// The hold of an accepted lds.yaml that goes back with a refused cds.yaml of its change
// (src/sync/verdict/withdrawn.ts): held against the ConfigMap Envoy refused that cds.yaml with (the
// refusal's own hold's, superseded.ts configMapAt, 53f700a), not the lds.yaml pass's. A cds.yaml
// renamed by a later pass, before Envoy's answer, is the one Envoy refused: compared with the
// lds.yaml pass's ConfigMap, the hold was released at once while the ConfigMap still had the
// refused cds.yaml, and never when the ConfigMap went back to the first cds.yaml. Envoy's answer
// is given as the counters it reports; the files, the rollback's rename and the holds are real.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { clustersGoneBy, type ClustersGone } from '../../src/sync/verdict/clusters-gone.js';
import type { StateWriter } from '../../src/sync/verdict/state.js';
import { withdrawnHold } from '../../src/sync/verdict/withdrawn.js';
import { LDS, conclusionsAt, envoyReporting } from './conclusions-harness.js';
import { makeTempDirs } from './harness.js';

const roots: string[] = [];
const writers: StateWriter[] = [];
after(async () => {
  await Promise.all(writers.map((writer) => writer.flush()));
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

const cds = (...names: string[]): Buffer => Buffer.from(`resources:\n${names.map((name) => `- {"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: ${name}}`).join('\n')}\n`);
// lds.yaml's pass renamed cds c2; a later pass renamed c3 before Envoy's answer, which refused c3.
const passA = new Map([['lds.yaml', 'routes-x'], ['cds.yaml', 'c2'], ['other.txt', 'o1']]);
const passB = new Map([['lds.yaml', 'routes-x'], ['cds.yaml', 'c3'], ['other.txt', 'o1']]);

test('clustersGoneBy: the clusters a refused cds.yaml takes away, with its hold\'s keys and ConfigMap', () => {
  const refused = { file: 'cds.yaml', version: 'c3', sha256: 'c3', content: cds('a', 'x') };
  assert.deepEqual(clustersGoneBy(refused, cds('a'), ['eds.yaml'], passB), { file: 'cds.yaml', version: 'c3', clusters: new Set(['x']), dependsOn: ['eds.yaml'], refusedWith: passB });
  assert.deepEqual(clustersGoneBy(refused, cds('a'), undefined, undefined), { file: 'cds.yaml', version: 'c3', clusters: new Set(['x']) }, 'any key; ConfigMap not known');
  assert.equal(clustersGoneBy(refused, cds('a', 'x'), undefined, passB), undefined, 'the version put back has every cluster');
});

test('withdrawnHold: the refused cds.yaml\'s keys and ConfigMap', () => {
  const by: ClustersGone = { file: 'cds.yaml', version: 'c3', clusters: new Set(['x']), dependsOn: ['lds.yaml', 'eds.yaml'], refusedWith: passB };
  const cases: [string, ClustersGone, { dependsOn: string[] | undefined; refusedWith: ReadonlyMap<string, string> | undefined }][] = [
    ['the refusal\'s ConfigMap, its keys less the file itself', by, { dependsOn: ['cds.yaml', 'eds.yaml'], refusedWith: passB }],
    ['any key', { ...by, dependsOn: undefined }, { dependsOn: undefined, refusedWith: passB }],
    ['its ConfigMap not known: the file\'s own pass\'s', { file: 'cds.yaml', version: 'c3', clusters: new Set(['x']), dependsOn: [] }, { dependsOn: ['cds.yaml'], refusedWith: passA }],
  ];
  for (const [name, gone, want] of cases) assert.deepEqual(withdrawnHold({ file: 'lds.yaml', configMap: passA }, gone), want, name);
});

test('an lds.yaml withdrawn with a cds.yaml a later pass renamed is held while the ConfigMap has that cds.yaml, released when it goes back to its own pass\'s', async () => {
  const dirs = await makeTempDirs('withdrawn-hold-');
  roots.push(dirs.root);
  const { conclusions, publish, holds } = conclusionsAt(dirs.target, dirs.source, writers);
  const v0 = await publish('v0');
  await conclusions.conclude(v0, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoyReporting('v0', 0), own: [LDS], now: 1 });
  const routes = await publish('routes-x');
  routes.configMap = passA;
  const gone = { by: { file: 'cds.yaml', version: 'c3', clusters: new Set(['x']), dependsOn: [], refusedWith: passB }, clusters: ['x'] };
  await conclusions.conclude(routes, { outcome: 'rejected', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoyReporting('routes-x', 0), own: [LDS], now: 2, withRefused: gone });
  assert.match(await readFile(join(dirs.target, 'lds.yaml'), 'utf8'), /"v0"/, 'v0 back on disk');
  assert.equal(holds.isHeld('lds.yaml', 'routes-x', passB), true, 'the ConfigMap still has the cds.yaml Envoy refused: held (was released at once)');
  assert.equal(holds.isHeld('lds.yaml', 'routes-x', new Map([...passB, ['other.txt', 'o2']])), true, 'a key the refusal does not depend on changed: held');
  assert.equal(holds.isHeld('lds.yaml', 'routes-x', passA), false, 'cds.yaml back to c2, which Envoy never refused with it: released (was held for good)');
});
