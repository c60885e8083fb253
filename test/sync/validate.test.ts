import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseDuration } from '../../src/cli/duration.js';
import { publishRank, validateConfigFile } from '../../src/sync/envoy/gate.js';
import type { Validation } from '../../src/sync/envoy/gate.js';
import { BOOTSTRAP, xdsFile } from './harness.js';

const check = (file: string, text: string, bootstrap?: string): Promise<Validation> =>
  validateConfigFile(file, Buffer.from(text), bootstrap);

async function rejected(pending: Promise<Validation>) {
  const validation = await pending;
  if (validation.ok) assert.fail(`expected a rejection, got ${JSON.stringify(validation.kind)}`);
  return validation.error;
}

test('valid xDS YAML is accepted and classified by its resource types', async () => {
  const cds = await check('cds.yaml', xdsFile('cds', 1, 2000));
  assert.deepEqual(cds.ok && cds.kind.type, 'xds');
  assert.ok(cds.ok && cds.kind.type === 'xds' && cds.kind.resourceTypes.every((t) => t.endsWith('.Cluster')));
  const empty = await check('lds.yaml', 'resources: []\n');
  assert.ok(empty.ok && empty.kind.type === 'xds');
  assert.equal(empty.kind.resourceNames, undefined);
  // Names as a subscription asks for them: a ClusterLoadAssignment by its cluster_name; one without a name is left out.
  const eds = await check('eds.yaml', 'resources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: web\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n');
  assert.deepEqual(eds.ok && eds.kind.type === 'xds' ? eds.kind.resourceNames : 'not xds', ['web']);
});

test('a YAML syntax error names the file and the parser line', async () => {
  const error = await rejected(check('lds.yaml', 'resources:\n- "@type": x\n  name: [unclosed\n  other: 1\n'));
  assert.equal(error.file, 'lds.yaml');
  assert.equal(typeof error.line, 'number');
  assert.ok((error.line ?? 0) >= 3, `line ${error.line}`);
  assert.match(error.message, /invalid YAML/);
});

test('a resource without @type is rejected with the line of that resource', async () => {
  const text = 'resources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: a\n- name: b\n';
  const error = await rejected(check('cds.yaml', text));
  assert.equal(error.line, 4);
  assert.match(error.message, /resources\[1\].*@type/);
});

test('resources that is not a list, or holds scalars, is rejected', async () => {
  assert.match((await rejected(check('cds.yaml', 'resources: {a: 1}\n'))).message, /must be a list/);
  assert.match((await rejected(check('cds.json', '{"resources": [1]}'))).message, /resources\[0\] is not a mapping/);
});

test('invalid JSON is rejected with a line; what protobuf\'s JSON parser also takes goes through', async () => {
  const error = await rejected(check('cds.json', '{\n  "resources": [\n    {"@type": "x"}}\n  ]\n}\n'));
  assert.match(error.message, /invalid JSON/);
  assert.equal(error.line, 3);
  assert.ok((await check('cds.json', '{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"}]}')).ok);
  // Envoy 1.40 loads trailing commas and single quotes in .json (test/fixtures/envoy-corpus).
  assert.ok((await check('cds.json', '{"resources": [{"@type": \'x\'},]}')).ok);
  assert.match((await rejected(check('cds.json', '{"resources": [{"name": "a",}]}'))).message, /resources\[0\] has no "@type"/);
});

test('empty and whitespace-only config files are rejected (a torn write looks like that)', async () => {
  assert.match((await rejected(check('cds.yaml', ''))).message, /empty/);
  assert.match((await rejected(check('x.json', '  \n'))).message, /empty/);
});

test('only the first YAML document counts, as with yaml-cpp\'s YAML::Load', async () => {
  assert.ok((await check('cds.yaml', 'resources: []\n---\nresources: [{name: a}]\n')).ok);
  assert.ok((await check('cds.yaml', '--- # first\nresources: []\n...\n: [ {\n')).ok, 'what follows the first document is not read');
  const error = await rejected(check('cds.yaml', '%YAML 1.1\n---\nresources:\n- name: a\n---\nresources: []\n'));
  assert.match(error.message, /resources\[0\] has no "@type"/);
  assert.equal(error.line, 4);
  const syntax = await rejected(check('cds.yaml', 'resources:\n- {name: [a}\n---\nresources: []\n'));
  assert.equal(syntax.line, 2, 'errors in the first document keep their line');
});

test('YAML is read by Envoy\'s rules: any tag, `!ignore` keys dropped, repeated keys, null resources', async () => {
  const cluster = '{"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: a}';
  assert.ok((await check('a.yaml', 'a: 1\na: 2\n')).ok, 'a repeated key: the later one wins');
  assert.ok((await check('cds.yaml', `resources: [{name: a}]\nresources: [${cluster}]\n`)).ok);
  assert.ok((await check('cds.yaml', `resources:\n- !foo ${cluster}\n- !!str ${cluster}\n- !!int ${cluster}\n`)).ok, 'tags of any kind are ignored');
  assert.ok((await check('cds.yaml', `!ignore shared: &c ${cluster}\nresources: [*c]\n`)).ok);
  assert.ok((await check('cds.yaml', '!ignore resources: [{name: not-read}]\n')).ok, 'an !ignore key is not read');
  const dropped = await rejected(check('cds.yaml', `resources:\n- !ignore "@type": x\n  name: a\n`));
  assert.match(dropped.message, /has no "@type"/);
  const resources = await check('cds.yaml', 'resources:\n');
  assert.deepEqual(resources, { ok: true, kind: { type: 'xds', resourceTypes: [] } }, 'null reads as no resources');
  assert.ok((await check('cds.yaml', `resources:\n- <<: {x: 1}\n  "@type": a/b\n`)).ok, '`<<` is an ordinary key');
  assert.match((await rejected(check('cds.yaml', 'resources:\n- <<: {"@type": a/b}\n'))).message, /has no "@type"/, 'yaml-cpp has no merge keys');
  assert.ok((await check('cds.yaml', `\uFEFFresources: [${cluster}]\r\n`)).ok, 'BOM and CRLF');
  assert.ok((await check('cds.yaml', `resources: [${cluster.replace('name: a', 'name: "a\u0007\u0000b"')}]\n`)).ok, 'control characters in quotes');
  assert.match((await rejected(check('cds.yaml', 'resources: [*nowhere]\n'))).message, /alias/);
});

test('files that are not YAML/JSON pass untouched', async () => {
  assert.deepEqual(await check('script.lua', '}{ not yaml'), { ok: true, kind: { type: 'data' } });
});

test('the bootstrap is recognised by --bootstrap name and by content', async () => {
  assert.deepEqual(await check('envoy.yaml', BOOTSTRAP), { ok: true, kind: { type: 'bootstrap' } });
  assert.deepEqual(await check('custom.yaml', 'foo: 1\n', 'custom.yaml'), { ok: true, kind: { type: 'bootstrap' } });
  assert.deepEqual(await check('other.yaml', 'foo: 1\n'), { ok: true, kind: { type: 'data' } });
});

test('publish order is make-before-break: data, secrets, clusters, endpoints, listeners, routes, bootstrap', () => {
  const kindOf = (type: string) => ({ type: 'xds' as const, resourceTypes: [`type.googleapis.com/${type}`] });
  const order = [
    { type: 'data' as const },
    kindOf('envoy.extensions.transport_sockets.tls.v3.Secret'),
    kindOf('envoy.config.cluster.v3.Cluster'),
    kindOf('envoy.config.endpoint.v3.ClusterLoadAssignment'),
    kindOf('envoy.config.core.v3.TypedExtensionConfig'),
    kindOf('envoy.config.listener.v3.Listener'),
    kindOf('envoy.config.route.v3.RouteConfiguration'),
    kindOf('envoy.config.route.v3.VirtualHost'),
    kindOf('envoy.service.runtime.v3.Runtime'),
    { type: 'bootstrap' as const },
  ].map((kind) => publishRank(kind));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.equal(new Set(order).size, order.length);
});

test('parseDuration reads Go-style durations', () => {
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('15'), 15_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('10x'), undefined);
  assert.equal(parseDuration(''), undefined);
});

test('a file whose resources name no known type is ranked as the subscriptions naming it read it', async () => {
  // What bench:sync's small scenario publishes as cds.yaml: version_info and `resources:` with no clusters.
  const noClusters = await check('cds.yaml', xdsFile('cds', 1, 1), 'envoy.yaml');
  assert.deepEqual(noClusters, { ok: true, kind: { type: 'xds', resourceTypes: [] } });
  const emptyList = await check('cds.yaml', 'version_info: "2"\nresources: []\n', 'envoy.yaml');
  const versionOnly = await check('cds.yaml', 'version_info: "3"\n', 'envoy.yaml');
  const listener = await check('lds.yaml', xdsFile('lds', 1, 1, { probePort: 10000 }), 'envoy.yaml');
  assert.ok(noClusters.ok && emptyList.ok && versionOnly.ok && listener.ok);
  const lds = publishRank(listener.kind, ['LDS']);
  for (const kind of [noClusters.kind, emptyList.kind, versionOnly.kind]) {
    // Named by the bootstrap's cds_config: a CDS file, published before the listeners.
    assert.equal(publishRank(kind, ['CDS']), publishRank({ type: 'xds', resourceTypes: ['type.googleapis.com/envoy.config.cluster.v3.Cluster'] }));
    assert.ok(publishRank(kind, ['CDS']) < lds, JSON.stringify(kind));
  }
  // Without a subscription naming it, as before: an xDS file of unknown types after the known ones, data first.
  assert.ok(publishRank(noClusters.kind) > lds);
  assert.equal(publishRank(versionOnly.kind), 0);
  // What the resources say wins over a subscription (Envoy refuses a mismatch itself); a secret's file stays data.
  assert.equal(publishRank(listener.kind, ['CDS']), lds);
  assert.equal(publishRank({ type: 'data' }, ['secret-file']), 0);
  // An RDS file with no route configurations still goes after the listener naming it by rank.
  assert.ok(publishRank({ type: 'xds', resourceTypes: [] }, ['RDS']) > lds);
});
