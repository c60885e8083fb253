// The manifests an operator applies, checked field by field against what the injector, the image
// and the apiserver need. (The e2e suite additionally dry-run-applies them on a real apiserver.)
import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type {
  V1Container,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1PodDisruptionBudget,
  V1Probe,
  V1Service,
} from '@kubernetes/client-node';
import { loadInjectorConfig } from '../../src/cli/config.js';
import { defaultConfig } from '../../src/inject/index.js';
import { parseDuration } from '../../src/cli/duration.js';
import type { K8sObject } from './manifests.js';
import { loadKustomization, loadObjects, loadYaml, manifests, only, onlyWire, repo } from './manifests.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
const NAMESPACE = 'envoy-xds-injector';
const base = join(manifests, 'base');
const baseKustomization = loadKustomization(base);
const baseObjects = (baseKustomization.resources ?? []).flatMap((file) => loadObjects(join(base, file)));

const deployment = onlyWire(baseObjects, 'Deployment') as V1Deployment;
const deploymentSpec = deployment.spec ?? assert.fail('Deployment without a spec');
const podSpec = deploymentSpec.template.spec ?? assert.fail('Deployment without a pod spec');
const webhookContainer: V1Container = podSpec.containers[0] ?? assert.fail('no container');
const service = onlyWire(baseObjects, 'Service') as V1Service;
const mwc = onlyWire(baseObjects, 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration;
const webhook = mwc.webhooks?.[0] ?? assert.fail('no webhook');

/** The containerPort a probe or Service targets (by name or number). */
function containerPort(port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return webhookContainer.ports?.find((p) => p.name === port)?.containerPort;
}

function kustomizationDirs(dir: string): string[] {
  const here = existsSync(join(dir, 'kustomization.yaml')) ? [dir] : [];
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => kustomizationDirs(join(dir, e.name)));
  return [...here, ...children];
}

describe('kustomizations', () => {
  test('every path a kustomization names exists, and every manifest file is used', () => {
    for (const dir of kustomizationDirs(manifests)) {
      const k = loadKustomization(dir);
      const named = [
        ...(k.resources ?? []),
        ...(k.components ?? []),
        ...(k.patches ?? []).flatMap((p) => (p.path === undefined ? [] : [p.path])),
        ...(k.configMapGenerator ?? []).flatMap((g) => g.files ?? []),
        ...(k.secretGenerator ?? []).flatMap((g) => g.files ?? []),
      ];
      const where = relative(repo, dir);
      for (const path of named) {
        // The one generated input: certs/generate.sh writes it (git-ignored).
        if (posix.normalize(posix.join(where, path)) === 'certs/out') continue;
        assert.ok(existsSync(join(dir, path)), `${where}/kustomization.yaml names ${path}, which does not exist`);
      }
      const unused = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !named.includes(f));
      assert.deepEqual(unused, [], `${where}: files no kustomization uses`);
    }
  });

  test('the plain-certificate overlay takes its Secret and caBundle from certs/out, which git ignores', () => {
    const overlay = loadKustomization(join(manifests, 'overlays', 'plain-certificate'));
    assert.deepEqual(overlay.resources, ['../../base']);
    assert.deepEqual(overlay.components, ['../../../certs/out']);
    const gitignore = readFileSync(join(repo, '.gitignore'), 'utf8').split('\n');
    assert.ok(gitignore.includes('certs/out/') && gitignore.includes('*.key'));
  });

  test('the image tag is this package version, the image name the one injected containers default to', () => {
    const [image] = baseKustomization.images ?? [];
    assert.equal(image?.newTag, `v${pkg.version}`);
    assert.equal(webhookContainer.image, image.name);
    assert.equal(`${image.name}:${image.newTag}`, defaultConfig(pkg.version).image);
  });
});

test('the paths README.md tells operators to apply or run exist', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const kustomizations = [...readme.matchAll(/kubectl (?:apply|delete) -k ([\w./-]+)/g)].map((m) => m[1] ?? '');
  assert.ok(kustomizations.includes('manifests/overlays/cert-manager'));
  assert.ok(kustomizations.includes('manifests/overlays/plain-certificate'));
  for (const dir of kustomizations) assert.ok(existsSync(join(repo, dir, 'kustomization.yaml')), dir);
  for (const link of [...readme.matchAll(/\]\(((?:manifests|certs|docs)\/[^)#]+)\)/g)].map((m) => m[1] ?? '')) {
    assert.ok(existsSync(join(repo, link)), `README links ${link}`);
  }
  // The try-it curl below `npm start` sends a review file from the repository.
  const sent = [...readme.matchAll(/--data-binary @(\S+)/g)].map((m) => m[1] ?? '');
  assert.ok(sent.includes('test/fixtures/admission-review.json'), sent.join(', '));
  for (const file of sent) assert.ok(existsSync(join(repo, file)), `README sends ${file}`);
});

test('the image README builds, loads (kind) and imports (containerd) is the one the manifests and the chart run without overrides', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const image = defaultConfig(pkg.version).image;
  const named = [...readme.matchAll(/\b(?:docker build -t|buildah build -t|kind load docker-image|docker image save (?:--platform \S+ )?-o \S+|buildah push) (ghcr\.io\/\S+)/g)].map((m) => m[1] ?? '');
  assert.ok(named.length >= 6, named.join(', '));
  for (const ref of named) assert.equal(ref, image);
  // buildah's archive carries the name containerd files it under.
  for (const m of readme.matchAll(/oci-archive:[^:\s]+:(\S+)/g)) assert.equal(m[1], image);
  assert.match(readme, /ctr -n k8s\.io images import envoy-xds-injector\.tar/);
  assert.match(readme, /kind load image-archive envoy-xds-injector\.tar/);
});

describe('base: the injector Deployment', () => {
  test('namespaced objects live in the envoy-xds-injector namespace', () => {
    assert.equal(only(baseObjects, 'Namespace').metadata.name, NAMESPACE);
    for (const obj of baseObjects.filter((o) => !['Namespace', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(o.kind))) {
      assert.equal(obj.metadata.namespace, NAMESPACE, `${obj.kind}/${obj.metadata.name}`);
    }
  });

  test('no RBAC and no API token: the injector reads nothing from the API', () => {
    assert.deepEqual(
      baseObjects.filter((o) => /Role|RoleBinding/.test(o.kind)).map((o) => o.kind),
      [],
    );
    const sa: K8sObject & { automountServiceAccountToken?: boolean } = only(baseObjects, 'ServiceAccount');
    assert.equal(sa.automountServiceAccountToken, false);
    assert.equal(podSpec.serviceAccountName, sa.metadata.name);
    assert.equal(podSpec.automountServiceAccountToken, false);
  });

  test('at least two replicas, spread over nodes, surge-only rollouts, a PodDisruptionBudget that selects them', () => {
    assert.ok((deploymentSpec.replicas ?? 1) >= 2);
    assert.equal(deploymentSpec.strategy?.rollingUpdate?.maxUnavailable, 0);
    const labels = deploymentSpec.template.metadata?.labels ?? {};
    assert.deepEqual(deploymentSpec.selector.matchLabels, labels);
    assert.ok(podSpec.topologySpreadConstraints?.some((c) => c.topologyKey === 'kubernetes.io/hostname'));
    assert.ok(podSpec.topologySpreadConstraints?.some((c) => c.topologyKey === 'topology.kubernetes.io/zone'));
    for (const c of podSpec.topologySpreadConstraints ?? []) assert.deepEqual(c.labelSelector?.matchLabels, labels);
    const anti = podSpec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(
      anti.some(
        (t) =>
          t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' &&
          JSON.stringify(t.podAffinityTerm.labelSelector?.matchLabels) === JSON.stringify(labels),
      ),
    );
    const pdb = (onlyWire(baseObjects, 'PodDisruptionBudget') as V1PodDisruptionBudget).spec ?? assert.fail('PDB without spec');
    assert.deepEqual(pdb.selector?.matchLabels, labels);
    assert.ok(pdb.maxUnavailable === 1 || pdb.minAvailable === 1);
  });

  test('runs `serve` on 8443 with the mounted certificate and config, through the image entrypoint', () => {
    assert.equal(webhookContainer.command, undefined, 'the image ENTRYPOINT is the CLI; only args');
    assert.deepEqual(webhookContainer.args, [
      'serve',
      '--port',
      '8443',
      '--tls-cert',
      '/tls/tls.crt',
      '--tls-key',
      '/tls/tls.key',
      '--config',
      '/config/config.yaml',
    ]);
    assert.equal(containerPort('https'), 8443);
  });

  test('the TLS Secret and the config are mounted as directories (no subPath), so updates reach the Pod', () => {
    const mounts = webhookContainer.volumeMounts ?? [];
    assert.deepEqual(
      mounts.filter((m) => m.subPath !== undefined || m.subPathExpr !== undefined),
      [],
    );
    const tls = mounts.find((m) => m.mountPath === '/tls');
    const tlsVolume = podSpec.volumes?.find((v) => v.name === tls?.name);
    assert.equal(tlsVolume?.secret?.secretName, 'envoy-xds-injector-tls');
    assert.equal(tls?.readOnly, true);
    const config = mounts.find((m) => m.mountPath === '/config');
    const configVolume = podSpec.volumes?.find((v) => v.name === config?.name);
    const generator = baseKustomization.configMapGenerator?.find((g) => g.name === configVolume?.configMap?.name);
    assert.deepEqual(generator?.files, ['config.yaml'], 'the ConfigMap key is the file name serve --config reads');
  });

  test('the TLS key is readable by the server user only: mode 0440, group = fsGroup = uid of the image', () => {
    const tlsVolume = podSpec.volumes?.find((v) => v.secret !== undefined);
    // kubectl reads YAML 1.1, other tools 1.2; the decimal form means 0440 in both.
    const path = join(base, 'deployment.yaml');
    const mode12 = (loadYaml(path, '1.2')[0] as V1Deployment).spec?.template.spec?.volumes?.find((v) => v.secret)?.secret?.defaultMode;
    assert.equal(tlsVolume?.secret?.defaultMode, 0o440);
    assert.equal(mode12, 0o440);
    assert.equal(podSpec.securityContext?.fsGroup, 10001);
  });

  test('restricted securityContext, non-root uid 10001 (the image USER), read-only root filesystem', () => {
    const dockerUser = /^USER\s+(\d+)/m.exec(readFileSync(join(repo, 'Dockerfile'), 'utf8'))?.[1];
    const podSc = podSpec.securityContext ?? assert.fail('no pod securityContext');
    assert.equal(podSc.runAsNonRoot, true);
    assert.equal(String(podSc.runAsUser), dockerUser);
    assert.equal(podSc.seccompProfile?.type, 'RuntimeDefault');
    const sc = webhookContainer.securityContext ?? assert.fail('no container securityContext');
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.privileged, undefined);
    const capabilities = sc.capabilities ?? assert.fail('no capabilities');
    assert.deepEqual(capabilities.drop, ['ALL']);
    assert.equal(capabilities.add, undefined);
    const ns = only(baseObjects, 'Namespace');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  test('startup, readiness (/readyz) and liveness (/healthz) probes over HTTPS on the server port', () => {
    const probes: [string, V1Probe | undefined, string][] = [
      ['startupProbe', webhookContainer.startupProbe, '/healthz'],
      ['readinessProbe', webhookContainer.readinessProbe, '/readyz'],
      ['livenessProbe', webhookContainer.livenessProbe, '/healthz'],
    ];
    for (const [name, probe, path] of probes) {
      assert.equal(probe?.httpGet?.scheme, 'HTTPS', name);
      assert.equal(probe.httpGet.path, path, name);
      assert.equal(containerPort(probe.httpGet.port), 8443, name);
    }
  });

  test('terminationGracePeriodSeconds outlasts the server drain: drain delay + shutdown timeout, with margin', async () => {
    // The defaults as `serve --help` states them, unless the Deployment passes the flags.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(repo, 'src', 'cli', 'main.ts'), 'serve', '--help']);
    const flag = (name: string): number => {
      const args = webhookContainer.args ?? [];
      const given = args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined;
      const stated = new RegExp(`--${name}[^\\n]*(?:\\n[^-]*?)?\\(default ([0-9a-z.]+)\\)`).exec(stdout)?.[1];
      return parseDuration(given ?? stated ?? '') ?? assert.fail(`no --${name} in serve --help`);
    };
    const drainMs = flag('drain-delay') + flag('shutdown-timeout');
    assert.ok(drainMs >= 5000, 'a drain delay and a shutdown timeout exist');
    const graceMs = (podSpec.terminationGracePeriodSeconds ?? 30) * 1000;
    assert.ok(graceMs >= drainMs + 3000, `grace ${graceMs}ms leaves room after the drain's ${drainMs}ms`);
  });

  test('CPU and memory requests, a memory limit', () => {
    const resources = webhookContainer.resources;
    assert.ok(resources?.requests?.cpu !== undefined && resources.requests.memory !== undefined);
    assert.ok(resources.limits?.memory !== undefined);
  });

  test('the injector config ConfigMap is valid and states the built-in defaults it claims to', async () => {
    const config = await loadInjectorConfig(join(base, 'config.yaml'), pkg.version);
    assert.deepEqual(config, defaultConfig(pkg.version));
  });

  test('the Service sends 443 to the server port', () => {
    const port = service.spec?.ports?.[0];
    assert.equal(port?.port, 443);
    assert.equal(containerPort(port.targetPort), 8443);
    assert.deepEqual(service.spec?.selector, deploymentSpec.template.metadata?.labels);
  });
});

describe('base: the MutatingWebhookConfiguration', () => {
  test('v1 reviews, no side effects, Pods on CREATE only, reinvoked if needed, fail closed', () => {
    assert.equal(mwc.webhooks?.length, 1);
    assert.deepEqual(webhook.admissionReviewVersions, ['v1']);
    assert.equal(webhook.sideEffects, 'None');
    assert.deepEqual(webhook.rules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    assert.equal(webhook.reinvocationPolicy, 'IfNeeded');
    assert.equal(webhook.failurePolicy, 'Fail');
    assert.equal(webhook.objectSelector, undefined);
  });

  test('timeoutSeconds is at most 10 and a comment says why', () => {
    assert.ok(webhook.timeoutSeconds !== undefined && webhook.timeoutSeconds >= 1 && webhook.timeoutSeconds <= 10);
    const text = readFileSync(join(base, 'mutatingwebhookconfiguration.yaml'), 'utf8');
    assert.match(text, /#[^\n]*\n(\s*#[^\n]*\n)*\s*timeoutSeconds:/);
  });

  test('calls the Service in our namespace on /mutate', () => {
    assert.deepEqual(webhook.clientConfig.service, {
      name: service.metadata?.name,
      namespace: service.metadata?.namespace,
      path: '/mutate',
      port: service.spec?.ports?.[0]?.port,
    });
    assert.equal(webhook.clientConfig.url, undefined);
    assert.equal(webhook.clientConfig.caBundle, undefined, 'the caBundle comes from an overlay');
  });

  test('skips the control plane namespaces and its own, by the immutable metadata.name label', () => {
    assert.deepEqual(webhook.namespaceSelector, {
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', 'kube-public', 'kube-node-lease', NAMESPACE],
        },
      ],
    });
  });

  test('a CEL matchCondition on the inject annotation (map key with "/" tested with `in`, guarded by has())', () => {
    assert.deepEqual(webhook.matchConditions, [
      {
        name: 'inject-annotation-present',
        expression:
          "has(object.metadata.annotations) && 'envoy-xds-injector.io/inject' in object.metadata.annotations",
      },
    ]);
  });
});

describe('components/cert-manager', () => {
  const dir = join(manifests, 'components', 'cert-manager');
  const k = loadKustomization(dir);
  const objects = (k.resources ?? []).flatMap((f) => loadObjects(join(dir, f)));
  type Certificate = K8sObject & {
    spec: { secretName: string; dnsNames?: string[]; isCA?: boolean; issuerRef: { kind: string; name: string } };
  };
  type Issuer = K8sObject & { spec: { selfSigned?: object; ca?: { secretName: string } } };

  test('self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate in the mounted Secret', () => {
    assert.equal(k.kind, 'Component');
    for (const o of objects) assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
    const certs = objects.filter((o): o is Certificate => o.kind === 'Certificate');
    const issuers = objects.filter((o): o is Issuer => o.kind === 'Issuer');
    const issuer = (ref: { kind: string; name: string }) => {
      assert.equal(ref.kind, 'Issuer');
      return issuers.find((i) => i.metadata.name === ref.name) ?? assert.fail(`no Issuer ${ref.name}`);
    };
    const serving = certs.find((c) => c.spec.isCA !== true) ?? assert.fail('no serving Certificate');
    const caIssuer = issuer(serving.spec.issuerRef);
    const ca = certs.find((c) => c.spec.secretName === caIssuer.spec.ca?.secretName) ?? assert.fail('CA Issuer without CA');
    assert.equal(ca.spec.isCA, true);
    assert.ok(issuer(ca.spec.issuerRef).spec.selfSigned !== undefined);

    const tlsSecret = podSpec.volumes?.find((v) => v.secret !== undefined)?.secret?.secretName;
    assert.equal(serving.spec.secretName, tlsSecret);
    const host = `${service.metadata?.name ?? ''}.${NAMESPACE}.svc`;
    assert.deepEqual(serving.spec.dnsNames, [host, `${host}.cluster.local`]);
  });

  test('the webhook gets cert-manager.io/inject-ca-from naming the serving Certificate', () => {
    const patches = (k.patches ?? []).map((p) => parse(p.patch ?? '', { version: '1.1' }) as V1MutatingWebhookConfiguration);
    const patch = patches.find((p) => p.kind === 'MutatingWebhookConfiguration') ?? assert.fail('no webhook patch');
    assert.equal(patch.metadata?.name, mwc.metadata?.name);
    const serving = objects.find((o) => o.kind === 'Certificate' && (o as Certificate).spec.isCA !== true);
    assert.equal(patch.metadata?.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${serving?.metadata.name ?? ''}`);
  });
});
