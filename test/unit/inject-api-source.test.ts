// envoy-xds-injector.io/source: what the watch container gets with `api`, and when it warns.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { defaultConfig, injectPod, type InjectResult } from '../../src/inject/index.js';

type Json = Record<string, unknown>;
const config = defaultConfig('1.2.3');
const TOKEN_VOLUME = {
  name: 'kube-api-access-abcde',
  projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }] },
};

function pod(source: string | undefined, spec: Json = {}): V1Pod {
  const annotations: Record<string, string> = { 'envoy-xds-injector.io/inject': 'true', 'envoy-xds-injector.io/configmap': 'xds' };
  if (source !== undefined) annotations['envoy-xds-injector.io/source'] = source;
  const json: Json = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations }, spec: { containers: [{ name: 'envoy', image: 'envoy', args: ['-c', '/etc/envoy/envoy.yaml'] }], ...spec } };
  return json;
}

function watchOf(result: InjectResult): Json {
  assert.equal(result.decision, 'injected', JSON.stringify(result));
  const spec = result.pod.spec as unknown as { initContainers: Json[] };
  const watch = spec.initContainers.find((c) => c.name === 'envoy-xds-watch');
  assert.ok(watch);
  return watch;
}

test('source defaults to volume: the watcher gets no API flags or API env (only the Pod\'s name and namespace, for the commands it prints), and the token only as the ServiceAccount plugin would mount it', () => {
  for (const result of [injectPod(pod(undefined, { volumes: [TOKEN_VOLUME] }), config), injectPod(pod('volume', { volumes: [TOKEN_VOLUME] }), config)]) {
    const watch = watchOf(result);
    assert.ok(!(watch.args as string[]).includes('--source'));
    assert.deepEqual((watch.env as { name: string }[]).map((e) => e.name).filter((name) => name.startsWith('POD_') || name === 'NODE_NAME'), ['POD_NAME', 'POD_NAMESPACE']);
    // One mount, the plugin's own (src/inject/service-account.ts), not a second one for the API.
    assert.equal((watch.volumeMounts as Json[]).filter((m) => m.name === TOKEN_VOLUME.name).length, 1);
    assert.deepEqual(result.warnings, []);
  }
});

test('source api: --source api --configmap, downward API env, and the ServiceAccount token volume mounted read-only', () => {
  const result = injectPod(pod('api', { volumes: [TOKEN_VOLUME] }), config);
  const watch = watchOf(result);
  const args = watch.args as string[];
  assert.deepEqual(args.slice(args.indexOf('--source')), ['--source', 'api', '--configmap', 'xds']);
  const env = new Map((watch.env as { name: string; valueFrom?: { fieldRef: { fieldPath: string } } }[]).map((e) => [e.name, e.valueFrom?.fieldRef.fieldPath]));
  assert.equal(env.get('POD_NAME'), 'metadata.name');
  assert.equal(env.get('POD_NAMESPACE'), 'metadata.namespace');
  assert.equal((watch.env as { name: string }[]).filter((e) => e.name === 'POD_NAME').length, 1, 'POD_NAME once');
  assert.equal(env.get('POD_UID'), 'metadata.uid');
  assert.equal(env.get('POD_SERVICE_ACCOUNT'), 'spec.serviceAccountName');
  assert.deepEqual((watch.volumeMounts as Json[]).at(-1), { name: TOKEN_VOLUME.name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
  assert.deepEqual(result.warnings, []);
  // the copy container still starts from the volume only
  const spec = (result as unknown as { pod: { spec: { initContainers: Json[] } } }).pod.spec;
  const copy = spec.initContainers.find((c) => c.name === 'envoy-xds-copy');
  assert.ok(copy && !(copy.args as string[]).includes('--source'));
});

test('source api: copy reads the last-accepted ConfigMap through an optional ConfigMap volume (--accepted), listed in the status annotation; volume mode has none', () => {
  const result = injectPod(pod('api', { volumes: [TOKEN_VOLUME] }), config);
  assert.equal(result.decision, 'injected');
  const spec = (result as unknown as { pod: { spec: { initContainers: Json[]; volumes: Json[] } } }).pod.spec;
  assert.deepEqual(spec.volumes.find((v) => v.name === 'envoy-xds-accepted'), { name: 'envoy-xds-accepted', configMap: { name: 'xds-envoy-xds-accepted', optional: true } });
  const copy = spec.initContainers.find((c) => c.name === 'envoy-xds-copy') ?? {};
  const args = copy.args as string[];
  assert.deepEqual(args.slice(args.indexOf('--accepted')), ['--accepted', '/var/run/envoy-xds-injector/accepted']);
  assert.ok((copy.volumeMounts as Json[]).some((m) => m.name === 'envoy-xds-accepted' && m.mountPath === '/var/run/envoy-xds-injector/accepted' && m.readOnly === true));
  const status = JSON.parse((result as unknown as { pod: { metadata: { annotations: Record<string, string> } } }).pod.metadata.annotations['envoy-xds-injector.io/status'] ?? '{}') as { volumes: string[] };
  assert.deepEqual(status.volumes, ['envoy-xds-source', 'envoy-xds-config', 'envoy-xds-accepted']);

  const volumeMode = injectPod(pod('volume', { volumes: [TOKEN_VOLUME] }), config);
  const volumeSpec = (volumeMode as unknown as { pod: { spec: { initContainers: Json[]; volumes: Json[] } } }).pod.spec;
  assert.ok(!volumeSpec.volumes.some((v) => v.name === 'envoy-xds-accepted'));
  assert.ok(!(volumeSpec.initContainers.find((c) => c.name === 'envoy-xds-copy')?.args as string[]).includes('--accepted'));
});

test('a Pod that brings its own volume named envoy-xds-accepted is denied (the name is reserved)', () => {
  const result = injectPod(pod('volume', { volumes: [{ name: 'envoy-xds-accepted', emptyDir: {} }] }), config);
  assert.equal(result.decision, 'denied');
  assert.match((result as { message: string }).message, /volume envoy-xds-accepted/);
});

test('source api with automountServiceAccountToken: false and no token volume: injected, with a warning that says what happens', () => {
  const result = injectPod(pod('api', { automountServiceAccountToken: false }), config);
  watchOf(result);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0] ?? '', /source is "api" but the Pod has automountServiceAccountToken: false and no ServiceAccount token volume: .*follows the ConfigMap volume only/);
});

test('source api with a template not yet admitted (no token volume, automount not disabled): no warning', () => {
  assert.deepEqual(injectPod(pod('api'), config).warnings, []);
});

test('an unknown source is denied with the allowed values', () => {
  const result = injectPod(pod('kubelet'), config);
  assert.ok(result.decision === 'denied');
  assert.match(result.message, /envoy-xds-injector\.io\/source "kubelet" is not supported: use "volume" \(the default\) or "api"/);
});

test('on the Pod a real kube-apiserver sent (its kube-api-access-* volume): the watcher mounts that token volume', async () => {
  const { readFile } = await import('node:fs/promises');
  const review = JSON.parse(await readFile(new URL('../fixtures/admission-review-apiserver.json', import.meta.url), 'utf8')) as { request: { object: Json } };
  const captured = structuredClone(review.request.object) as { metadata: { annotations: Record<string, string> }; spec: { volumes: { name: string }[] } };
  captured.metadata.annotations['envoy-xds-injector.io/source'] = 'api';
  const tokenVolume = captured.spec.volumes.find((v) => v.name.startsWith('kube-api-access-'));
  assert.ok(tokenVolume);
  const asPod: Json = captured;
  const result = injectPod(asPod, config);
  const watch = watchOf(result);
  assert.ok((watch.volumeMounts as Json[]).some((m) => m.name === tokenVolume.name && m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount' && m.readOnly === true));
  assert.deepEqual(result.warnings, []);
});
