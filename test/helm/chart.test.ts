// The Helm chart without a cluster: `helm lint --strict`, `helm template` in every certificate mode,
// values.schema.json refusing bad values, and the one-truth comparison with the kustomize base
// plus the equivalent overlay (manifests/overlays/cert-manager, manifests/overlays/plain-certificate,
// and an overlay written here for non-default values).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadInjectorConfig } from '../../src/cli/config.js';
import { repoRoot } from '../e2e/cluster.js';
import {
  CHART,
  NAMESPACE,
  RELEASE,
  comparable,
  drift,
  helm,
  helmRender,
  helmTemplate,
  kustomize,
  labelDrift,
  parseObjects,
  setArgs,
  type Json,
  type K8sObject,
} from './render.js';

const execFileP = promisify(execFile);

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  const [first] = found;
  if (first === undefined || found.length !== 1) throw new Error(`expected one ${kind}, found ${String(found.length)}`);
  return first;
}

function webhookOf(objects: K8sObject[]): Json {
  const webhooks = only(objects, 'MutatingWebhookConfiguration').webhooks as Json[];
  const [first] = webhooks;
  if (first === undefined || webhooks.length !== 1) throw new Error(`expected one webhook, found ${String(webhooks.length)}`);
  return first;
}

function podSpecOf(objects: K8sObject[]): Json {
  return ((only(objects, 'Deployment').spec as Json).template as Json).spec as Json;
}

function b64(text: string | Buffer): string {
  return Buffer.from(text).toString('base64');
}

describe('charts/envoy-xds-injector', { timeout: 30 * 60_000 }, () => {
  let work = '';
  let caBundle = '';

  before(async () => {
    // manifests/ copied next to a certs/out of its own (overlays/plain-certificate reads
    // ../../../certs/out), so the real certs/ directory is never written to.
    work = await mkdtemp(join(tmpdir(), 'envoy-xds-helm-'));
    await cp(join(repoRoot, 'manifests'), join(work, 'manifests'), { recursive: true });
    await execFileP('bash', [join(repoRoot, 'certs', 'generate.sh'), '--out', join(work, 'certs', 'out')]);
    caBundle = b64(await readFile(join(work, 'certs', 'out', 'ca-bundle.crt')));
  });

  after(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  const modes: Record<string, string[]> = {
    default: [],
    generate: setArgs({ 'certificates.mode': 'generate' }),
    certManager: setArgs({ 'certificates.mode': 'certManager' }),
    existingSecret: setArgs({ 'certificates.mode': 'existingSecret', 'certificates.existingSecret.name': 'my-tls' }),
  };
  const withCa = (args: string[]): string[] =>
    args.includes('certificates.mode=existingSecret') ? [...args, '--set-string', `certificates.existingSecret.caBundle=${caBundle}`] : args;

  for (const [mode, args] of Object.entries(modes)) {
    test(`helm lint --strict (${mode})`, async () => {
      const res = await helm(['lint', '--strict', CHART, '--namespace', NAMESPACE, ...withCa(args)]);
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }

  test('helm template: the kinds of every certificate mode, the webhook configuration last', async () => {
    const kinds = async (args: string[]): Promise<string[]> => (await helmTemplate(withCa(args))).map((o) => o.kind);
    const common = ['ServiceAccount', 'ConfigMap', 'Service', 'Deployment', 'PodDisruptionBudget', 'MutatingWebhookConfiguration'];
    const generated = await kinds(modes.default ?? []);
    assert.deepEqual([...generated].sort(), [...common, 'Secret'].sort());
    assert.deepEqual([...(await kinds(modes.certManager ?? []))].sort(), [...common, 'Issuer', 'Issuer', 'Certificate', 'Certificate'].sort());
    assert.deepEqual([...(await kinds(modes.existingSecret ?? []))].sort(), [...common].sort());
    // Helm sorts by kind before installing (and reverses that order to uninstall): the webhook
    // configuration is created after the Deployment and deleted before it.
    assert.equal(generated.at(-1), 'MutatingWebhookConfiguration');
    assert.ok(generated.indexOf('Secret') < generated.indexOf('Deployment'));
  });

  test('the one hook: pre-delete, an empty configuration named like the webhook\'s, in every mode', async () => {
    for (const args of Object.values(modes)) {
      const { objects, hooks } = await helmRender(withCa(args), { release: 'edge', namespace: 'proxies' });
      assert.equal(hooks.length, 1);
      const [hook] = hooks;
      assert.equal(hook?.kind, 'MutatingWebhookConfiguration');
      assert.equal(hook.metadata.name, only(objects, 'MutatingWebhookConfiguration').metadata.name);
      assert.deepEqual(hook.metadata.annotations, { 'helm.sh/hook': 'pre-delete', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' });
      assert.deepEqual(hook.webhooks, []);
    }
  });

  test('default: image tag = appVersion = the kustomize base tag = v<package version>', async () => {
    const chart = parse(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as Json;
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as Json;
    assert.equal(chart.appVersion, `v${String(pkg.version)}`);
    const containers = podSpecOf(await helmTemplate()).containers as Json[];
    assert.equal(containers[0]?.image, `ghcr.io/envoy-xds-injector/envoy-xds-injector:v${String(pkg.version)}`);
    const set = podSpecOf(await helmTemplate(setArgs({ 'image.repository': 'registry.example.com/x', 'image.tag': 'v9', 'image.pullPolicy': 'Always' })));
    const [c] = set.containers as Json[];
    assert.equal(c?.image, 'registry.example.com/x:v9');
    assert.equal(c.imagePullPolicy, 'Always');
  });

  describe('one truth: the chart renders what the kustomize overlays apply', () => {
    async function compare(helmArgs: string[], overlay: string, placeholders: Parameters<typeof comparable>[1] = []): Promise<string[]> {
      const h = await helmTemplate(helmArgs);
      const k = await kustomize(overlay);
      return [...drift(comparable(h, placeholders), comparable(k, placeholders)), ...labelDrift(h, k)];
    }

    test('certificates.mode=certManager = manifests/overlays/cert-manager', async () => {
      assert.deepEqual(await compare(modes.certManager ?? [], join(work, 'manifests', 'overlays', 'cert-manager')), []);
    });

    test('certificates.mode=existingSecret (+ caBundle) = manifests/overlays/plain-certificate without its Secret', async () => {
      const args = setArgs({
        'certificates.mode': 'existingSecret',
        'certificates.existingSecret.name': 'envoy-xds-injector-tls',
        'certificates.existingSecret.caBundle': caBundle,
      });
      const differences = await compare(args, join(work, 'manifests', 'overlays', 'plain-certificate'));
      // The user creates the Secret; everything else, caBundle included, is the same.
      assert.deepEqual(differences, ['only in kustomize: Secret/envoy-xds-injector-tls']);
    });

    test('certificates.mode=generate (default) = manifests/overlays/plain-certificate, keys aside', async () => {
      const placeholders = [
        { kind: 'Secret', path: ['data'] },
        { kind: 'MutatingWebhookConfiguration', path: ['webhooks', '*', 'clientConfig', 'caBundle'] },
      ];
      assert.deepEqual(await compare([], join(work, 'manifests', 'overlays', 'plain-certificate'), placeholders), []);
    });

    test('non-default values = the base with the same settings patched in by an overlay', async () => {
      // Each value the chart documents, set to something else, and the kustomize patch that does the same.
      const overlay = join(work, 'manifests', 'overlays', 'custom');
      await mkdir(overlay, { recursive: true });
      await writeFile(
        join(overlay, 'config.yaml'),
        'image: registry.example.com/mirror/injector:v0.1.0\nimagePullPolicy: Always\nmountPath: /srv/envoy\nsidecar: container\nresources:\n  cpuRequest: 20m\n  memoryRequest: 48Mi\n  memoryLimit: 96Mi\n  cpuLimit: 200m\n',
      );
      const patches = [
        { target: 'Deployment', ops: [
          { op: 'replace', path: '/spec/replicas', value: 3 },
          { op: 'replace', path: '/spec/template/spec/containers/0/env/0/value', value: 'debug' },
          { op: 'replace', path: '/spec/template/spec/containers/0/imagePullPolicy', value: 'Always' },
          { op: 'replace', path: '/spec/template/spec/containers/0/resources', value: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } },
          { op: 'add', path: '/spec/template/spec/nodeSelector', value: { 'kubernetes.io/os': 'linux' } },
          { op: 'add', path: '/spec/template/spec/tolerations', value: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }] },
          { op: 'add', path: '/spec/template/spec/priorityClassName', value: 'system-cluster-critical' },
          { op: 'add', path: '/spec/template/metadata/annotations', value: { 'example.com/team': 'platform' } },
          { op: 'add', path: '/spec/template/metadata/labels/example.com~1tier', value: 'infra' },
          { op: 'add', path: '/spec/template/spec/imagePullSecrets', value: [{ name: 'regcred' }] },
        ] },
        { target: 'PodDisruptionBudget', ops: [{ op: 'replace', path: '/spec/maxUnavailable', value: '50%' }] },
        { target: 'MutatingWebhookConfiguration', ops: [
          { op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' },
          { op: 'replace', path: '/webhooks/0/timeoutSeconds', value: 10 },
          { op: 'replace', path: '/webhooks/0/reinvocationPolicy', value: 'Never' },
          { op: 'add', path: '/webhooks/0/namespaceSelector/matchExpressions/0/values/-', value: 'team-a' },
          { op: 'add', path: '/webhooks/0/matchConditions/-', value: { name: 'not-dry-run-jobs', expression: "!has(object.metadata.labels) || !('batch.kubernetes.io/job-name' in object.metadata.labels)" } },
        ] },
      ];
      await writeFile(
        join(overlay, 'kustomization.yaml'),
        JSON.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: ['../cert-manager'],
          images: [{ name: 'ghcr.io/envoy-xds-injector/envoy-xds-injector', newName: 'registry.example.com/mirror/injector', newTag: 'v0.2.0' }],
          configMapGenerator: [{ name: 'envoy-xds-injector-config', namespace: 'envoy-xds-injector', behavior: 'replace', files: ['config.yaml'] }],
          patches: patches.map((p) => ({ target: { kind: p.target }, patch: JSON.stringify(p.ops) })),
        }),
      );
      const args = [
        ...(modes.certManager ?? []),
        ...setArgs({
          'image.repository': 'registry.example.com/mirror/injector',
          'image.tag': 'v0.2.0',
          'image.pullPolicy': 'Always',
          'injection.image': 'registry.example.com/mirror/injector:v0.1.0',
          'injection.imagePullPolicy': 'Always',
          'injection.mountPath': '/srv/envoy',
          'injection.sidecar': 'container',
          'injection.resources.cpuRequest': '20m',
          'injection.resources.memoryRequest': '48Mi',
          'injection.resources.memoryLimit': '96Mi',
          'injection.resources.cpuLimit': '200m',
          replicaCount: 3,
          logLevel: 'debug',
          'resources.requests.cpu': '100m',
          'resources.requests.memory': '128Mi',
          'resources.limits.memory': '512Mi',
          'nodeSelector.kubernetes\\.io/os': 'linux',
          'tolerations[0].key': 'dedicated',
          'tolerations[0].operator': 'Equal',
          'tolerations[0].value': 'infra',
          'tolerations[0].effect': 'NoSchedule',
          priorityClassName: 'system-cluster-critical',
          'podAnnotations.example\\.com/team': 'platform',
          'podLabels.example\\.com/tier': 'infra',
          'imagePullSecrets[0].name': 'regcred',
          'podDisruptionBudget.maxUnavailable': '50%',
          'webhook.failurePolicy': 'Ignore',
          'webhook.timeoutSeconds': 10,
          'webhook.reinvocationPolicy': 'Never',
          'webhook.extraExcludedNamespaces[0]': 'team-a',
          'webhook.matchConditions[1].name': 'not-dry-run-jobs',
          'webhook.matchConditions[1].expression': "!has(object.metadata.labels) || !('batch.kubernetes.io/job-name' in object.metadata.labels)",
        }),
      ];
      // --set on one list element replaces the whole list: keep the default condition first.
      const defaults = parse(await readFile(join(CHART, 'values.yaml'), 'utf8')) as { webhook: { matchConditions: { name: string; expression: string }[] } };
      const first = defaults.webhook.matchConditions[0];
      assert.ok(first !== undefined);
      args.push(...setArgs({ 'webhook.matchConditions[0].name': first.name, 'webhook.matchConditions[0].expression': first.expression }));
      assert.deepEqual(await compare(args, overlay), []);
    });

    test('a change made to one path only is caught (the comparison can fail)', async () => {
      const mutated = join(work, 'mutated');
      await cp(join(work, 'manifests'), join(mutated, 'manifests'), { recursive: true });
      const edit = async (file: string, from: string, to: string): Promise<void> => {
        const path = join(mutated, 'manifests', file);
        const text = await readFile(path, 'utf8');
        assert.ok(text.includes(from), `${file} contains ${from}`);
        await writeFile(path, text.replace(from, to));
      };
      await edit('base/mutatingwebhookconfiguration.yaml', 'timeoutSeconds: 5', 'timeoutSeconds: 6');
      await edit('base/deployment.yaml', '- --config', '- --config-file');
      await edit('base/deployment.yaml', 'readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false');
      await edit('base/config.yaml', 'memoryLimit: 80Mi', 'memoryLimit: 81Mi');
      await edit('base/kustomization.yaml', 'app.kubernetes.io/part-of: envoy-xds-injector', 'app.kubernetes.io/part-of: something-else');
      await edit('base/serviceaccount.yaml', 'automountServiceAccountToken: false', 'automountServiceAccountToken: true');
      const h = await helmTemplate(modes.certManager ?? []);
      const k = await kustomize(join(mutated, 'manifests', 'overlays', 'cert-manager'));
      const found = [...drift(comparable(h), comparable(k)), ...labelDrift(h, k)].join('\n');
      for (const expected of [
        /MutatingWebhookConfiguration\/envoy-xds-injector webhooks\[0\]\.timeoutSeconds: helm 5 \/ kustomize 6/,
        /Deployment\/envoy-xds-injector spec\.template\.spec\.containers\[0\]\.args\[7\]: helm "--config" \/ kustomize "--config-file"/,
        /securityContext\.readOnlyRootFilesystem: helm true \/ kustomize false/,
        /ConfigMap\/envoy-xds-injector-config data\.config\.yaml\.resources\.memoryLimit: helm "80Mi" \/ kustomize "81Mi"/,
        /ServiceAccount\/envoy-xds-injector label app\.kubernetes\.io\/part-of: helm "envoy-xds-injector" \/ kustomize "something-else"/,
        /ServiceAccount\/envoy-xds-injector automountServiceAccountToken: helm false \/ kustomize true/,
      ]) {
        assert.match(found, expected);
      }
    });
  });

  test('certificates.mode=generate: the caBundle is the Secret\'s CA, which signed a serving certificate for the Service', async () => {
    const objects = await helmTemplate([], { release: 'xds', namespace: 'infra' });
    const secret = only(objects, 'Secret');
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(secret.metadata.name, 'xds-envoy-xds-injector-tls');
    const data = secret.data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    const caBundleOut = (webhookOf(objects).clientConfig as Json).caBundle;
    assert.equal(caBundleOut, data['ca.crt']);
    const ca = new X509Certificate(Buffer.from(data['ca.crt'] ?? '', 'base64'));
    const cert = new X509Certificate(Buffer.from(data['tls.crt'] ?? '', 'base64'));
    assert.ok(ca.ca);
    assert.ok(cert.verify(ca.publicKey), 'tls.crt is signed by ca.crt');
    assert.equal(cert.checkHost('xds-envoy-xds-injector.infra.svc'), 'xds-envoy-xds-injector.infra.svc');
    assert.equal(cert.checkHost('xds-envoy-xds-injector.infra.svc.cluster.local'), 'xds-envoy-xds-injector.infra.svc.cluster.local');
    assert.ok(cert.checkPrivateKey(createPrivateKey(Buffer.from(data['tls.key'] ?? '', 'base64'))), 'tls.key matches tls.crt');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    // Two renders without a cluster to look up: two different CAs (install-time generation).
    const again = only(await helmTemplate([], { release: 'xds', namespace: 'infra' }), 'Secret');
    assert.notEqual((again.data as Record<string, string>)['ca.crt'], data['ca.crt']);
  });

  test('another release name and namespace: every name, namespace, exclusion and DNS name follows', async () => {
    for (const [mode, args] of Object.entries(modes)) {
      const objects = await helmTemplate(withCa(args), { release: 'edge', namespace: 'proxies' });
      for (const o of objects) {
        assert.match(o.metadata.name, /^edge-envoy-xds-injector(-|$)/, `${mode}: ${o.kind}/${o.metadata.name}`);
        if (o.kind !== 'MutatingWebhookConfiguration') assert.equal(o.metadata.namespace, 'proxies', `${mode}: ${o.kind}`);
        assert.doesNotMatch(
          JSON.stringify(o),
          /"namespace":"envoy-xds-injector"|envoy-xds-injector\.envoy-xds-injector|"envoy-xds-injector\/|"(name|secretName|serviceAccountName)":"envoy-xds-injector(-[a-z]+)?"/,
          `${mode}: ${o.kind} still names the default release or namespace`,
        );
      }
      const webhook = webhookOf(objects);
      assert.deepEqual((webhook.clientConfig as Json).service, { name: 'edge-envoy-xds-injector', namespace: 'proxies', path: '/mutate', port: 443 });
      const selector = (webhook.namespaceSelector as Json).matchExpressions as Json[];
      assert.deepEqual(selector[0]?.values, ['kube-system', 'kube-public', 'kube-node-lease', 'proxies']);
      if (mode === 'certManager') {
        const serving = objects.find((o) => o.kind === 'Certificate' && o.metadata.name === 'edge-envoy-xds-injector-serving');
        assert.deepEqual((serving?.spec as Json).dnsNames, ['edge-envoy-xds-injector.proxies.svc', 'edge-envoy-xds-injector.proxies.svc.cluster.local']);
        assert.equal(only(objects, 'MutatingWebhookConfiguration').metadata.annotations?.['cert-manager.io/inject-ca-from'], 'proxies/edge-envoy-xds-injector-serving');
      }
      if (mode === 'existingSecret') {
        const volumes = podSpecOf(objects).volumes as Json[];
        assert.equal((volumes[0]?.secret as Json).secretName, 'my-tls');
      }
    }
  });

  test('excludedNamespaces and extraExcludedNamespaces: the release namespace stays excluded, once', async () => {
    const objects = await helmTemplate(
      setArgs({ 'webhook.excludedNamespaces[0]': 'kube-system', 'webhook.extraExcludedNamespaces[0]': 'envoy-xds-injector', 'webhook.extraExcludedNamespaces[1]': 'legacy' }),
    );
    const selector = (webhookOf(objects).namespaceSelector as Json).matchExpressions as Json[];
    assert.deepEqual(selector[0]?.values, ['kube-system', 'envoy-xds-injector', 'legacy']);
  });

  test('affinity and topologySpreadConstraints replace the built-in spread', async () => {
    const spec = podSpecOf(
      await helmTemplate([
        ...setArgs({ 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key': 'pool' }),
        ...setArgs({ 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator': 'Exists' }),
        ...setArgs({ 'topologySpreadConstraints[0].maxSkew': 2, 'topologySpreadConstraints[0].topologyKey': 'rack', 'topologySpreadConstraints[0].whenUnsatisfiable': 'DoNotSchedule' }),
      ]),
    );
    assert.deepEqual(Object.keys(spec.affinity as Json), ['nodeAffinity']);
    assert.deepEqual(spec.topologySpreadConstraints, [{ maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' }]);
  });

  test('a config change changes the Pod template (the Deployment rolls), a webhook-only change does not', async () => {
    const checksum = async (args: string[]): Promise<unknown> =>
      (((only(await helmTemplate(args), 'Deployment').spec as Json).template as Json).metadata as Json & { annotations: Json }).annotations['checksum/config'];
    const base = await checksum([]);
    assert.match(String(base), /^[0-9a-f]{64}$/);
    assert.notEqual(await checksum(setArgs({ 'injection.sidecar': 'container' })), base);
    assert.equal(await checksum(setArgs({ 'webhook.failurePolicy': 'Ignore' })), base);
  });

  test('injection.*: the chart accepts exactly what the injector\'s own config loader accepts', async () => {
    // The same grammar in two places (values.schema.json, Go RE2; src/cli/config.ts, ajv): a
    // value the chart accepts but the injector refuses would crash-loop the webhook on start.
    const samples: [string, string[]][] = [
      ['mountPath', ['/etc/envoy', '/a/b/', '/a..b', 'etc/envoy', '/', '//', '/a/../b', '/..', '/a/..']],
      ['sidecar', ['native', 'container', 'Native', '']],
      ['imagePullPolicy', ['Always', 'IfNotPresent', 'Never', 'always']],
      ['image', ['registry.example.com/a/b:v1', 'a b']],
      ['resources.cpuRequest', ['10m', '1', '0.5', '.5', '1e3', '1E-3', '1Ki', '+1', '-1', '1 Mi', '1.5Gi', 'm', '1mi']],
    ];
    const dir = join(work, 'config-agreement');
    await mkdir(dir, { recursive: true });
    const disagreements: string[] = [];
    for (const [key, values] of samples) {
      for (const value of values) {
        const path = join(dir, 'config.yaml');
        const res = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...setArgs({ [`injection.${key}`]: value })]);
        const chartAccepts = res.code === 0;
        // What the injector gets: the chart's rendering when there is one, else the same key by hand.
        const file = chartAccepts
          ? String((only(parseObjects(res.stdout, 'helm template'), 'ConfigMap').data as Json)['config.yaml'])
          : key.startsWith('resources.')
            ? `resources:\n  ${key.slice('resources.'.length)}: ${JSON.stringify(value)}\n`
            : `${key}: ${JSON.stringify(value)}\n`;
        await writeFile(path, file);
        const injectorAccepts = await loadInjectorConfig(path, '0.1.0').then(
          () => true,
          () => false,
        );
        if (chartAccepts !== injectorAccepts) disagreements.push(`injection.${key}=${JSON.stringify(value)}: chart ${String(chartAccepts)}, injector ${String(injectorAccepts)}`);
      }
    }
    assert.deepEqual(disagreements, []);
  });

  describe('values.schema.json and the templates refuse bad values with a clear message', () => {
    const refusals: [string, string[], RegExp][] = [
      ['a failurePolicy other than Fail/Ignore', setArgs({ 'webhook.failurePolicy': 'Sometimes' }), /at '\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/],
      ['a timeoutSeconds over 30', setArgs({ 'webhook.timeoutSeconds': 31 }), /at '\/webhook\/timeoutSeconds': maximum: got 31, want 30/],
      ['a timeoutSeconds of 0', setArgs({ 'webhook.timeoutSeconds': 0 }), /at '\/webhook\/timeoutSeconds': minimum: got 0, want 1/],
      ['an image without a repository (empty)', setArgs({ 'image.repository': '' }), /at '\/image\/repository': minLength: got 0, want 1/],
      ['an image without a repository (removed)', ['--set', 'image.repository=null'], /at '\/image': missing property 'repository'/],
      ['an image repository with a tag in it', setArgs({ 'image.repository': 'ghcr.io/x/y:v1' }), /at '\/image\/repository'/],
      ['an unknown certificate mode', setArgs({ 'certificates.mode': 'selfSigned' }), /at '\/certificates\/mode': value must be one of 'generate', 'certManager', 'existingSecret'/],
      ['a misspelt key', setArgs({ 'webhok.failurePolicy': 'Ignore' }), /additional properties 'webhok' not allowed/],
      ['a relative mount path', setArgs({ 'injection.mountPath': 'etc/envoy' }), /at '\/injection\/mountPath'/],
      ['a mount path with ..', setArgs({ 'injection.mountPath': '/etc/../envoy' }), /at '\/injection\/mountPath'/],
      ['a sidecar mode other than native/container', setArgs({ 'injection.sidecar': 'sidecar' }), /at '\/injection\/sidecar': value must be one of 'native', 'container'/],
      ['a resource that is not a quantity', setArgs({ 'injection.resources.memoryLimit': '64 MB' }), /at '\/injection\/resources\/memoryLimit'/],
      ['an unknown log level', setArgs({ logLevel: 'verbose' }), /at '\/logLevel': value must be one of/],
      ['a reinvocationPolicy other than Never/IfNeeded', setArgs({ 'webhook.reinvocationPolicy': 'Always' }), /at '\/webhook\/reinvocationPolicy'/],
      ['an excluded namespace that is not a DNS label', setArgs({ 'webhook.extraExcludedNamespaces[0]': 'Team_A' }), /at '\/webhook\/extraExcludedNamespaces\/0'/],
      [
        'existingSecret without a Secret name',
        setArgs({ 'certificates.mode': 'existingSecret' }),
        /certificates\.existingSecret\.name is required with certificates\.mode=existingSecret/,
      ],
      [
        'existingSecret without a caBundle',
        setArgs({ 'certificates.mode': 'existingSecret', 'certificates.existingSecret.name': 'tls' }),
        /certificates\.existingSecret\.caBundle is required with certificates\.mode=existingSecret/,
      ],
      [
        'existingSecret with a caBundle that is not base64 PEM',
        setArgs({ 'certificates.mode': 'existingSecret', 'certificates.existingSecret.name': 'tls', 'certificates.existingSecret.caBundle': b64('not a certificate') }),
        /certificates\.existingSecret\.caBundle must be base64 of PEM CA certificate/,
      ],
    ];
    for (const [what, args, message] of refusals) {
      test(`refuses ${what}`, async () => {
        const res = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
        assert.notEqual(res.code, 0, `accepted: ${res.stdout.slice(0, 300)}`);
        assert.match(res.stderr, message);
        assert.equal(res.stdout, '', 'nothing rendered');
      });
    }

    test('accepts the documented alternatives', async () => {
      for (const args of [
        setArgs({ 'webhook.failurePolicy': 'Ignore', 'webhook.timeoutSeconds': 30, 'webhook.reinvocationPolicy': 'Never' }),
        setArgs({ 'injection.mountPath': '/etc/envoy/xds/', 'injection.sidecar': 'container', 'injection.resources.cpuLimit': '0.5' }),
        ['--set', 'injection.resources.cpuRequest=1'],
        setArgs({ 'podDisruptionBudget.enabled': false }),
        setArgs({ 'image.repository': 'localhost:5000/injector', 'image.tag': 'dev-1.2_3' }),
      ]) {
        await helmTemplate(args);
      }
    });
  });
});
