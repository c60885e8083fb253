// injectManifest: the pod template of every workload kind goes through injectPod; other documents pass.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { defaultConfig, injectManifest, type ManifestResult } from '../../src/inject/index.js';

type Json = Record<string, unknown>;
const config = defaultConfig('1.0.0');
const annotations = { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'xds' };
const template = (extra: Json = {}): Json => ({
  metadata: { annotations: { ...annotations }, ...extra },
  spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.31.2' }] },
});

function at(document: unknown, path: string[]): Json {
  let value: unknown = document;
  for (const key of path) value = (value as Json)[key];
  return value as Json;
}

function injectedDocument(result: ManifestResult): Json {
  assert.equal(result.decision, 'injected', JSON.stringify(result));
  return result.document;
}

const isInjectedTemplate = (podTemplate: Json): boolean =>
  typeof (podTemplate.metadata as Json).annotations === 'object' &&
  'envoy-xds-injector.io/status' in ((podTemplate.metadata as Json).annotations as Json) &&
  ((podTemplate.spec as Json).initContainers as Json[]).some((c) => c.name === 'envoy-xds-watch');

describe('every workload kind', () => {
  const kinds: { apiVersion: string; kind: string; path: string[]; wrap: (t: Json) => Json }[] = [
    { apiVersion: 'v1', kind: 'Pod', path: [], wrap: (t) => t },
    ...['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].map((kind) => ({
      apiVersion: 'apps/v1', kind, path: ['spec', 'template'], wrap: (t: Json) => ({ spec: { template: t } }),
    })),
    { apiVersion: 'batch/v1', kind: 'Job', path: ['spec', 'template'], wrap: (t) => ({ spec: { template: t } }) },
    {
      apiVersion: 'batch/v1', kind: 'CronJob', path: ['spec', 'jobTemplate', 'spec', 'template'],
      wrap: (t) => ({ spec: { schedule: '@daily', jobTemplate: { spec: { template: t } } } }),
    },
  ];
  for (const { apiVersion, kind, path, wrap } of kinds) {
    test(`${kind}: the pod template is injected, the rest kept`, () => {
      const document = { apiVersion, kind, metadata: { name: 'w' }, ...wrap(template()) };
      const before = structuredClone(document);
      const result = injectedDocument(injectManifest(document, config));
      assert.deepEqual(document, before, 'the input is not modified');
      assert.ok(isInjectedTemplate(at(result, path)));
      assert.deepEqual({ ...result, spec: undefined, metadata: undefined }, { ...document, spec: undefined, metadata: undefined });
    });
  }
  test('the same kind from another API group passes through', () => {
    const result = injectManifest({ apiVersion: 'example.com/v1', kind: 'Deployment', spec: { template: template() } }, config);
    assert.equal(result.decision, 'unchanged');
  });
});

describe('documents that pass through', () => {
  const cases: [string, unknown][] = [
    ['a ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: {} }],
    ['a Deployment without annotations', { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: { spec: { containers: [] } } } }],
    ['a Deployment without a template', { apiVersion: 'apps/v1', kind: 'Deployment', spec: {} }],
    ['a CronJob with a broken jobTemplate', { apiVersion: 'batch/v1', kind: 'CronJob', spec: { jobTemplate: 'x' } }],
    ['a scalar document', 'hello'],
    ['an empty document', null],
  ];
  for (const [name, document] of cases) {
    test(name, () => {
      assert.equal(injectManifest(document, config).decision, 'unchanged');
    });
  }
});

test('a denial is the same message injectPod gives', () => {
  const document = { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: template({ annotations: { ...annotations, 'envoy-xds-injector.io/sidecar': 'yes' } }) } };
  const result = injectManifest(document, config);
  assert.equal(result.decision, 'denied');
  assert.match(result.message, /^annotation envoy-xds-injector\.io\/sidecar "yes" is not supported/);
});

test('annotations on the workload instead of its pod template: a warning says where they belong', () => {
  const document = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'w', annotations },
    spec: { template: { spec: { containers: [{ name: 'envoy' }] } } },
  };
  const result = injectManifest(document, config);
  assert.equal(result.decision, 'unchanged');
  assert.match(result.warnings.join('\n'), /is on the Deployment's own metadata, where it has no effect: put the annotations on spec\.template\.metadata\.annotations/);
});

test('a List (kubectl get -o yaml) has its items injected; a denied item is named', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations }, spec: { containers: [{ name: 'envoy' }] } };
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };
  const list = { apiVersion: 'v1', kind: 'List', items: [cm, pod] };
  const result = injectedDocument(injectManifest(list, config));
  const items = result.items as Json[];
  assert.deepEqual(items[0], cm);
  assert.ok(isInjectedTemplate(items[1] ?? {}));

  const bad = { ...pod, metadata: { name: 'bad', annotations: { ...annotations, 'envoy-xds-injector.io/configmap': 'Bad' } } };
  const denied = injectManifest({ ...list, items: [pod, bad] }, config);
  assert.equal(denied.decision, 'denied');
  assert.match(denied.message, /^items\[1\] \(Pod\/bad\): annotation envoy-xds-injector\.io\/configmap "Bad"/);
});
