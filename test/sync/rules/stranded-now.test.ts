// What `status` says now of the routes an accepted cds.yaml left naming a cluster it removed
// (src/sync/verdict/stranded-now.ts): the verdict's words while Envoy runs the route file, that it
// serves nothing there once Envoy refused the route file as published (an Envoy started since). The
// behaviour with real Envoy: test/envoy/refused-retry.test.ts (an lds.yaml a restarted Envoy refuses).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { strandedMessage } from '../../../src/sync/verdict/routes-stranded.js';
import { strandedLineNow, strandedNow, type RouteRow } from '../../../src/sync/verdict/stranded-now.js';
import { formatStatus } from '../../../src/sync/verdict/status-format.js';
import type { Status } from '../../../src/sync/verdict/status.js';

const stranded = [{ file: 'lds.yaml', clusters: ['a'] }, { file: 'rds.yaml', clusters: ['b', 'c'] }];
const runs: RouteRow = { file: 'lds.yaml', held: false, configMap: 'l1', published: 'l1' };
const refusedSince: RouteRow = { file: 'lds.yaml', held: true, configMap: 'l1', published: 'l1' };
const heldBack: RouteRow = { file: 'lds.yaml', held: true, configMap: 'l2', published: 'l1' };
const rdsRefused: RouteRow = { file: 'rds.yaml', held: true, configMap: 'r1', published: 'r1' };

test('strandedNow: the verdict\'s words for the route files Envoy runs, "serves nothing there" for those it refused as published', () => {
  const refusedLds = "; but lds.yaml still routes to cluster 'a', which cds.yaml version 7 removed: the Envoy running now refused lds.yaml (\"route: unknown cluster\") and serves nothing there; remove the route too, or keep the cluster";
  const cases: [string, readonly RouteRow[], typeof stranded, string][] = [
    // name, rows, stranded, words
    ['no row: as the verdict said', [], stranded, strandedMessage('cds.yaml', '7', stranded)],
    ['runs it', [runs], stranded, strandedMessage('cds.yaml', '7', stranded)],
    ['a refused edit held back: the published version still runs (503)', [heldBack], stranded, strandedMessage('cds.yaml', '7', stranded)],
    ['refused as published (an Envoy started since)', [refusedSince], [stranded[0] ?? { file: '', clusters: [] }], refusedLds],
    ['one refused, one run', [refusedSince], stranded, `${strandedMessage('cds.yaml', '7', [stranded[1] ?? { file: '', clusters: [] }])}${refusedLds.replace('; but ', '; ')}`],
    ['both refused', [refusedSince, rdsRefused], stranded, "; but lds.yaml still routes to cluster 'a', and rds.yaml still routes to clusters 'b', 'c', which cds.yaml version 7 removed: the Envoy running now refused lds.yaml and rds.yaml (\"route: unknown cluster\") and serves nothing there; remove the route too, or keep the cluster"],
  ];
  for (const [name, rows, routes, want] of cases) assert.equal(strandedNow('cds.yaml', '7', routes, rows), want, name);
  assert.match(strandedNow('cds.yaml', '7', [stranded[0] ?? { file: '', clusters: [] }], [refusedSince], ', but '), /^, but lds\.yaml still routes/);
});

test('strandedLineNow: the accepted line with those words replaced; a line without them unchanged', () => {
  const line = `Envoy accepted cds.yaml version 7 in 3 ms${strandedMessage('cds.yaml', '7', [stranded[0] ?? { file: '', clusters: [] }])}`;
  assert.equal(strandedLineNow(line, 'cds.yaml', '7', [stranded[0] ?? { file: '', clusters: [] }], [runs]), line);
  assert.match(strandedLineNow(line, 'cds.yaml', '7', [stranded[0] ?? { file: '', clusters: [] }], [refusedSince]), /^Envoy accepted cds\.yaml version 7 in 3 ms; but lds\.yaml still routes to cluster 'a', which cds\.yaml version 7 removed: the Envoy running now refused lds\.yaml/);
  assert.equal(strandedLineNow('an older line', 'cds.yaml', '7', stranded, [refusedSince]), 'an older line');
});

test('formatStatus: the section under ROUTES TO CLUSTERS ENVOY NO LONGER HAS follows the route file\'s row', () => {
  const routes = [stranded[0] ?? { file: '', clusters: [] }];
  const message = `Envoy accepted cds.yaml version 7 in 3 ms${strandedMessage('cds.yaml', '7', routes)}`;
  const status = (lds: RouteRow): Status => ({
    targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'T',
    files: [
      { file: 'cds.yaml', held: false, configMap: '7', published: '7', verdict: { outcome: 'accepted', version: '7', at: 'T', rolledBack: false, message, strandedRoutes: routes } },
      { ...lds, ...(lds.held && lds.published === lds.configMap ? { refusedPublished: true as const } : {}) },
    ],
  });
  assert.match(formatStatus(status(runs)), /\nROUTES TO CLUSTERS ENVOY NO LONGER HAS[^\n]*\n[^\n]*Envoy answers 503 there/);
  const restarted = formatStatus(status(refusedSince));
  assert.match(restarted, /\nROUTES TO CLUSTERS ENVOY NO LONGER HAS[^\n]*\n[^\n]*the Envoy running now refused lds\.yaml \("route: unknown cluster"\) and serves nothing there/);
  assert.doesNotMatch(restarted, /503/);
});
