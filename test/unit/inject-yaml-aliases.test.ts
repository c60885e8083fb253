// `inject` over YAML that shares nodes: anchors, aliases, merge keys and tags at every level the
// injection rules read or edit. Every generated document must come out injected exactly as the
// webhook would inject its value, with every other user of a shared node keeping its value, or
// get the documented error line; nothing may throw.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { YAMLMap } from 'yaml';
import { Alias, Document, isMap, isSeq, Pair, parseAllDocuments, Scalar } from 'yaml';
import { injectYamlStream } from '../../src/cli/inject.js';
import { defaultConfig, injectManifest } from '../../src/inject/index.js';

const config = defaultConfig('3.0.0');
const A = (name: string): string => `envoy-xds-injector.io/${name}`;
type Json = Record<string, unknown>;

const toJS = (text: string): unknown[] => parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS({ maxAliasCount: 100 }) as unknown);

/** Checks one stream: output reads back as injectManifest's result, unchanged documents byte for byte. */
function checkStream(text: string): void {
  const values = toJS(text);
  const result = injectYamlStream(text, config, 'gen.yaml');
  const expected = values.map((value) => injectManifest(value, config));
  const denied = expected.filter((r) => r.decision === 'denied').length;
  assert.equal(result.errors.length, denied, `errors: ${result.errors.join('\n')}\n--- input\n${text}`);
  for (const error of result.errors) assert.match(error, /^gen\.yaml: document \d+ \([^)]*\): /);
  if (denied > 0) return;
  if (expected.every((r) => r.decision === 'unchanged')) assert.equal(result.output, text);
  const out = toJS(result.output);
  assert.deepEqual(
    out,
    expected.map((r, i) => (r.decision === 'injected' ? r.document : values[i])),
    `--- input\n${text}\n--- output\n${result.output}`,
  );
}

const envoy = fc.record(
  {
    name: fc.constant('envoy'),
    image: fc.constant('envoyproxy/envoy:v1.40.0'),
    args: fc.constantFrom(['-c', '/etc/envoy/envoy.yaml'], ['--config-path', '/etc/bootstrap/envoy.yaml'], ['--log-level', 'info']),
    env: fc.constant([{ name: 'A', value: '1' }]),
    volumeMounts: fc.constantFrom([{ name: 'certs', mountPath: '/etc/certs' }], []),
  },
  { requiredKeys: ['name', 'image'] },
);
const other = fc.record({ name: fc.constant('app'), image: fc.constant('app:1'), env: fc.constant([{ name: 'B', value: '2' }]) });

const manifest = fc
  .record({
    kind: fc.constantFrom('Deployment', 'Pod', 'List'),
    containers: fc.tuple(envoy, fc.option(other, { nil: undefined })),
    annotations: fc.record(
      { mount: fc.constantFrom('/etc/envoy', '/etc/xds'), sidecar: fc.constantFrom('native', 'container'), inject: fc.constantFrom('true', 'true', 'false') },
      { requiredKeys: ['inject'] },
    ),
    volumes: fc.boolean(),
    init: fc.boolean(),
    // What the YAML shares: each becomes an anchor and alias(es), a merge key or a tag.
    share: fc.record({
      annotations: fc.boolean(),
      labels: fc.boolean(),
      metadata: fc.boolean(),
      containerParts: fc.boolean(),
      containers: fc.boolean(),
      volumes: fc.boolean(),
      init: fc.boolean(),
      template: fc.boolean(),
    }),
    merges: fc.subarray(['template', 'metadata', 'annotations', 'spec', 'envoy', 'envoy.volumeMounts.0', 'init.0'] as const),
    tags: fc.subarray(['template', 'spec', 'containers', 'annotation'] as const),
  })
  .map((m) => {
    const annotations: Json = { [A('inject')]: m.annotations.inject, [A('configmap')]: 'xds' };
    if (m.annotations.mount !== undefined) annotations[A('mount-path')] = m.annotations.mount;
    if (m.annotations.sidecar !== undefined) annotations[A('sidecar')] = m.annotations.sidecar;
    const labels = { app: 'edge' };
    const [first, second] = m.containers;
    const containers: Json[] = [{ ...first }];
    if (second !== undefined) {
      // The same JS object twice becomes an anchor and an alias in the YAML.
      containers.push(m.share.containerParts ? { ...second, env: first.env ?? second.env, volumeMounts: first.volumeMounts } : second);
    }
    const ownMeta: Json = { name: 'edge', labels, annotations: m.share.annotations ? annotations : { team: 'a' } };
    const templateMeta: Json = { labels: m.share.labels ? labels : { app: 'edge' }, annotations };
    const podSpec: Json = { containers };
    const volumes = [{ name: 'certs', secret: { secretName: 'certs' } }];
    if (m.volumes) podSpec.volumes = volumes;
    const initContainers = [{ name: 'setup', image: 'busybox', env: first.env ?? [] }];
    if (m.init) podSpec.initContainers = initContainers;
    const template = { metadata: m.share.metadata ? ownMeta : templateMeta, spec: podSpec };
    if (m.share.metadata) Object.assign(ownMeta, { annotations });
    const deployment = (name: string, t: Json): Json => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { ...ownMeta, name },
      spec: { selector: { matchLabels: labels }, template: t },
    });
    const shared: Json = {};
    if (m.share.containers) shared.containers = containers;
    if (m.share.volumes && m.volumes) shared.volumes = volumes;
    if (m.share.init && m.init) shared.initContainers = initContainers;
    let value: Json;
    if (m.kind === 'Pod') value = { apiVersion: 'v1', kind: 'Pod', ...template, metadata: { ...(template.metadata), name: 'edge' } };
    else if (m.kind === 'List') value = { apiVersion: 'v1', kind: 'List', items: [deployment('a', template), deployment('b', m.share.template ? template : structuredClone(template))] };
    else value = deployment('edge', template);
    // Shared nodes first: YAML wants the anchor before its aliases (like a docker-compose `x-` key).
    const doc = new Document(Object.keys(shared).length > 0 ? { 'x-shared': shared, ...value } : value, { version: '1.1' });
    applyMerges(doc, value.kind as string, m.merges);
    applyTags(doc, value.kind as string, m.tags);
    // A merge can move an alias above its anchor: such a generated text is not YAML, drop it.
    try {
      const text = doc.toString();
      return parseAllDocuments(text, { version: '1.1' }).every((d) => d.errors.length === 0) ? text : undefined;
    } catch {
      return undefined;
    }
  })
  .filter((text): text is string => text !== undefined);

function templatePath(kind: string): (string | number)[] {
  if (kind === 'Pod') return [];
  if (kind === 'List') return ['items', 0, 'spec', 'template'];
  return ['spec', 'template'];
}

const PATHS = {
  template: [],
  metadata: ['metadata'],
  annotations: ['metadata', 'annotations'],
  spec: ['spec'],
  containers: ['spec', 'containers'],
  envoy: ['spec', 'containers', 0],
  'envoy.volumeMounts.0': ['spec', 'containers', 0, 'volumeMounts', 0],
  'init.0': ['spec', 'initContainers', 0],
  annotation: ['metadata', 'annotations', A('configmap')],
};

let anchors = 0;
/** Moves the first pair of the map at each path into a new anchored map merged back with `<<`. */
function applyMerges(doc: Document, kind: string, names: readonly (keyof typeof PATHS)[]): void {
  for (const name of names) {
    const node = doc.getIn([...templatePath(kind), ...PATHS[name]], true);
    if (!isMap(node) || node.items.length === 0) continue;
    const [moved] = node.items.splice(0, 1) as [Pair];
    const base = new Document({}).createNode({}) as YAMLMap;
    base.items.push(moved);
    base.anchor = `m${++anchors}`;
    let bases = doc.get('x-merge', true);
    if (!isMap(bases)) {
      bases = doc.createNode({});
      const top = (doc.contents as YAMLMap).items;
      top.splice(doc.has('x-shared') ? 1 : 0, 0, new Pair(doc.createNode('x-merge'), bases));
    }
    (bases as YAMLMap).items.push(new Pair(doc.createNode(`b${anchors}`), base));
    node.items.unshift(new Pair(doc.createNode('<<'), new Alias(base.anchor)));
  }
}

function applyTags(doc: Document, kind: string, names: readonly (keyof typeof PATHS)[]): void {
  for (const name of names) {
    const node = doc.getIn([...templatePath(kind), ...PATHS[name]], true);
    if (isMap(node)) node.tag = 'tag:yaml.org,2002:map';
    else if (isSeq(node)) node.tag = 'tag:yaml.org,2002:seq';
    else if (node instanceof Scalar && typeof node.value === 'string') node.tag = 'tag:yaml.org,2002:str';
  }
}

test('generated manifests with anchors, aliases, merge keys and tags: injected exactly, other users unchanged', () => {
  fc.assert(fc.property(manifest, checkStream), { numRuns: 200 });
});

test('shared case: pod-template annotations given as an alias of the Deployment annotations', () => {
  const file = new URL('../fixtures/manifests/inject-alias-annotations.yaml', import.meta.url);
  const text = readFileSync(file, 'utf8');
  checkStream(text);
  const result = injectYamlStream(text, config, 'x.yaml');
  const [out] = toJS(result.output) as Json[];
  const own = (out?.metadata as Json).annotations as Json;
  assert.equal(own[A('status')], undefined, "the Deployment's own annotations keep the anchor's value");
  assert.match(result.output, /annotations: &xds/, 'the anchor stays where it was');
  assert.match(result.output, /^# Valid YAML that kubectl applies/, 'comments survive');
});

test('an anchored pod template used again later: the edit stays in its place', () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a}
  spec:
    template: &t
      metadata:
        annotations: {${A('inject')}: "true", ${A('configmap')}: xds}
      spec:
        containers: [{name: envoy, image: envoy}]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: copy}
  data:
    template: "not a workload"
  x-template: *t
`;
  checkStream(text);
  const result = injectYamlStream(text, config, 'x.yaml');
  const [out] = toJS(result.output) as [Json];
  const items = out.items as Json[];
  assert.equal(JSON.stringify(items[1]).includes(A('status')), false, 'the later alias keeps the un-injected template');
  assert.match(result.output, /x-template: &t\n/, 'the anchor moves to the first alias, with the value it had');
});

test('tags the yaml package resolves to non-JSON values still give YAML or the error line, never a throw', () => {
  const cases = [
    `apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: !!omap [{${A('inject')}: "true"}, {${A('configmap')}: x}]\nspec: {containers: [{name: envoy}]}\n`,
    `apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: {${A('inject')}: "true", ${A('configmap')}: x, when: 2001-12-14}\nspec: {containers: [{name: envoy, args: !!set {? a}}]}\n`,
    `apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: {${A('inject')}: "true", ${A('configmap')}: x}\nspec: {containers: [{name: envoy, image: !custom envoy}], volumes: !!binary aGVsbG8=}\n`,
  ];
  for (const text of cases) {
    const result = injectYamlStream(text, config, 'x.yaml');
    if (result.errors.length > 0) {
      for (const error of result.errors) assert.match(error, /^x\.yaml: document 1( \([^)]*\))?: /);
    } else {
      assert.equal(parseAllDocuments(result.output, { version: '1.1' }).every((d) => d.errors.length === 0), true, result.output);
    }
  }
});
