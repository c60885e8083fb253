// fast-check generators of what can reach POST /mutate: valid AdmissionReviews of generated Pods
// with every annotation at edge values, the same with a wrong type at any one place, and bodies that
// are not JSON at all.
import fc from 'fast-check';
import { Annotation } from '../../src/inject/index.js';

const A = Object.values(Annotation);
const edgeString = fc.constantFrom(
  '', ' ', 'true', 'false', 'True', ' true', 'yes', '1', '0', '-1', '1e3', 'NaN', 'null', '{}', '[]',
  '/etc/envoy', '/etc/envoy/', '/', '//', '/etc/../x', 'relative', '/etc/envoy/xds', '/etc',
  'native', 'container', 'Native', '10m', '32Mi', '64Mi', '1Gi', '0.5', '9999999999Ti', '-10m', '1.5.5',
  'registry.example/img:1', 'img with space', 'img\n', 'xds', 'Bad_Name', 'a'.repeat(300), 'é🙂', '~1/~0', '$(VAR)',
);
const annotationValue = fc.oneof({ weight: 6, arbitrary: edgeString }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
const annotationKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...A) },
  { weight: 1, arbitrary: fc.constantFrom('envoy-xds-injector.io/mountpath', 'envoy-xds-injector.io/', 'a/b', '~', '/', '') },
);
const annotations = fc
  .tuple(fc.dictionary(annotationKey, annotationValue, { maxKeys: 6 }), fc.constantFrom('true', 'true', 'true', 'false', undefined), fc.constantFrom('xds', 'xds', 'front.v2', '', undefined))
  .map(([rest, inject, configMap]) => {
    const all: Record<string, string> = { ...rest };
    if (inject !== undefined) all[Annotation.inject] = inject;
    if (configMap !== undefined) all[Annotation.configMap] = configMap;
    return all;
  });

// Half the Pods only opt in (and maybe set one valid option), so many reviews get injected.
const validOption = fc.constantFrom<Record<string, string>>({}, { [Annotation.mountPath]: '/etc/xds' }, { [Annotation.sidecar]: 'container' }, { [Annotation.memoryLimit]: '128Mi' }, { [Annotation.container]: 'proxy' });
const podAnnotations = fc.oneof(annotations, validOption.map((o) => ({ [Annotation.inject]: 'true', [Annotation.configMap]: 'xds', ...o })));

const containerName = fc.constantFrom('envoy', 'envoy', 'app', 'proxy', 'envoy-xds-watch', 'envoy-xds-copy', '');
const mount = fc.record({ name: fc.constantFrom('certs', 'cfg', 'envoy-xds-config'), mountPath: fc.constantFrom('/etc/certs', '/etc/envoy', '/etc/envoy/x', '/etc', '/data'), readOnly: fc.boolean() }, { requiredKeys: ['name', 'mountPath'] });
const container = fc.record(
  {
    name: containerName,
    image: fc.constantFrom('envoyproxy/envoy:v1.40.0', 'app:1'),
    command: fc.constantFrom(['envoy'], ['/bin/sh', '-c', 'exec envoy -c /etc/envoy/envoy.yaml'], []),
    args: fc.constantFrom(['-c', '/etc/envoy/envoy.yaml'], ['--config-path=/x/envoy.yaml'], ['-c', '$(B)'], ['--log-level', 'info'], []),
    workingDir: fc.constantFrom('/srv', 'rel'),
    volumeMounts: fc.array(mount, { maxLength: 3 }),
    restartPolicy: fc.constant('Always'),
  },
  { requiredKeys: ['name'] },
);
const volume = fc.oneof(
  fc.record({ name: fc.constantFrom('certs', 'cfg', 'envoy-xds-source'), configMap: fc.record({ name: fc.constantFrom('xds', 'other') }) }),
  fc.record({ name: fc.constantFrom('certs', 'data'), emptyDir: fc.constant({}) }),
);
const pod = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constant('Pod'),
  metadata: fc.record({ name: fc.constantFrom('p', ''), generateName: fc.constant('p-'), namespace: fc.constantFrom('default', 'a'), annotations: podAnnotations, labels: fc.constant({ app: 'x' }) }, { requiredKeys: ['annotations'] }),
  spec: fc.record(
    {
      containers: fc.oneof(fc.array(container, { minLength: 0, maxLength: 3 }), fc.constant([{ name: 'envoy', image: 'envoyproxy/envoy:v1.40.0' }])),
      initContainers: fc.array(container, { maxLength: 2 }),
      volumes: fc.array(volume, { maxLength: 3 }),
      restartPolicy: fc.constantFrom('Always', 'Never', 'OnFailure'),
      automountServiceAccountToken: fc.boolean(),
    },
    { requiredKeys: ['containers'] },
  ),
});

export type Json = Record<string, unknown>;

const review = fc.record({
  uid: fc.uuid(),
  pod,
  operation: fc.constantFrom('CREATE', 'CREATE', 'CREATE', 'CREATE', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
  dryRun: fc.boolean(),
}).map(({ uid, pod: object, operation, dryRun }): Json => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: (object.metadata as Json).namespace ?? 'default',
    operation,
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object,
    dryRun,
  },
}));

/** Every path to a value inside `value` (objects and arrays), root excluded. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(value)) value.forEach((v, i) => { out.push([...prefix, i]); paths(v, [...prefix, i], out); });
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { out.push([...prefix, k]); paths(v, [...prefix, k], out); }
  }
  return out;
}

function replaceAt(root: Json, path: (string | number)[], replacement: unknown): Json {
  const copy = structuredClone(root);
  let node: unknown = copy;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
  const last = path.at(-1);
  if (last !== undefined) (node as Record<string | number, unknown>)[last] = replacement;
  return copy;
}

const wrongValue = fc.oneof(fc.constantFrom(null, 0, -1, 1.5, true, false, '', 'x', [], {}, [null], { a: 1 }), fc.jsonValue({ maxDepth: 2 }));

/** A valid review with one value anywhere replaced by something of (usually) another type. */
const wrongType = fc.tuple(review, fc.nat(), wrongValue).map(([r, pick, value]) => {
  const all = paths(r);
  const path = all[pick % all.length] ?? ['request'];
  return replaceAt(r, path, value);
});

export interface FuzzInput {
  kind: 'valid' | 'wrong-type' | 'malformed';
  body: string;
  /** The uid the answer must echo, when the body is an AdmissionReview the server must answer. */
  uid?: string;
  review?: Json;
}

const malformed = fc.tuple(review, fc.nat(), fc.constantFrom('', '{', '}', ',', '"', '\u0000', 'NaN', '\\', ']]]')).map(([r, at, junk]): FuzzInput => {
  const text = JSON.stringify(r);
  const i = at % (text.length + 1);
  return { kind: 'malformed', body: `${text.slice(0, i)}${junk}${junk === '' ? '' : text.slice(i)}` };
});

export const fuzzInput: fc.Arbitrary<FuzzInput> = fc.oneof(
  { weight: 6, arbitrary: review.map((r): FuzzInput => ({ kind: 'valid', body: JSON.stringify(r), uid: (r.request as Json).uid as string, review: r })) },
  { weight: 3, arbitrary: wrongType.map((r): FuzzInput => ({ kind: 'wrong-type', body: JSON.stringify(r), review: r })) },
  { weight: 1, arbitrary: malformed },
);
