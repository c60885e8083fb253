// The chart against a real kube-apiserver (test/e2e's throw-away control plane, no kubelet):
// - every rendering (each certificate mode, non-default values) as `helm install --dry-run=server`
//   produces it (lookup runs against the cluster, kubeVersion is checked against the server), then
//   `kubectl apply --server-side --dry-run=server`: the full validation and admission chain with
//   strict field validation, nothing stored. cert-manager's kinds get stub CRDs (any spec).
// - a real `helm install` (generated certificates) whose webhook configuration the apiserver uses
//   to call `serve` (run on this host with the chart's Secret and config, behind the chart's
//   Service, as no kubelet runs the Deployment's Pods), `helm upgrade` keeping the certificate,
//   and `helm uninstall` deleting the webhook configuration first. The Deployment's own Pods
//   becoming Ready needs a real node (not tested here).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureCertManagerCrds } from '../e2e/cert-manager.js';
import { kubectl, repoRoot, startCluster, type Cluster } from '../e2e/cluster.js';
import { httpGet } from '../e2e/http.js';
import { freePort, startProcess, waitFor } from '../e2e/proc.js';
import { cliCommand, ensureNamespace, exposeWebhook, waitForWebhook } from '../e2e/webhook.js';
import { CHART, helm, parseObjects, setArgs, type Json } from './render.js';

function ids(objects: Json[]): string[] {
  return objects
    .map((o) => {
      const meta = (o.metadata ?? {}) as Json;
      return `${String(o.kind)} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${String(meta.name)}`;
    })
    .sort();
}

describe('charts/envoy-xds-injector on a real apiserver', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  const createdCrds: string[] = [];
  const createdNamespaces: string[] = [];

  before(async () => {
    cluster = await startCluster();
    await ensureCertManagerCrds(cluster, createdCrds); // a cluster with cert-manager keeps its real CRDs
  });

  after(async () => {
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      for (const name of createdCrds) await kubectl(cluster, ['delete', name, '--ignore-not-found']);
      for (const name of createdNamespaces) await cluster.core.deleteNamespace({ name }).catch(() => undefined);
    }
    await cluster.stop();
  });

  // Any PEM CA does for a dry-run: the e2e cluster's own.
  const caBundle = (): string => Buffer.from(cluster.ca.cert).toString('base64');

  const renderings: Record<string, () => Promise<string[]>> = {
    'default (certificates generated)': () => Promise.resolve([]),
    certManager: () => Promise.resolve(setArgs({ 'certificates.mode': 'certManager' })),
    existingSecret: () =>
      Promise.resolve(setArgs({ 'certificates.mode': 'existingSecret', 'certificates.existingSecret.name': 'my-tls', 'certificates.existingSecret.caBundle': caBundle() })),
    'non-default values': () =>
      Promise.resolve(
        setArgs({
          'injection.sidecar': 'container',
          'injection.mountPath': '/srv/envoy',
          'injection.resources.cpuLimit': '200m',
          replicaCount: 3,
          logLevel: 'debug',
          'nodeSelector.kubernetes\\.io/os': 'linux',
          'tolerations[0].key': 'dedicated',
          'tolerations[0].operator': 'Exists',
          priorityClassName: 'system-cluster-critical',
          'podAnnotations.example\\.com/team': 'platform',
          'podLabels.example\\.com/tier': 'infra',
          'podDisruptionBudget.maxUnavailable': '50%',
          'webhook.failurePolicy': 'Ignore',
          'webhook.timeoutSeconds': 30,
          'webhook.reinvocationPolicy': 'Never',
          'webhook.extraExcludedNamespaces[0]': 'team-a',
        }),
      ),
  };

  for (const [name, args] of Object.entries(renderings)) {
    test(`helm install --dry-run=server, then kubectl apply --server-side --dry-run=server: ${name}`, async () => {
      const namespace = 'envoy-xds-injector';
      // PodSecurity restricted, enforced and warned about (as the kustomize base's Namespace, and
      // as the chart README suggests): a Deployment that breaks it gets a warning, checked below.
      const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
      if (await ensureNamespace(cluster, namespace, restricted)) createdNamespaces.push(namespace);
      const res = await helm(
        ['install', 'envoy-xds-injector', CHART, '--namespace', namespace, '--dry-run=server', '-o', 'json', ...(await args())],
        { kubeconfig: cluster.kubeconfigPath },
      );
      assert.equal(res.code, 0, res.stderr);
      const release = JSON.parse(res.stdout) as { manifest: string; hooks?: { manifest: string }[]; info: { status: string; notes: string } };
      assert.equal(release.info.status, 'pending-install');
      assert.match(release.info.notes, /envoy-xds-injector\.io\/inject: "true"/);
      const objects = parseObjects(release.manifest, 'helm manifest');
      assert.ok(objects.length >= 6);
      const hooks = (release.hooks ?? []).map((h) => h.manifest);
      assert.equal(hooks.length, 1, 'the pre-delete hook');

      // The release's objects together, then each hook on its own (the pre-delete hook has the
      // webhook configuration's name: it replaces it at uninstall, never lives beside it).
      for (const manifest of [release.manifest, ...hooks]) {
        const applied = await kubectl(
          cluster,
          ['apply', '--server-side', '--dry-run=server', '--field-manager=envoy-xds-helm-test', '-f', '-', '-o', 'json'],
          { input: manifest },
        );
        assert.equal(applied.code, 0, `${applied.stderr}\n--- rendered:\n${manifest}`);
        // No deprecation, PodSecurity or unknown-field warnings either.
        assert.doesNotMatch(applied.stderr, /Warning/i, applied.stderr);
        const out = JSON.parse(applied.stdout) as Json;
        const returned = out.kind === 'List' ? (out.items as Json[]) : [out];
        assert.deepEqual(ids(returned), ids(parseObjects(manifest, 'helm manifest')));
      }
      const stored = await kubectl(cluster, ['get', 'mutatingwebhookconfigurations', '-o', 'name']);
      assert.equal(stored.stdout.trim(), '', 'stored by a dry-run');
    });
  }

  test('helm install (generated certificate): the apiserver trusts it; helm upgrade keeps it; helm uninstall deletes the webhook first', async () => {
    const ns = 'xds-helm-install';
    const workloads = 'xds-helm-workloads';
    const release = 'xds';
    const fullname = 'xds-envoy-xds-injector';
    const kc = { kubeconfig: cluster.kubeconfigPath };
    const installed = await helm(['install', release, CHART, '--namespace', ns, '--create-namespace'], kc);
    assert.equal(installed.code, 0, installed.stderr);
    if (!cluster.local) createdNamespaces.push(ns);
    if (await ensureNamespace(cluster, workloads)) createdNamespaces.push(workloads);

    const state = async (): Promise<{ secret: Record<string, string>; caBundle: unknown; logLevel: unknown; config: string }> => {
      const secret = await cluster.core.readNamespacedSecret({ name: `${fullname}-tls`, namespace: ns });
      const configMap = await cluster.core.readNamespacedConfigMap({ name: `${fullname}-config`, namespace: ns });
      const mwc = await cluster.admissionregistration.readMutatingWebhookConfiguration({ name: fullname });
      const deployment = await cluster.apps.readNamespacedDeployment({ name: fullname, namespace: ns });
      return {
        secret: secret.data ?? {},
        caBundle: mwc.webhooks?.[0]?.clientConfig.caBundle,
        logLevel: deployment.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'LOG_LEVEL')?.value,
        config: configMap.data?.['config.yaml'] ?? '',
      };
    };
    const first = await state();
    assert.deepEqual(Object.keys(first.secret).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(first.caBundle, first.secret['ca.crt']);
    assert.equal(first.logLevel, 'info');

    // No kubelet runs the Deployment's Pods: `serve` runs here instead, with the Secret's key pair
    // and the ConfigMap's config as the Pod would mount them, behind the chart's own Service
    // (Endpoints written by hand). The apiserver then calls it through the chart's webhook
    // configuration and verifies the generated certificate against the chart's caBundle.
    const files = await mkdtemp(join(tmpdir(), 'envoy-xds-helm-serve-'));
    try {
      const decode = (key: string): string => Buffer.from(first.secret[key] ?? '', 'base64').toString('utf8');
      await writeFile(join(files, 'tls.crt'), decode('tls.crt'));
      await writeFile(join(files, 'tls.key'), decode('tls.key'), { mode: 0o600 });
      await writeFile(join(files, 'config.yaml'), first.config);
      const port = await freePort('0.0.0.0');
      const [cmd, ...cmdArgs] = cliCommand() as [string, ...string[]];
      const args = ['serve', '--port', String(port), '--host', '0.0.0.0', '--drain-delay', '0s'];
      args.push('--tls-cert', join(files, 'tls.crt'), '--tls-key', join(files, 'tls.key'), '--config', join(files, 'config.yaml'));
      const serve = startProcess('helm-serve', cmd, [...cmdArgs, ...args], {
        cwd: repoRoot,
        env: { ...process.env, LOG_LEVEL: 'info' },
        logFile: join(cluster.logDir, 'helm-serve.log'),
      });
      cluster.adopt(serve);
      await waitFor(
        'serve with the chart-generated certificate',
        async () => {
          const res = await httpGet(`https://127.0.0.1:${String(port)}/readyz`, { ca: decode('ca.crt'), servername: `${fullname}.${ns}.svc`, timeoutMs: 5000 });
          return res.status === 200 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, abortIf: () => (serve.exitInfo() !== undefined ? serve.tail() : undefined) },
      );
      await exposeWebhook(cluster, { namespace: ns, name: fullname, targetPort: port });
      await waitForWebhook(cluster, workloads, true);

      // NOTES.txt's readiness check, as printed by helm install, works as written.
      const check = /kubectl (run [^|]+)\| grep envoy-xds-injector\.io\/status/.exec(installed.stdout)?.[1];
      assert.ok(check !== undefined, `no kubectl run check in the NOTES:\n${installed.stdout}`);
      const dryRun = await kubectl(cluster, [...check.replace(/\\\n/g, ' ').trim().split(/\s+/), '--namespace', workloads]);
      assert.equal(dryRun.code, 0, dryRun.stderr);
      assert.match(dryRun.stdout, /envoy-xds-injector\.io\/status/);

      const upgraded = await helm(['upgrade', release, CHART, '--namespace', ns, '--reuse-values', '--set', 'logLevel=debug'], kc);
      assert.equal(upgraded.code, 0, upgraded.stderr);
      const second = await state();
      assert.equal(second.logLevel, 'debug', 'the upgrade was applied');
      assert.deepEqual(second.secret, first.secret, 'the upgrade kept the generated CA, certificate and key');
      assert.equal(second.caBundle, first.caBundle);
      // Still trusted: the same server, certificate unchanged, injects after the upgrade.
      await waitForWebhook(cluster, workloads, true);

      // --debug logs each delete as it starts. Without the pre-delete hook Helm would delete the
      // Service first and the webhook configuration last (its uninstall kind order).
      const uninstalled = await helm(['uninstall', release, '--namespace', ns, '--debug'], kc);
      assert.equal(uninstalled.code, 0, uninstalled.stderr);
      const log = `${uninstalled.stdout}\n${uninstalled.stderr}`;
      const deletes = [...log.matchAll(/Starting delete for "([^"]+)" (\w+)/g)].map((m) => `${m[2] ?? ''}/${m[1] ?? ''}`);
      assert.equal(deletes[0], `MutatingWebhookConfiguration/${fullname}`, deletes.join('\n'));
      const firstOther = deletes.findIndex((d) => !d.startsWith('MutatingWebhookConfiguration/'));
      assert.ok(firstOther > 0, deletes.join('\n'));
      for (const d of [`Service/${fullname}`, `Deployment/${fullname}`, `Secret/${fullname}-tls`]) assert.ok(deletes.slice(firstOther).includes(d), `${d} in\n${deletes.join('\n')}`);
      for (const [kind, getArgs] of [
        ['mutatingwebhookconfiguration', [fullname]],
        ['secret', ['-n', ns, `${fullname}-tls`]],
        ['deployment', ['-n', ns, fullname]],
      ] as const) {
        const got = await kubectl(cluster, ['get', kind, ...getArgs, '--ignore-not-found', '-o', 'name']);
        assert.equal(got.stdout.trim(), '', `${kind} left after uninstall`);
      }
      // Opted-in Pods are created (uninjected) again: nothing calls the webhook any more.
      await waitForWebhook(cluster, workloads, false);
      await serve.stop();
    } finally {
      await rm(files, { recursive: true, force: true });
    }
  });
});
