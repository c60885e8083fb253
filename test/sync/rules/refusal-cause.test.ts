// Which other files could change Envoy's refusal (src/sync/verdict/refusal-cause.ts): a refusal
// that is Envoy's final word on the content is not tried again when another file of the change was
// on its way, nor released by another key; one Envoy's reason ties to a cluster (as the router's
// validateClusters writes it, not any reason containing "cluster") or a named file is. The real-Envoy behaviour: test/envoy/refusal-in-flight.test.ts.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { dependsOnKeys, mayDependOn, mentions, refusalCounter, refusedBeforeNote, standsAlone } from '../../../src/sync/verdict/refusal-cause.js';
import type { RefusalCause } from '../../../src/sync/verdict/refusal-cause.js';
import { refusalKeys } from '../../../src/sync/verdict/finish.js';

const cause = (c: Partial<RefusalCause>): RefusalCause => ({ type: 'LDS', kind: 'rejected', why: undefined, names: [], linked: false, ...c });
const log = 'Filesystem config update rejected';
const cds = { file: 'cds.yaml', clusters: true };
const rds = { file: 'rds.yaml', clusters: false };

test('refusal-cause: which refusals stand alone and which other files could change the others', () => {
  const cases: [string, RefusalCause, boolean, boolean, boolean][] = [
    // name, cause, standsAlone, may depend on cds.yaml, may depend on rds.yaml
    ['did not parse (update_failure)', cause({ kind: 'failure', why: { envoyLog: log, schema: 'sees' } }), true, false, false],
    ['LDS refused while decoding (port 70000: no listener error state)', cause({ why: { envoyLog: log, schema: 'sees' } }), true, false, false],
    ['LDS API: duplicate listener', cause({ why: { reason: "duplicate listener listener_0 found", envoyLog: log } }), true, false, false],
    ['LDS API: address in use', cause({ why: { reason: 'listener listener_0: cannot bind \'127.0.0.1:80\': Address already in use', envoyLog: log } }), true, false, false],
    ['LDS API: route to an unknown cluster', cause({ why: { reason: "listener listener_0: route: unknown cluster 'c1'", envoyLog: log } }), false, true, false],
    ['LDS API: unknown weighted cluster', cause({ why: { reason: "route: unknown weighted cluster 'c2'", envoyLog: log } }), false, true, false],
    ['LDS API: unknown shadow cluster (a request mirror)', cause({ why: { reason: "listener listener_0: route: unknown shadow cluster 'mirror'", envoyLog: log } }), false, true, false],
    // Reasons that contain the word "cluster" but that no cluster of a CDS file can change.
    ['LDS API: a listener named for its cluster cannot bind', cause({ why: { reason: "listener to_cluster_a: cannot bind '127.0.0.1:80': Address already in use", envoyLog: log } }), true, false, false],
    ['LDS API: duplicate listener named cluster_front', cause({ why: { reason: 'duplicate listener cluster_front found', envoyLog: log } }), true, false, false],
    ['LDS API: a gRPC client cluster (static clusters only)', cause({ why: { reason: "listener listener_0: Unknown gRPC client cluster 'als'", envoyLog: log } }), true, false, false],
    ['LDS API: a named file not there yet', cause({ names: ['rds.yaml'], why: { reason: "paths must refer to an existing path in the system: '/etc/envoy/rds.yaml' does not exist", envoyLog: log } }), false, false, true],
    ['LDS, listener errors not read', cause({ why: { envoyLog: log, schema: 'if-constraint' } }), false, true, false],
    ['LDS, no reason read at all', cause({}), false, true, false],
    ['RDS (no reason from Envoy): the clusters', cause({ type: 'RDS', why: { envoyLog: log, schema: 'if-constraint' } }), false, true, false],
    ['CDS (no reason from Envoy): not another CDS file', cause({ type: 'CDS', why: { envoyLog: log, schema: 'if-constraint' } }), false, false, false],
    ['CDS naming the other file by path (its EDS file)', cause({ type: 'CDS', names: ['rds.yaml'], why: { envoyLog: log, schema: 'if-constraint' } }), false, false, true],
    // finish.ts causeOf: the EDS subscription cds.yaml opened refused its named file; another
    // CDS file may add what that type depends on (the clusters); an LDS file (here rds.yaml's slot
    // stands for a file no cluster comes from) cannot, unless it is the named file.
    ['an opened EDS subscription refused its file', cause({ type: 'EDS', names: ['eds.yaml'] }), false, true, false],
    ['an opened RDS subscription refused the named rds.yaml', cause({ type: 'RDS', names: ['rds.yaml'] }), false, true, true],
    ['a file a Secret reads, a rider', cause({ linked: true, why: { envoyLog: log, schema: 'sees' } }), false, true, true],
    ['linked but did not parse', cause({ linked: true, kind: 'failure' }), false, true, true],
  ];
  // A CDS refusal and a file it names that was on disk when Envoy applied it (a file of its change on its way).
  assert.equal(mayDependOn(cause({ type: 'CDS', names: ['eds.yaml'] }), { file: 'eds.yaml', clusters: false, present: true }), false, 'CDS: a named file that was there');
  assert.equal(mayDependOn(cause({ type: 'CDS', names: ['eds.yaml'] }), { file: 'eds.yaml', clusters: false }), true, 'CDS: a named file that may have been missing');
  assert.equal(mayDependOn(cause({ type: 'LDS', names: ['rds.yaml'] }), { file: 'rds.yaml', clusters: false, present: true }), false, 'LDS, no reason read: its RDS file that was there');
  assert.equal(mayDependOn(cause({ type: 'LDS', names: ['rds.yaml'], why: { reason: "paths must refer to an existing path in the system: '/d/rds.yaml' does not exist", envoyLog: log } }), { file: 'rds.yaml', clusters: false, present: true }), true, 'LDS: Envoy says the file was missing');
  assert.equal(mayDependOn(cause({ type: 'SRDS', names: ['srds.yaml', 'rds.yaml'] }), { file: 'rds.yaml', clusters: false, present: true }), false, 'an opened SRDS subscription: the routes file that was there');
  assert.equal(mayDependOn(cause({ type: 'EDS', names: ['eds.yaml'] }), { file: 'cds-b.yaml', clusters: true, present: true }), true, 'an opened EDS subscription: another CDS file');
  assert.equal(mayDependOn(cause({ type: 'RDS' }), { file: 'lds.yaml', clusters: false, present: true, namesIt: true }), true, 'RDS: the file naming it (the route configuration name it expects)');
  assert.equal(mayDependOn(cause({ type: 'RDS', kind: 'failure' }), { file: 'lds.yaml', clusters: false, namesIt: true }), false, 'did not parse: not the file naming it either');
  assert.deepEqual(dependsOnKeys(cause({ type: 'RDS' }), 'rds.yaml', ['lds.yaml', 'cds.yaml'], (key) => ({ clusters: key === 'cds.yaml', namesIt: key === 'lds.yaml' })), ['lds.yaml', 'cds.yaml']);
  const keyRefused = cause({ names: ['sds.yaml'], why: { reason: 'listener https: Failed to load private key from <inline>, Cause: error:0b000074:X.509 certificate routines:OPENSSL_internal:KEY_VALUES_MISMATCH', envoyLog: log } });
  assert.equal(standsAlone(keyRefused), false, 'LDS: TLS material it could not load');
  assert.equal(mayDependOn(keyRefused, { file: 'sds.yaml', clusters: false, present: true, secrets: true }), true, 'LDS: the SDS file on its way');
  assert.equal(mayDependOn(keyRefused, { file: 'cds.yaml', clusters: true, present: true }), false, 'LDS: not a cluster file');
  assert.deepEqual(dependsOnKeys(keyRefused, 'lds.yaml', ['sds.yaml', 'cds.yaml'], (key) => ({ clusters: key === 'cds.yaml', secrets: key === 'sds.yaml' })), ['sds.yaml'], 'a listener refused for its TLS material: the SDS file');
  assert.equal(mayDependOn(cause({ linked: true, names: ['script.lua'] }), { file: 'script.lua', clusters: false, present: true }), true, 'a file read once: its content decides');
  for (const [name, c, alone, onCds, onRds] of cases) {
    assert.equal(standsAlone(c), alone, `${name}: standsAlone`);
    assert.equal(mayDependOn(c, cds), onCds, `${name}: cds.yaml`);
    assert.equal(mayDependOn(c, rds), onRds, `${name}: rds.yaml`);
  }
});

test('refusedBeforeNote: says how many refusals came before, while which files, and the counter that has them', () => {
  assert.equal(
    refusedBeforeNote({ count: 1, while: ['cds.yaml'], counter: 'listener_manager.lds.update_rejected' }),
    '; Envoy had refused this version once before, while cds.yaml of the same change was still on its way, and it was published again for Envoy to judge (listener_manager.lds.update_rejected counts that refusal too)',
  );
  assert.match(refusedBeforeNote({ count: 2, while: ['cds.yaml', 'eds.yaml'], counter: 'x.update_rejected' }), /2 times before, while cds\.yaml, eds\.yaml of the same change were still on their way.*counts those refusals too/);
});

test('dependsOnKeys: the keys of the ConfigMap and the named files the refusal may depend on, never the file itself', () => {
  const keys = ['envoy.yaml', 'lds.yaml', 'cds.yaml', 'script.lua'];
  const clusters = (key: string) => ({ clusters: key === 'cds.yaml' });
  const unknownCluster = cause({ names: ['rds.yaml'], why: { reason: "route: unknown cluster 'c1'", envoyLog: log } });
  assert.deepEqual(dependsOnKeys(unknownCluster, 'lds.yaml', keys, clusters), ['cds.yaml', 'rds.yaml']);
  assert.deepEqual(dependsOnKeys(cause({ why: { envoyLog: log, schema: 'sees' } }), 'lds.yaml', keys, clusters), []);
  assert.deepEqual(dependsOnKeys(cause({ type: 'CDS', why: { envoyLog: log, schema: 'if-constraint' } }), 'cds.yaml', keys, clusters), []);
  assert.deepEqual(dependsOnKeys(cause({ type: 'RDS', why: { envoyLog: log, schema: 'if-constraint' } }), 'rds.yaml', keys, clusters), ['cds.yaml']);
});

test('mentions: a file is named by a reason as a whole name, never inside a longer one', () => {
  const cases: [string, string, boolean][] = [
    // text, name, named
    ["paths must refer to an existing path in the system: '/etc/envoy/rds.yaml' does not exist", 'rds.yaml', true],
    ['the subscription it opened (http.ingress_http.scoped_rds.s) refused srds.yaml: Envoy would run without it', 'srds.yaml', true],
    ['the subscription it opened (http.ingress_http.scoped_rds.s) refused srds.yaml: Envoy would run without it', 'rds.yaml', false],
    ['refused rds.yaml.', 'rds.yaml', true],
    ['refused rds.yaml.bak', 'rds.yaml', false],
    ['refused my-rds.yaml', 'rds.yaml', false],
    ['refused my_rds.yaml', 'rds.yaml', false],
    ["'/d/..data/rds.yaml'", 'rds.yaml', true],
    ['rds.yaml', 'rds.yaml', true],
    ['rdsXyaml', 'rds.yaml', false],
    ['anything', '', false],
  ];
  for (const [text, name, want] of cases) assert.equal(mentions(text, name), want, `${name} in ${text}`);
  // As a path's last part only (a rider Envoy names by its path: read-once-verdict.ts).
  assert.equal(mentions('file /etc/envoy/body.txt does not exist', 'body.txt', true), true);
  assert.equal(mentions('file /etc/envoy/body.txt.orig does not exist', 'body.txt', true), false);
  assert.equal(mentions('refused body.txt', 'body.txt', true), false);
  // The sequence srds-new-scopes-file (real Envoy 1.40): lds.yaml is refused because the SRDS
  // subscription it opened refused srds.yaml; rds.yaml, which only the refused scopes would have
  // read, cannot change that (before: the reason's 'srds.yaml' named it, and lds.yaml waited for
  // rds.yaml's verdict, which Envoy never gives, until --verdict-timeout).
  const opened = cause({ type: 'SRDS', names: ['rds.yaml', 'srds.yaml'], why: { reason: 'Envoy took lds.yaml but the subscription it opened (http.ingress_http.scoped_rds.tenant_scopes) refused srds.yaml: Envoy would run without it', fromCounters: true, envoyLog: log } });
  assert.equal(mayDependOn(opened, { file: 'rds.yaml', clusters: false, present: true }), false, 'not rds.yaml');
  assert.equal(mayDependOn(opened, { file: 'srds.yaml', clusters: false, present: true }), true, 'srds.yaml, the file it read');
});

test('refusalKeys: the ConfigMap of the pass, or at start the files Envoy\'s configuration names; a first cds.yaml refused for its own cluster depends on none of them', () => {
  const subscriptions = { list: () => [{ file: 'lds.yaml', type: 'LDS' as const }, { file: 'cds.yaml', type: 'CDS' as const }, { file: 'rds.yaml', type: 'RDS' as const }, { file: 'rds.yaml', type: 'SRDS' as const }] };
  assert.deepEqual([...(refusalKeys(subscriptions, { configMap: new Map([['a.yaml', 'x'], ['b.yaml', 'y']]) }) ?? [])], ['a.yaml', 'b.yaml'], 'the pass\'s ConfigMap wins');
  assert.deepEqual([...(refusalKeys(subscriptions, { foundAtStart: true }) ?? [])], ['lds.yaml', 'cds.yaml', 'rds.yaml'], 'at start: each named file once');
  assert.equal(refusalKeys(subscriptions, {}), undefined, 'neither: any file may change it');
  const atStart = [...(refusalKeys(subscriptions, { foundAtStart: true }) ?? [])];
  const clusters = (key: string) => ({ clusters: key === 'cds.yaml' });
  assert.deepEqual(dependsOnKeys(cause({ type: 'CDS', why: { envoyLog: log } }), 'cds.yaml', atStart, clusters), [], 'a CDS refusal with no reason: no listener or route file changes it');
  assert.deepEqual(dependsOnKeys(cause({ why: { reason: "route: unknown cluster 'web'", envoyLog: log } }), 'lds.yaml', atStart, clusters), ['cds.yaml'], 'a first lds.yaml refused for a cluster: cds.yaml');
});

test('refusalCounter: the counter a refusal moved, key_rotation_failed for a file a Secret reads', () => {
  assert.equal(refusalCounter('listener_manager.lds', 'rejected', false), 'listener_manager.lds.update_rejected');
  assert.equal(refusalCounter('cluster_manager.cds', 'failure', false), 'cluster_manager.cds.update_failure');
  assert.equal(refusalCounter('sds.srv', 'rejected', true), 'sds.srv.key_rotation_failed');
});
