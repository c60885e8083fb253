// Table-driven tests of the injection rules: every annotation, every denial, every default.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { defaultConfig, injectPod, type InjectResult } from '../../src/inject/index.js';

type Json = Record<string, unknown>;
type Injected = Extract<InjectResult, { decision: 'injected' }>;

const config = defaultConfig('1.2.3');
const A = (name: string): string => `envoy-xds-injector.io/${name}`;
const SRC = '/var/run/envoy-xds-injector/source';
const DST = '/var/run/envoy-xds-injector/config';
const READY = `${DST}/..envoy-xds-watch.ready`;

const envoy = (extra: Json = {}): Json => ({ name: 'envoy', image: 'envoyproxy/envoy:v1.31.2', ...extra });

/** A Pod opted in with ConfigMap `xds`; `annotations` are added (undefined removes one). */
function pod(annotations: Record<string, unknown> = {}, spec: Json | null = { containers: [envoy()] }): V1Pod {
  const all: Json = { [A('inject')]: 'true', [A('configmap')]: 'xds' };
  for (const [key, value] of Object.entries(annotations)) {
    if (value === undefined) Reflect.deleteProperty(all, key.includes('/') ? key : A(key));
    else all[key.includes('/') ? key : A(key)] = value;
  }
  const metadata = { name: 'p', annotations: all as Record<string, string> };
  const json: Json = spec === null ? { apiVersion: 'v1', kind: 'Pod', metadata } : { apiVersion: 'v1', kind: 'Pod', metadata, spec };
  return json;
}

/** Injects, and checks what must hold for every injection: the patch turns the original into the result. */
function injected(input: V1Pod): Injected & { spec: Json } {
  const before = structuredClone(input);
  const result = injectPod(input, config);
  assert.equal(result.decision, 'injected', JSON.stringify(result));
  assert.deepEqual(input, before, 'injectPod must not modify its argument');
  const patched = jsonPatch.applyPatch(structuredClone(input), result.patch, true, true).newDocument;
  assert.deepEqual(patched, result.pod);
  return { ...result, spec: result.pod.spec as unknown as Json };
}

function denied(input: V1Pod): string {
  const result = injectPod(input, config);
  assert.equal(result.decision, 'denied', JSON.stringify(result));
  return result.message;
}

const containerNamed = (list: unknown, name: string): Json => {
  const found = (list as Json[]).find((c) => c.name === name);
  assert.ok(found, `no container ${name} in ${JSON.stringify(list)}`);
  return found;
};
const statusOf = (r: Injected): Json => JSON.parse(r.pod.metadata?.annotations?.[A('status')] ?? '') as Json;
const names = (list: unknown): unknown[] => ((list ?? []) as Json[]).map((c) => c.name);

describe('defaults', () => {
  const result = injected(pod({}, { containers: [envoy({ args: ['-c', '/etc/envoy/envoy.yaml'] }), { name: 'app', image: 'nginx' }] }));
  const copy = containerNamed(result.spec.initContainers, 'envoy-xds-copy');
  const watch = containerNamed(result.spec.initContainers, 'envoy-xds-watch');

  test('adds the ConfigMap volume and a memory-backed, size-limited emptyDir', () => {
    assert.deepEqual(result.spec.volumes, [
      { name: 'envoy-xds-source', configMap: { name: 'xds' } },
      { name: 'envoy-xds-config', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    ]);
  });
  test('mounts the copy read-only at /etc/envoy in the container named envoy only', () => {
    const [envoyContainer, app] = result.spec.containers as Json[];
    assert.deepEqual(envoyContainer?.volumeMounts, [{ name: 'envoy-xds-config', mountPath: '/etc/envoy', readOnly: true }]);
    assert.equal(app?.volumeMounts, undefined);
  });
  test('copy init container first, then the watcher as a native sidecar', () => {
    assert.deepEqual(names(result.spec.initContainers), ['envoy-xds-copy', 'envoy-xds-watch']);
    assert.deepEqual(copy.args, ['copy', '--from', SRC, '--to', DST, '--bootstrap', 'envoy.yaml']);
    assert.deepEqual(watch.args, ['watch', '--from', SRC, '--to', DST, '--ready-file', READY, '--bootstrap', 'envoy.yaml']);
    assert.equal(copy.restartPolicy, undefined);
    assert.equal(watch.restartPolicy, 'Always');
    assert.deepEqual(watch.startupProbe, { exec: { command: ['test', '-e', READY] }, periodSeconds: 1, failureThreshold: 120 });
    assert.equal(copy.command, undefined, 'the image ENTRYPOINT is the CLI: only args');
  });
  test('sync containers: image, pull policy, resources, mounts, restricted securityContext', () => {
    for (const c of [copy, watch]) {
      assert.equal(c.image, config.image);
      assert.equal(c.imagePullPolicy, 'IfNotPresent');
      assert.deepEqual(c.resources, { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '80Mi' } });
      assert.deepEqual(c.securityContext, {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
        readOnlyRootFilesystem: true,
      });
      assert.deepEqual(c.volumeMounts, [
        { name: 'envoy-xds-source', mountPath: SRC, readOnly: true },
        { name: 'envoy-xds-config', mountPath: DST },
      ]);
      assert.deepEqual((c.env as unknown[]).slice(0, 4), [
        { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1' },
        { name: 'MALLOC_ARENA_MAX', value: '1' },
        { name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' },
        { name: 'MALLOC_TOP_PAD_', value: '0' },
      ]);
    }
    assert.equal((copy.env as unknown[]).length, 4);
    // The watcher knows its Pod, so the commands it prints name it (kubectl exec -n NS POD ...).
    assert.deepEqual((watch.env as unknown[]).slice(4), [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    ]);
    assert.notEqual(copy.env, watch.env, 'each container owns its env list');
  });
  test('the status annotation records version and what was injected', () => {
    assert.deepEqual(statusOf(result), {
      version: '1.2.3',
      configmap: 'xds',
      container: 'envoy',
      mountPath: '/etc/envoy',
      sidecar: 'native',
      image: config.image,
      volumes: ['envoy-xds-source', 'envoy-xds-config'],
      initContainers: ['envoy-xds-copy', 'envoy-xds-watch'],
      containers: [],
    });
    assert.deepEqual(result.warnings, []);
  });
  test('the patch escapes "/" in the status annotation key as ~1', () => {
    const op = result.patch.find((o) => o.path.startsWith('/metadata'));
    assert.deepEqual(op && { op: op.op, path: op.path }, { op: 'add', path: '/metadata/annotations/envoy-xds-injector.io~1status' });
  });
  test('existing volumes, init containers and mounts are kept, ours appended', () => {
    const r = injected(
      pod({}, {
        initContainers: [{ name: 'setup', image: 'busybox' }],
        containers: [envoy({ volumeMounts: [{ name: 'certs', mountPath: '/etc/certs' }] })],
        volumes: [{ name: 'certs', secret: { secretName: 'certs' } }],
      }),
    );
    assert.deepEqual(names(r.spec.volumes), ['certs', 'envoy-xds-source', 'envoy-xds-config']);
    assert.deepEqual(names(r.spec.initContainers), ['setup', 'envoy-xds-copy', 'envoy-xds-watch']);
    assert.deepEqual(names((r.spec.containers as Json[])[0]?.volumeMounts), ['certs', 'envoy-xds-config']);
  });
});

describe('annotations', () => {
  const cases: { name: string; annotations: Record<string, unknown>; spec?: Json; check: (r: Injected & { spec: Json }) => void }[] = [
    {
      name: 'container picks the Envoy container by name',
      annotations: { container: 'proxy' },
      spec: { containers: [{ name: 'app', image: 'a' }, { name: 'proxy', image: 'envoy' }] },
      check: (r) => { assert.equal(names(containerNamed(r.spec.containers, 'proxy').volumeMounts)[0], 'envoy-xds-config'); },
    },
    {
      name: 'without container, the only container is Envoy whatever its name',
      annotations: {},
      spec: { containers: [{ name: 'gateway', image: 'envoy' }] },
      check: (r) => { assert.equal(names(containerNamed(r.spec.containers, 'gateway').volumeMounts)[0], 'envoy-xds-config'); },
    },
    {
      name: 'Envoy as a native sidecar init container: ours go right before it',
      annotations: {},
      spec: {
        initContainers: [{ name: 'setup', image: 'b' }, envoy({ restartPolicy: 'Always' })],
        containers: [{ name: 'app', image: 'a' }],
      },
      check: (r) => {
        assert.deepEqual(names(r.spec.initContainers), ['setup', 'envoy-xds-copy', 'envoy-xds-watch', 'envoy']);
        assert.equal(names(containerNamed(r.spec.initContainers, 'envoy').volumeMounts)[0], 'envoy-xds-config');
      },
    },
    {
      name: 'mount-path is normalized',
      annotations: { 'mount-path': '/srv//envoy/./xds/' },
      check: (r) => {
        assert.deepEqual((containerNamed(r.spec.containers, 'envoy').volumeMounts as Json[])[0]?.mountPath, '/srv/envoy/xds');
        assert.equal(statusOf(r).mountPath, '/srv/envoy/xds');
      },
    },
    {
      name: 'mount-path next to (not inside) an existing mount is fine',
      annotations: {},
      spec: { containers: [envoy({ volumeMounts: [{ name: 'old', mountPath: '/etc/envoy-old' }, { name: 'e', mountPath: '/etc/envoyx' }] })] },
      check: (r) => { assert.equal(names(containerNamed(r.spec.containers, 'envoy').volumeMounts).length, 3); },
    },
    {
      name: 'mount-path below a ConfigMap mount (the bootstrap from its own ConfigMap) is fine, with admin for the watcher',
      annotations: { 'mount-path': '/etc/envoy/xds', admin: '127.0.0.1:9901' },
      spec: {
        containers: [envoy({ volumeMounts: [{ name: 'bootstrap', mountPath: '/etc/envoy', readOnly: true }] })],
        volumes: [{ name: 'bootstrap', configMap: { name: 'bootstrap' } }],
      },
      check: (r) => {
        assert.deepEqual(names(containerNamed(r.spec.containers, 'envoy').volumeMounts), ['bootstrap', 'envoy-xds-config']);
        assert.deepEqual(r.warnings, []);
      },
    },
    {
      name: 'sidecar: container makes the watcher a regular container',
      annotations: { sidecar: 'container' },
      check: (r) => {
        assert.deepEqual(names(r.spec.initContainers), ['envoy-xds-copy']);
        assert.deepEqual(names(r.spec.containers), ['envoy', 'envoy-xds-watch']);
        assert.equal(containerNamed(r.spec.containers, 'envoy-xds-watch').restartPolicy, undefined);
        const status = statusOf(r);
        assert.deepEqual([status.sidecar, status.initContainers, status.containers], ['container', ['envoy-xds-copy'], ['envoy-xds-watch']]);
      },
    },
    {
      name: 'sidecar: native is the explicit default',
      annotations: { sidecar: 'native' },
      check: (r) => { assert.equal(containerNamed(r.spec.initContainers, 'envoy-xds-watch').restartPolicy, 'Always'); },
    },
    {
      name: 'image overrides the configured image of both sync containers',
      annotations: { image: 'registry.example/injector:dev' },
      check: (r) => {
        for (const c of r.spec.initContainers as Json[]) assert.equal(c.image, 'registry.example/injector:dev');
      },
    },
    {
      name: 'resource annotations override the defaults',
      annotations: { 'cpu-request': '50m', 'memory-request': '48Mi', 'memory-limit': '0.25Gi', 'cpu-limit': '1' },
      check: (r) => {
        for (const c of r.spec.initContainers as Json[]) {
          assert.deepEqual(c.resources, { requests: { cpu: '50m', memory: '48Mi' }, limits: { cpu: '1', memory: '0.25Gi' } });
        }
      },
    },
    {
      name: 'quantities with exponents and decimal suffixes are accepted',
      annotations: { 'memory-request': '3e7', 'memory-limit': '64M', 'cpu-request': '.1' },
      check: (r) => { assert.deepEqual(containerNamed(r.spec.initContainers, 'envoy-xds-copy').resources, {
        requests: { cpu: '.1', memory: '3e7' },
        limits: { memory: '64M' },
      }); },
    },
    {
      name: 'an empty annotation value means the default',
      annotations: { 'mount-path': '', sidecar: '', image: '', container: '' },
      check: (r) => { assert.equal((containerNamed(r.spec.containers, 'envoy').volumeMounts as Json[])[0]?.mountPath, '/etc/envoy'); },
    },
    {
      name: 'copy and watch learn the bootstrap file when -c points directly into mount-path',
      annotations: {},
      spec: { containers: [envoy({ args: ['-c', '/etc/envoy/envoy.yaml', '--log-level', 'info'] })] },
      check: (r) => {
        assert.deepEqual(containerNamed(r.spec.initContainers, 'envoy-xds-watch').args, [
          'watch', '--from', SRC, '--to', DST, '--ready-file', READY, '--bootstrap', 'envoy.yaml',
        ]);
        assert.deepEqual(containerNamed(r.spec.initContainers, 'envoy-xds-copy').args, ['copy', '--from', SRC, '--to', DST, '--bootstrap', 'envoy.yaml']);
      },
    },
    {
      name: '--config-path=FILE inside a shell script, relative to workingDir',
      annotations: {},
      spec: { containers: [envoy({ command: ['/bin/sh', '-c'], args: ['exec envoy --config-path=bootstrap.yaml'], workingDir: '/etc/envoy' })] },
      check: (r) => { assert.equal((containerNamed(r.spec.initContainers, 'envoy-xds-watch').args as string[]).at(-1), 'bootstrap.yaml'); },
    },
    {
      name: '`sh -c "envoy -c FILE"`: the last -c is Envoy\'s',
      annotations: {},
      spec: { containers: [envoy({ command: ['sh', '-c', 'envoy -c /etc/envoy/front.yaml'] })] },
      check: (r) => { assert.equal((containerNamed(r.spec.initContainers, 'envoy-xds-watch').args as string[]).at(-1), 'front.yaml'); },
    },
    {
      name: 'a Pod running as root (pod-level runAsUser 0): our containers get the image uid so runAsNonRoot holds',
      annotations: {},
      spec: { securityContext: { runAsUser: 0 }, containers: [envoy()] },
      check: (r) => {
        for (const c of r.spec.initContainers as Json[]) assert.deepEqual((c.securityContext as Json).runAsUser, 10001);
      },
    },
    {
      name: 'other annotations, including keys with ~ and /, are kept',
      annotations: { 'a~b/c~1': 'x', 'example.com/owner': 'team' },
      check: (r) => {
        const annotations = r.pod.metadata?.annotations ?? {};
        assert.equal(annotations['a~b/c~1'], 'x');
        assert.equal(annotations['example.com/owner'], 'team');
        assert.deepEqual(r.patch.filter((o) => o.path.startsWith('/metadata')).map((o) => o.path), ['/metadata/annotations/envoy-xds-injector.io~1status']);
      },
    },
  ];
  for (const c of cases) test(c.name, () => { c.check(injected(pod(c.annotations, c.spec))); });
});

describe('denials name the annotation or field and the fix', () => {
  const two = { containers: [{ name: 'proxy', image: 'envoy' }, { name: 'app', image: 'nginx' }] };
  const withMount = (mountPath: string): Json => ({ containers: [envoy({ volumeMounts: [{ name: 'mine', mountPath }] })] });
  const cases: { name: string; annotations?: Record<string, unknown>; spec?: Json | null; message: RegExp }[] = [
    { name: 'configmap missing', annotations: { configmap: undefined }, message: /annotation envoy-xds-injector\.io\/configmap is missing: set it to the name of the ConfigMap/ },
    { name: 'configmap with upper case', annotations: { configmap: 'Envoy_XDS' }, message: /annotation envoy-xds-injector\.io\/configmap "Envoy_XDS" is not a valid ConfigMap name: use at most 253 lower-case/ },
    { name: 'configmap ending in a dash', annotations: { configmap: 'xds-' }, message: /configmap "xds-" is not a valid ConfigMap name/ },
    { name: 'configmap longer than 253', annotations: { configmap: 'a'.repeat(254) }, message: /is not a valid ConfigMap name/ },
    { name: 'container that does not exist', annotations: { container: 'edge' }, spec: two, message: /annotation envoy-xds-injector\.io\/container names container edge, which this Pod does not have; its containers are: proxy, app/ },
    { name: 'several containers, none named envoy', spec: two, message: /cannot tell which container is Envoy: .*\(proxy, app\); set annotation envoy-xds-injector\.io\/container/ },
    {
      name: 'container naming a run-to-completion init container',
      annotations: { container: 'setup' },
      spec: { initContainers: [{ name: 'setup', image: 'b' }], containers: [envoy()] },
      message: /container setup is an init container that runs to completion.*set annotation envoy-xds-injector\.io\/container/,
    },
    { name: 'relative mount-path', annotations: { 'mount-path': 'etc/envoy' }, message: /annotation envoy-xds-injector\.io\/mount-path "etc\/envoy" is not an absolute path: set annotation envoy-xds-injector\.io\/mount-path to an absolute directory/ },
    { name: 'mount-path with ..', annotations: { 'mount-path': '/etc/../envoy' }, message: /mount-path "\/etc\/\.\.\/envoy" must not contain "\.\."/ },
    { name: 'mount-path /', annotations: { 'mount-path': '//' }, message: /would mount over the container's root/ },
    { name: 'mount-path taken by an existing mount', spec: withMount('/etc/envoy/'), message: /container envoy already mounts volume mine at \/etc\/envoy.*remove that mount.*or set annotation envoy-xds-injector\.io\/mount-path to another directory/ },
    { name: 'existing mount inside mount-path', spec: withMount('/etc/envoy/certs'), message: /mounts volume mine at \/etc\/envoy\/certs, inside the injector's mount-path \/etc\/envoy, which is read-only, so the container could not start: move that mount/ },
    { name: 'unknown sidecar mode', annotations: { sidecar: 'sidecar' }, message: /annotation envoy-xds-injector\.io\/sidecar "sidecar" is not supported: use "native" .* or "container"/ },
    { name: 'admin without a port', annotations: { admin: 'localhost' }, message: /annotation envoy-xds-injector\.io\/admin "localhost" is not an address: set it to Envoy's admin address as the watcher reaches it inside the Pod, HOST:PORT \(e\.g\. 127\.0\.0\.1:9901\) or a unix socket path/ },
    { name: 'admin a bare port', annotations: { admin: '9901' }, message: /annotation envoy-xds-injector\.io\/admin "9901" is not an address/ },
    { name: 'admin port out of range', annotations: { admin: '127.0.0.1:99999' }, message: /admin "127\.0\.0\.1:99999" is not an address/ },
    { name: 'admin an empty unix socket path', annotations: { admin: 'unix:' }, message: /admin "unix:" is not an address/ },
    { name: 'admin with whitespace', annotations: { admin: '127.0.0.1: 9901' }, message: /admin "127\.0\.0\.1: 9901" is not an address/ },
    { name: 'image with whitespace', annotations: { image: 'repo/img :v1' }, message: /annotation envoy-xds-injector\.io\/image "repo\/img :v1" contains whitespace/ },
    { name: 'cpu-request not a quantity', annotations: { 'cpu-request': 'lots' }, message: /annotation envoy-xds-injector\.io\/cpu-request "lots" is not a valid Kubernetes quantity: use e\.g\./ },
    { name: 'memory-limit with an unknown suffix', annotations: { 'memory-limit': '64MB' }, message: /annotation envoy-xds-injector\.io\/memory-limit "64MB" is not a valid Kubernetes quantity/ },
    { name: 'memory-request negative', annotations: { 'memory-request': '-1Mi' }, message: /memory-request "-1Mi" is not a valid Kubernetes quantity/ },
    { name: 'cpu-limit with a space', annotations: { 'cpu-limit': '1 m' }, message: /cpu-limit "1 m" is not a valid Kubernetes quantity/ },
    { name: 'memory-request above the default limit', annotations: { 'memory-request': '128Mi' }, message: /annotation envoy-xds-injector\.io\/memory-request "128Mi" is more than the injector's default for envoy-xds-injector\.io\/memory-limit "80Mi"/ },
    { name: 'cpu-limit below the default request', annotations: { 'cpu-limit': '5m' }, message: /the injector's default for envoy-xds-injector\.io\/cpu-request "10m" is more than annotation envoy-xds-injector\.io\/cpu-limit "5m"/ },
    { name: 'a volume named like ours', spec: { containers: [envoy()], volumes: [{ name: 'envoy-xds-config', emptyDir: {} }] }, message: /already has volume envoy-xds-config, which the injector did not add.*rename them/ },
    { name: 'a container named like ours', spec: { containers: [envoy(), { name: 'envoy-xds-watch', image: 'x' }] }, message: /already has container envoy-xds-watch, which the injector did not add/ },
    { name: 'inject: true unquoted in YAML', annotations: { inject: true }, message: /annotation envoy-xds-injector\.io\/inject must be a string, got the boolean true: .*quote it/ },
    { name: 'a numeric annotation value', annotations: { 'memory-limit': 64 }, message: /memory-limit must be a string, got the number 64/ },
    { name: 'no spec', spec: null, message: /the Pod has no spec/ },
    { name: 'containers not a list', spec: { containers: 'envoy' }, message: /spec\.containers must be a list/ },
    { name: 'no containers', spec: { containers: [] }, message: /the Pod has no containers/ },
    { name: 'volumes not a list', spec: { containers: [envoy()], volumes: { a: 1 } }, message: /spec\.volumes must be a list/ },
    { name: 'volumeMounts not a list', spec: { containers: [envoy({ volumeMounts: 'x' })] }, message: /volumeMounts of container envoy must be a list/ },
    { name: 'an unnamed only container', spec: { containers: [null] }, message: /cannot tell which container is Envoy.*#0 \(unnamed\)/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.match(denied(pod(c.annotations, c.spec)), c.message);
    });
  }
});

test('every bad annotation of one Pod is reported at once, in one denial (as a bad --config file is)', () => {
  const message = denied(
    pod({ configmap: 'Envoy_XDS', 'mount-path': 'etc/envoy', sidecar: 'sometimes', image: 'a b', 'cpu-request': 'lots', 'memory-limit': 64, source: 'git' }),
  );
  const parts = message.split('; ');
  assert.equal(parts.length, 7, message);
  assert.match(parts[0] ?? '', /configmap "Envoy_XDS" is not a valid ConfigMap name/);
  assert.match(parts[1] ?? '', /mount-path "etc\/envoy" is not an absolute path/);
  assert.match(parts[2] ?? '', /sidecar "sometimes" is not supported/);
  assert.match(parts[3] ?? '', /image "a b" contains whitespace/);
  assert.match(parts[4] ?? '', /cpu-request "lots" is not a valid Kubernetes quantity/);
  assert.match(parts[5] ?? '', /memory-limit must be a string, got the number 64/);
  assert.match(parts[6] ?? '', /source "git" is not supported/);
});

test('a request above its limit is reported next to another bad annotation', () => {
  const message = denied(pod({ 'memory-request': '128Mi', sidecar: 'x' }));
  assert.match(message, /sidecar "x" is not supported.*; annotation envoy-xds-injector\.io\/memory-request "128Mi" is more than/);
});

describe('skipped Pods get no patch', () => {
  const cases: { name: string; input: unknown; warning?: RegExp }[] = [
    { name: 'no annotations', input: { metadata: { name: 'p' }, spec: { containers: [envoy()] } } },
    { name: 'no metadata at all', input: { spec: { containers: [envoy()] } } },
    { name: 'inject "false"', input: pod({ inject: 'false' }) },
    { name: 'inject "True" (only "true" opts in)', input: pod({ inject: 'True' }), warning: /annotation envoy-xds-injector\.io\/inject is "True", not "true"/ },
    { name: 'not an object', input: 42 },
    { name: 'null', input: null },
    { name: 'an array', input: [pod()] },
    { name: 'annotations that are a list', input: { metadata: { annotations: [A('inject')] } } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = injectPod(c.input as V1Pod, config);
      assert.equal(result.decision, 'skipped', JSON.stringify(result));
      if (c.warning) assert.match(result.warnings.join('\n'), c.warning);
      else assert.deepEqual(result.warnings, []);
    });
  }

  test('an injected Pod is skipped: injecting twice changes nothing', () => {
    const once = injected(pod({}, { containers: [envoy(), { name: 'app', image: 'nginx' }] }));
    const twice = injectPod(once.pod, config);
    assert.deepEqual(twice, { decision: 'skipped', reason: 'already injected (annotation envoy-xds-injector.io/status is set)', warnings: [] });
  });

  test('a status annotation without our objects is skipped with a warning saying how to re-inject', () => {
    const result = injectPod(pod({ status: '{"version":"0.0.1"}' }), config);
    assert.equal(result.decision, 'skipped');
    assert.match(result.warnings.join('\n'), /marks this Pod as injected but it lacks volume envoy-xds-source, volume envoy-xds-config, container envoy-xds-copy, container envoy-xds-watch; remove that annotation to inject again/);
  });
});

describe('warnings', () => {
  const cases: { name: string; annotations?: Record<string, unknown>; spec: Json; warning: RegExp }[] = [
    {
      name: 'Envoy -c outside mount-path',
      spec: { containers: [envoy({ args: ['-c', '/config/envoy.yaml'] })] },
      warning: /container envoy starts Envoy with -c \/config\/envoy\.yaml, which is outside mount-path \/etc\/envoy, where the files of ConfigMap xds appear/,
    },
    {
      name: 'Envoy -c in a subdirectory of mount-path',
      spec: { containers: [envoy({ args: ['--config-path', '/etc/envoy/sub/envoy.yaml'] })] },
      warning: /is in a subdirectory of mount-path \/etc\/envoy, but ConfigMap keys become files directly in \/etc\/envoy/,
    },
    {
      name: 'the same ConfigMap mounted with subPath',
      spec: {
        containers: [envoy(), { name: 'app', image: 'a', volumeMounts: [{ name: 'cfg', mountPath: '/app/x.yaml', subPath: 'x.yaml' }] }],
        volumes: [{ name: 'cfg', configMap: { name: 'xds' } }],
      },
      warning: /container app mounts ConfigMap xds with subPath x\.yaml; subPath mounts never receive ConfigMap updates/,
    },
    {
      name: 'mount-path below a read-only emptyDir mount',
      spec: {
        containers: [envoy({ volumeMounts: [{ name: 'etc', mountPath: '/etc', readOnly: true }] })],
        volumes: [{ name: 'etc', emptyDir: {} }],
      },
      warning: /mount-path \/etc\/envoy is inside the read-only mount of volume etc at \/etc in container envoy: unless \/etc\/envoy already exists in that volume, the container fails to start with "read-only file system"/,
    },
    {
      name: 'sidecar: container in a Pod that must complete',
      annotations: { sidecar: 'container' },
      spec: { restartPolicy: 'Never', containers: [envoy()] },
      warning: /sidecar is "container" but the Pod's restartPolicy is Never: the watcher never exits/,
    },
    {
      name: 'a misspelt annotation',
      annotations: { mountpath: '/x' },
      spec: { containers: [envoy()] },
      warning: /unknown annotation envoy-xds-injector\.io\/mountpath is ignored; known annotations: .*envoy-xds-injector\.io\/mount-path/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = injected(pod(c.annotations, c.spec));
      assert.match(result.warnings.join('\n'), c.warning);
    });
  }

  test('no bootstrap warning when -c is absent or cannot be resolved (relative without workingDir, or $(VAR)); only the admin one', () => {
    const cases: Json[] = [
      { args: ['-c', 'envoy.yaml'] },
      { args: ['-c', '$(BOOTSTRAP)'] },
      // The shell's -c is not Envoy's: no -c at all here.
      { command: ['sh', '-c', 'exec envoy --config-yaml "{}"'], workingDir: '/srv' },
    ];
    for (const extra of cases) {
      const result = injected(pod({}, { containers: [envoy(extra)] }));
      assert.equal(result.warnings.length, 1, JSON.stringify(result.warnings));
      assert.match(result.warnings[0] ?? '', /cannot find Envoy's admin API/);
      for (const c of result.spec.initContainers as Json[]) assert.equal((c.args as string[]).includes('--bootstrap'), false);
      assert.deepEqual(injected(pod({ admin: '127.0.0.1:9901' }, { containers: [envoy(extra)] })).warnings, []);
    }
  });
});

describe("Envoy relying on its image's bootstrap (no -c in the spec)", () => {
  const copyArgs = (r: Injected & { spec: Json }): unknown => containerNamed(r.spec.initContainers, 'envoy-xds-copy').args;
  const watchArgs = (r: Injected & { spec: Json }): unknown => containerNamed(r.spec.initContainers, 'envoy-xds-watch').args;

  test('no command, no args, default mount-path: the image default /etc/envoy/envoy.yaml is the bootstrap, and the mount hiding it is warned about', () => {
    const r = injected(pod({}, { containers: [envoy()] }));
    assert.deepEqual(copyArgs(r), ['copy', '--from', SRC, '--to', DST, '--bootstrap', 'envoy.yaml']);
    assert.deepEqual((watchArgs(r) as string[]).slice(-2), ['--bootstrap', 'envoy.yaml']);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0] ?? '', /container envoy has no command or args, so it runs its image's default command, which for envoyproxy\/envoy images is "envoy -c \/etc\/envoy\/envoy\.yaml"; mount-path \/etc\/envoy hides everything the image has in \/etc\/envoy/);
    // copy gets --bootstrap and stops first when the key is missing: Envoy never runs to fail.
    assert.match(r.warnings[0] ?? '', /so the Pod does not start unless ConfigMap xds has key envoy\.yaml \(init container envoy-xds-copy exits: the bootstrap is not in the ConfigMap\)/);
    assert.doesNotMatch(r.warnings[0] ?? '', /unable to read file/);
    assert.match(r.warnings[0] ?? '', /args \["-c", "\/etc\/envoy\/envoy\.yaml"\]/);
    assert.match(r.warnings[0] ?? '', /set annotation envoy-xds-injector\.io\/mount-path to a directory the image does not use \(e\.g\. \/etc\/envoy\/xds\)/);
    assert.match(r.warnings[0] ?? '', /point path_config_source there, and set annotation envoy-xds-injector\.io\/admin to Envoy's admin address so that the watcher can give a verdict/);
  });

  test('empty command and args lists are the image default too (Kubernetes ignores empty lists)', () => {
    const r = injected(pod({}, { containers: [envoy({ command: [], args: [] })] }));
    assert.deepEqual((watchArgs(r) as string[]).slice(-2), ['--bootstrap', 'envoy.yaml']);
  });

  test('the fixes the warning names silence it: an explicit -c into the mount, or a mount-path beside the image bootstrap', () => {
    const explicit = injected(pod({}, { containers: [envoy({ args: ['-c', '/etc/envoy/envoy.yaml'] })] }));
    assert.deepEqual(explicit.warnings, []);
    const beside = injected(pod({ 'mount-path': '/etc/envoy/xds', admin: '127.0.0.1:9901' }, { containers: [envoy()] }));
    assert.deepEqual(beside.warnings, []);
    assert.equal((copyArgs(beside) as string[]).includes('--bootstrap'), false, 'the image keeps its bootstrap');
  });

  test('a mount-path above /etc/envoy hides it too: warned, no --bootstrap (keys are files directly in mount-path)', () => {
    const r = injected(pod({ 'mount-path': '/etc' }, { containers: [envoy()] }));
    assert.equal((copyArgs(r) as string[]).includes('--bootstrap'), false);
    assert.match(r.warnings.join('\n'), /mount-path \/etc hides everything the image has in \/etc\/envoy.*set annotation envoy-xds-injector\.io\/mount-path to a directory outside \/etc\/envoy/);
    assert.match(r.warnings.join('\n'), /Envoy fails with "unable to read file" unless ConfigMap xds provides envoy\/envoy\.yaml/, 'no --bootstrap: copy does not stop, Envoy does');
  });

  test('args or a command without -c (entrypoint script): warned, but no --bootstrap, since the script may not read it', () => {
    for (const extra of [{ args: ['--log-level', 'debug'] }, { command: ['/docker-entrypoint.sh'] }, { command: ['/bin/sh', '-c', 'envsubst < /tmpl/envoy.yaml > /tmp/e.yaml && exec envoy -c /tmp/e.yaml'] }]) {
      const r = injected(pod({}, { containers: [envoy(extra)] }));
      if (extra.command?.[0] === '/bin/sh') {
        assert.match(r.warnings.join('\n'), /starts Envoy with -c \/tmp\/e\.yaml, which is outside mount-path/, 'an explicit -c in a script is read as before');
        continue;
      }
      assert.equal((copyArgs(r) as string[]).includes('--bootstrap'), false, JSON.stringify(extra));
      assert.match(r.warnings.join('\n'), /names no bootstrap \(-c or --config-path\) in its command or args, so its image or entrypoint script decides/);
    }
  });
});

describe("the admin annotation: Envoy's admin API for the watcher's verdict", () => {
  const watchArgs = (r: Injected & { spec: Json }): string[] => containerNamed(r.spec.initContainers, 'envoy-xds-watch').args as string[];
  const copyArgs = (r: Injected & { spec: Json }): string[] => containerNamed(r.spec.initContainers, 'envoy-xds-copy').args as string[];
  // README's "the bootstrap stays in the image": mount-path beside /etc/envoy, the image's own command.
  const inImage = { containers: [envoy()] };
  const besideImage = { 'mount-path': '/etc/envoy/xds' };

  test('bootstrap in the image and no admin: one warning saying the watcher gives no verdict and naming the annotation', () => {
    const r = injected(pod(besideImage, inImage));
    assert.deepEqual(watchArgs(r), ['watch', '--from', SRC, '--to', DST, '--ready-file', READY]);
    assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
    assert.match(
      r.warnings[0] ?? '',
      /^the injector does not find the bootstrap of container envoy among the files of ConfigMap xds \(it is in the image, elsewhere, or inline\), so the watcher gets no --bootstrap, cannot find Envoy's admin API and gives no verdict: a file Envoy refuses stays in place and is not rolled back to the last accepted one; set annotation envoy-xds-injector\.io\/admin to Envoy's admin address as the watcher reaches it inside the Pod \(e\.g\. 127\.0\.0\.1:9901, or a unix socket path\)$/,
    );
  });

  test('bootstrap in the image, admin given: the watcher gets --admin, copy does not, and no warning', () => {
    for (const admin of ['127.0.0.1:9901', '[::1]:9901', '/var/run/envoy/admin.sock', 'unix:/var/run/envoy/admin.sock']) {
      const r = injected(pod({ ...besideImage, admin }, inImage));
      assert.deepEqual(watchArgs(r), ['watch', '--from', SRC, '--to', DST, '--ready-file', READY, '--admin', admin]);
      assert.equal(copyArgs(r).includes('--admin'), false);
      assert.deepEqual(r.warnings, [], admin);
    }
  });

  test('bootstrap in the ConfigMap: no warning without admin; with it, --admin overrides the bootstrap\'s address', () => {
    const spec = { containers: [envoy({ args: ['-c', '/etc/envoy/envoy.yaml'] })] };
    assert.deepEqual(injected(pod({}, spec)).warnings, []);
    const r = injected(pod({ admin: '127.0.0.1:15000' }, spec));
    assert.deepEqual(watchArgs(r), ['watch', '--from', SRC, '--to', DST, '--ready-file', READY, '--bootstrap', 'envoy.yaml', '--admin', '127.0.0.1:15000']);
    assert.deepEqual(r.warnings, []);
  });

  test('with source api, --admin stays among the watch args', () => {
    const r = injected(pod({ ...besideImage, admin: '127.0.0.1:9901', source: 'api' }, inImage));
    const args = watchArgs(r);
    assert.deepEqual(args.slice(args.indexOf('--admin'), args.indexOf('--admin') + 2), ['--admin', '127.0.0.1:9901']);
    assert.ok(args.includes('--source'));
  });
});

describe('the ServiceAccount token mount (so the apiserver calls the webhook once per Pod)', () => {
  const token = { name: 'kube-api-access-x7k2p', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } };
  const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
  const envoyWithToken = envoy({ args: ['-c', '/etc/envoy/envoy.yaml'], volumeMounts: [{ name: token.name, readOnly: true, mountPath: TOKEN_PATH }] });

  test('copy and watch get the mount the ServiceAccount plugin gave the Pod, as it would add it', () => {
    const r = injected(pod({}, { containers: [envoyWithToken], volumes: [token] }));
    for (const name of ['envoy-xds-copy', 'envoy-xds-watch']) {
      const mounts = containerNamed(r.spec.initContainers, name).volumeMounts as Json[];
      assert.deepEqual(mounts.at(-1), { name: token.name, readOnly: true, mountPath: TOKEN_PATH }, name);
    }
  });

  test('no token volume, or automountServiceAccountToken: false: no mount', () => {
    for (const spec of [{ containers: [envoyWithToken] }, { containers: [envoyWithToken], volumes: [token], automountServiceAccountToken: false }]) {
      const r = injected(pod({}, spec));
      for (const c of r.spec.initContainers as Json[]) {
        assert.equal((c.volumeMounts as Json[]).some((m) => m.mountPath === TOKEN_PATH), false, JSON.stringify(spec));
      }
    }
  });
});
