// Property tests over generated Pods, hostile ones included: the patch is exact, injection is
// idempotent, and injectPod never throws.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { defaultConfig, injectPod, type InjectResult } from '../../src/inject/index.js';

const config = defaultConfig('9.9.9');
const A = (name: string): string => `envoy-xds-injector.io/${name}`;

// Annotation keys: ours, ours misspelt, and keys JSON Pointer must escape.
const annotationKey = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...['container', 'mount-path', 'sidecar', 'image', 'cpu-request', 'memory-request', 'memory-limit', 'cpu-limit', 'status', 'mountpath'].map(A)) },
  { weight: 2, arbitrary: fc.constantFrom('a/b', '~', '~0~1', 'x~/y', '/', '', 'example.com/owner', 'envoy-xds-injector.io/') },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('a', '/', '~', '0', '1', '.', '-') }) },
);
const annotationValue = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('true', 'false', 'native', 'container', '/etc/envoy', '/etc/envoy/', 'etc', '/', '10m', '32Mi', '1Gi', 'x y', '', '{"version":"0"}') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const annotations = fc
  .tuple(
    fc.dictionary(annotationKey, annotationValue, { maxKeys: 4 }),
    fc.oneof({ weight: 12, arbitrary: fc.constant<unknown>('true') }, { weight: 1, arbitrary: fc.constantFrom<unknown>(true, 'false', undefined) }),
    fc.oneof({ weight: 12, arbitrary: fc.constantFrom<unknown>('xds', 'front-proxy.v2') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('Bad_Name', '', undefined) }),
  )
  .map(([rest, inject, configMap]) => {
    const all: Record<string, unknown> = { ...rest };
    if (inject !== undefined) all[A('inject')] = inject;
    if (configMap !== undefined) all[A('configmap')] = configMap;
    return all;
  });

const list = <T>(item: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: fc.array(item, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
const mountPath = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('/data', '/etc/certs', '/etc/envoy-old', 'relative') },
  { weight: 1, arbitrary: fc.constantFrom('/etc/envoy', '/etc/envoy/', '/etc', '/etc/envoy/certs', '/') },
);
const volumeMount = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: fc.constantFrom('certs', 'cfg', 'envoy-xds-config'), mountPath, subPath: fc.constantFrom('x.yaml', '') }, { requiredKeys: ['name', 'mountPath'] }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const container = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        name: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('envoy', 'app', 'proxy') },
          { weight: 1, arbitrary: fc.constantFrom('envoy-xds-watch', 'envoy-xds-copy') },
        ),
        image: fc.constant('img'),
        command: fc.constantFrom(['envoy'], ['sh', '-c', 'exec envoy -c /etc/envoy/envoy.yaml'], 'not-a-list'),
        args: fc.constantFrom(['-c', '/etc/envoy/envoy.yaml'], ['--config-path=/config/e.yaml'], ['-c'], [42]),
        workingDir: fc.constantFrom('/etc/envoy', 'rel'),
        restartPolicy: fc.constantFrom('Always', 'Never'),
        volumeMounts: fc.oneof(fc.array(volumeMount, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: ['name'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
// Mostly [envoy] or [envoy, app]: Pods that can be injected, with hostile variations.
const containers = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(container.map((c) => (typeof c === 'object' && c !== null && !Array.isArray(c) ? { ...c, name: 'envoy' } : c))) },
  { weight: 2, arbitrary: list(container) },
);
const volume = fc.oneof(
  fc.record({ name: fc.constantFrom('certs', 'cfg', 'envoy-xds-source'), configMap: fc.record({ name: fc.constantFrom('xds', 'other') }) }),
  fc.record({ name: fc.constantFrom('certs', 'data'), emptyDir: fc.constant({}) }),
  fc.jsonValue({ maxDepth: 1 }),
);
const spec = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      { containers, initContainers: list(container), volumes: list(volume), restartPolicy: fc.constantFrom('Always', 'Never') },
      { requiredKeys: ['containers'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const pod: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record(
      {
        apiVersion: fc.constant('v1'),
        kind: fc.constant('Pod'),
        metadata: fc.oneof(
          { weight: 8, arbitrary: fc.record({ generateName: fc.constant('p-'), annotations }, { requiredKeys: ['annotations'] }) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
        ),
        spec,
      },
      { requiredKeys: ['metadata', 'spec'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything() },
);

const run = (p: unknown): InjectResult => injectPod(p as V1Pod, config);
const after = (p: unknown, r: InjectResult): unknown => (r.decision === 'injected' ? r.pod : p);
const NUM_RUNS = 2000;

test('injectPod never throws and always returns a known decision', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const result = run(p);
      assert.ok(['skipped', 'injected', 'denied'].includes(result.decision));
      assert.ok(Array.isArray(result.warnings));
      if (result.decision === 'denied') assert.ok(result.message.length > 0);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('applying the patch to the original gives exactly the mutated Pod, and the original is untouched', () => {
  let injectedCount = 0;
  fc.assert(
    fc.property(pod, (p) => {
      const snapshot = structuredClone(p);
      const result = run(p);
      // structuredClone on both sides: generated objects may have a null prototype, clones do not.
      assert.deepEqual(structuredClone(p), snapshot);
      if (result.decision !== 'injected') return;
      injectedCount++;
      // Round-trip through JSON: that is what the apiserver applies the patch to.
      const original = JSON.parse(JSON.stringify(p)) as object;
      const patch = JSON.parse(JSON.stringify(result.patch)) as typeof result.patch;
      const patched = jsonPatch.applyPatch(original, patch, true, false).newDocument;
      assert.deepEqual(patched, JSON.parse(JSON.stringify(result.pod)));
    }),
    { numRuns: NUM_RUNS },
  );
  assert.ok(injectedCount > NUM_RUNS / 20, `the generator must produce injectable Pods, got ${injectedCount}`);
});

test('inject(inject(p)) == inject(p): an injected Pod is skipped, a denied one denied again', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const first = run(p);
      const once = after(p, first);
      const second = run(once);
      assert.deepEqual(after(once, second), once);
      if (first.decision === 'injected') assert.equal(second.decision, 'skipped');
      else assert.deepEqual(second, first);
    }),
    { numRuns: NUM_RUNS },
  );
});

/** Every object reachable from `root`, with how many places reach it. */
function objectsIn(root: unknown): Map<object, number> {
  const seen = new Map<object, number>();
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    const count = seen.get(value) ?? 0;
    seen.set(value, count + 1);
    if (count === 0) for (const child of Object.values(value)) walk(child);
  };
  walk(root);
  return seen;
}

// injectPod copies only the paths it changes (copy-on-write) for speed. The input is never written
// (tested above); here: the result holds no object twice (the CLI would print YAML anchors), and
// the patch shares nothing with the input or the result.
test('the result holds no object twice, and the patch aliases neither the input nor the result', () => {
  fc.assert(
    fc.property(pod, (p) => {
      const result = run(p);
      if (result.decision !== 'injected') return;
      const input = objectsIn(p);
      const output = objectsIn(result.pod);
      for (const [object, count] of output) {
        // Generated input may itself repeat an object (fast-check reuses values); only new repeats count.
        if (count > 1) assert.ok((input.get(object) ?? 0) > 1, `an object appears ${count} times in the result`);
      }
      for (const object of objectsIn(result.patch).keys()) {
        assert.ok(!input.has(object) && !output.has(object), 'the patch must not alias the input or the result');
      }
    }),
    { numRuns: NUM_RUNS },
  );
});
