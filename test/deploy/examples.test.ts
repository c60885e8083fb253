// manifests/examples: Envoy with CDS and LDS from a ConfigMap, without a hand-written init container,
// sidecar or emptyDir. The example must be what the injector expects, and injecting it must give a
// Pod that the example namespace's PodSecurity "restricted" level admits.
import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { text as streamText } from 'node:stream/consumers';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, test } from 'node:test';
import type { V1ConfigMap, V1Container, V1Deployment, V1MutatingWebhookConfiguration, V1PodSpec } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { Annotation, defaultConfig, injectManifest } from '../../src/inject/index.js';
import type { K8sObject } from './manifests.js';
import { loadKustomization, loadObjects, manifests, only, onlyWire, repo } from './manifests.js';

const dir = join(manifests, 'examples');
const kustomization = loadKustomization(dir);
const objects = (kustomization.resources ?? []).flatMap((f) => loadObjects(join(dir, f)));
const deploymentObject = only(objects, 'Deployment');
const deployment = onlyWire(objects, 'Deployment') as V1Deployment;
const template = deployment.spec?.template ?? assert.fail('no pod template');
const podSpec = template.spec ?? assert.fail('no pod spec');
const configMap = onlyWire(objects, 'ConfigMap') as V1ConfigMap;
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
const config = defaultConfig(pkg.version);

function text(stream: Readable | null): Promise<string> {
  return stream === null ? Promise.resolve('') : streamText(stream);
}

/** Every `path_config_source.path` in a parsed Envoy bootstrap. */
function pathConfigSources(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(pathConfigSources);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) => {
    const path: unknown = key === 'path_config_source' ? (value as { path?: unknown } | null)?.path : undefined;
    if (typeof path === 'string') return [path];
    return pathConfigSources(value);
  });
}

/** The checks of the PodSecurity "restricted" level (Kubernetes 1.33) that a Pod spec can fail. */
function restrictedViolations(spec: V1PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext;
  const all: V1Container[] = [...(spec.initContainers ?? []), ...spec.containers];
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret', 'name'];
  for (const volume of spec.volumes ?? []) {
    for (const type of Object.keys(volume)) if (!allowedVolumes.includes(type)) problems.push(`volume ${volume.name}: ${type}`);
  }
  if (spec.hostNetwork === true || spec.hostPID === true || spec.hostIPC === true) problems.push('host namespaces');
  if (pod?.runAsUser === 0) problems.push('pod runAsUser 0');
  for (const c of all) {
    const sc = c.securityContext;
    if (sc?.privileged === true) problems.push(`${c.name}: privileged`);
    if (sc?.allowPrivilegeEscalation !== false) problems.push(`${c.name}: allowPrivilegeEscalation must be false`);
    if (!(sc?.capabilities?.drop ?? []).includes('ALL')) problems.push(`${c.name}: capabilities must drop ALL`);
    for (const cap of sc?.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') problems.push(`${c.name}: adds ${cap}`);
    if ((sc?.runAsNonRoot ?? pod?.runAsNonRoot) !== true) problems.push(`${c.name}: runAsNonRoot must be true`);
    if (sc?.runAsUser === 0) problems.push(`${c.name}: runAsUser 0`);
    const seccomp = sc?.seccompProfile?.type ?? pod?.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${c.name}: seccompProfile must be RuntimeDefault`);
    if ((c.ports ?? []).some((p) => p.hostPort !== undefined)) problems.push(`${c.name}: hostPort`);
  }
  return problems;
}

describe('manifests/examples', () => {
  test('the Deployment opts in by annotation and hand-writes no init container, sidecar or emptyDir', () => {
    const annotations = template.metadata?.annotations ?? {};
    assert.equal(annotations[Annotation.inject], 'true');
    assert.equal(annotations[Annotation.configMap], configMap.metadata?.name);
    assert.equal(podSpec.initContainers, undefined);
    assert.deepEqual(
      podSpec.containers.map((c) => c.name),
      ['envoy'],
    );
    assert.equal(podSpec.volumes, undefined, 'the injector adds the volumes');
    const [envoy] = podSpec.containers;
    assert.equal(envoy?.volumeMounts, undefined);
    assert.equal(envoy?.command, undefined);
    assert.deepEqual(envoy?.args, ['-c', posix.join(config.mountPath, 'envoy.yaml')]);
  });

  test('the bootstrap reads CDS and LDS through path_config_source from files the ConfigMap holds, in the mount path', () => {
    const data = configMap.data ?? {};
    assert.deepEqual(Object.keys(data).sort(), ['cds.yaml', 'envoy.yaml', 'lds.yaml']);
    const bootstrap = parse(data['envoy.yaml'] ?? '') as { dynamic_resources?: Record<string, unknown> };
    const paths = pathConfigSources(bootstrap.dynamic_resources);
    assert.deepEqual(paths.sort(), [posix.join(config.mountPath, 'cds.yaml'), posix.join(config.mountPath, 'lds.yaml')]);
    for (const key of ['cds.yaml', 'lds.yaml']) {
      const doc = parse(data[key] ?? '') as { resources?: { '@type'?: string }[] };
      assert.ok((doc.resources?.length ?? 0) > 0, `${key} has resources`);
      for (const r of doc.resources ?? []) assert.match(r['@type'] ?? '', /^type\.googleapis\.com\/envoy\.config\.(cluster|listener)\.v3\./);
    }
  });

  test('its namespace is one the webhook serves', () => {
    const mwc = onlyWire(loadObjects(join(manifests, 'base', 'mutatingwebhookconfiguration.yaml')), 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration;
    const excluded = mwc.webhooks?.[0]?.namespaceSelector?.matchExpressions?.[0]?.values ?? [];
    assert.ok(kustomization.namespace !== undefined && !excluded.includes(kustomization.namespace));
    assert.equal(only(objects, 'Namespace').metadata.name, kustomization.namespace);
  });

  test('injecting it adds the copy init container, the native watcher sidecar and both volumes, with no warning', () => {
    const result = injectManifest(deploymentObject, config);
    assert.equal(result.decision, 'injected');
    assert.deepEqual(result.warnings, []);
    const spec = (result.document as unknown as V1Deployment).spec?.template.spec ?? assert.fail('no pod spec');
    const [copy, watch, ...more] = spec.initContainers ?? [];
    assert.deepEqual([copy?.name, watch?.name, more.length], ['envoy-xds-copy', 'envoy-xds-watch', 0]);
    assert.equal(watch?.restartPolicy, 'Always', 'a native sidecar');
    assert.ok(watch.args?.join(' ').includes('--bootstrap envoy.yaml'));
    assert.deepEqual(spec.volumes?.find((v) => v.name === 'envoy-xds-source')?.configMap?.name, configMap.metadata?.name);
    assert.ok(spec.volumes?.find((v) => v.name === 'envoy-xds-config')?.emptyDir !== undefined);
    const envoyMounts = spec.containers.find((c) => c.name === 'envoy')?.volumeMounts ?? [];
    assert.deepEqual(envoyMounts, [{ name: 'envoy-xds-config', mountPath: config.mountPath, readOnly: true }]);
  });

  test('`inject -f -` over the whole example injects the Deployment and passes everything else through', async () => {
    const stream = (kustomization.resources ?? []).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n---\n');
    const child = execFile(process.execPath, ['--import', 'tsx', join(repo, 'src', 'cli', 'main.ts'), 'inject', '-f', '-']);
    child.stdin?.end(stream);
    const [stdout, stderr, code] = await Promise.all([text(child.stdout), text(child.stderr), once(child, 'close').then(([c]) => c as number)]);
    assert.equal(code, 0, stderr);
    const out = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
    assert.deepEqual(
      out.map((o) => o.kind),
      objects.map((o) => o.kind),
    );
    for (const [i, o] of out.entries()) {
      const expected = o.kind === 'Deployment' ? injectManifest(deploymentObject, config) : undefined;
      if (expected === undefined) assert.deepEqual(o, objects[i]);
      else assert.deepEqual(o, expected.decision === 'injected' ? expected.document : assert.fail('not injected'));
    }
  });

  test('the injected Pod meets PodSecurity "restricted", which the example namespace enforces', () => {
    const ns: K8sObject = only(objects, 'Namespace');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.deepEqual(restrictedViolations(podSpec), [], 'the example as written');
    const result = injectManifest(deploymentObject, config);
    assert.equal(result.decision, 'injected');
    const spec = (result.document as unknown as V1Deployment).spec?.template.spec ?? assert.fail('no pod spec');
    assert.deepEqual(restrictedViolations(spec), [], 'the injected Pod');
  });
});
