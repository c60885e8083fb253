// The ConfigMap check on a real kube-apiserver: `envoy-xds-injector serve --config
// manifests/base/config.yaml` as a child process behind manifests/base's
// ValidatingWebhookConfiguration (caBundle and routing filled in, nothing else changed), reached
// through its Service as in a cluster. kubectl v1.33 is the client, so what is asserted is what
// an operator sees at `kubectl apply`: the denial with file, line and proto path, and the
// warnings printed as `Warning: ...`. The un-labelled ConfigMap shows the objectSelector at work:
// the apiserver never calls us (serve's counter and log stay silent about it).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kubectl, repoRoot, startCluster, type Cluster } from './cluster.js';
import { plain } from './objects.js';
import { waitFor } from './proc.js';
import {
  apiMessage,
  applyObjects,
  E2E_LABEL,
  ensureNamespace,
  INJECTOR_NAMESPACE,
  INJECTOR_SERVICE,
  metricValue,
  scrapeMetrics,
  type ServeProcess,
  SHIPPED_CONFIG,
  startServe,
  webhookClientConfig,
} from './webhook.js';

const REVIEWS_METRIC = 'envoy_xds_injector_configmap_reviews_total';
const VALIDATE_LABEL = 'envoy-xds-injector.io/validate';
const WEBHOOK = 'validate-configmap.envoy-xds-injector.io';

const fixture = (path: string): Promise<string> => readFile(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

function configMap(name: string, data: Record<string, string>, labelled: boolean): k8s.V1ConfigMap {
  return plain<k8s.V1ConfigMap>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, ...(labelled ? { labels: { [VALIDATE_LABEL]: 'true' } } : {}) },
    data,
  });
}

/** The `configmap review` lines serve logged (pino JSON), oldest first. */
function configMapReviewLogs(server: ServeProcess): Record<string, unknown>[] {
  return server.proc
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line): Record<string, unknown>[] => {
      try {
        const entry = JSON.parse(line) as unknown;
        return entry !== null && typeof entry === 'object' && (entry as Record<string, unknown>).msg === 'configmap review'
          ? [entry as Record<string, unknown>]
          : [];
      } catch {
        return [];
      }
    });
}

describe('ConfigMap check on a real apiserver (manifests/base ValidatingWebhookConfiguration)', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  let server: ServeProcess;
  const ns = `validate-${Date.now().toString(36)}`;
  let vwcName = '';
  let createdNamespace = false;

  before(async () => {
    cluster = await startCluster();
    server = await startServe(cluster, { dnsNames: [`${INJECTOR_SERVICE}.${INJECTOR_NAMESPACE}.svc`], config: SHIPPED_CONFIG });
    createdNamespace = await ensureNamespace(cluster, ns);
    await ensureNamespace(cluster, INJECTOR_NAMESPACE);

    const manifest = await readFile(join(repoRoot, 'manifests', 'base', 'validatingwebhookconfiguration.yaml'), 'utf8');
    const [vwc] = k8s.loadAllYaml(manifest) as k8s.V1ValidatingWebhookConfiguration[];
    if (vwc?.webhooks === undefined || vwc.metadata?.name === undefined) throw new Error('no ValidatingWebhookConfiguration in manifests/base');
    for (const w of vwc.webhooks) {
      const ref = w.clientConfig.service;
      if (ref === undefined) throw new Error(`webhook ${w.name}: the shipped manifest should route through a Service`);
      w.clientConfig = await webhookClientConfig(cluster, server, { namespace: ref.namespace, name: ref.name, path: ref.path });
    }
    if (!cluster.local) {
      const existing = await cluster.admissionregistration
        .readValidatingWebhookConfiguration({ name: vwc.metadata.name })
        .catch(() => undefined);
      if (existing !== undefined && existing.metadata?.labels?.[E2E_LABEL] !== 'true') {
        throw new Error(`ValidatingWebhookConfiguration ${vwc.metadata.name} exists and was not made by the e2e suite: refusing to replace it`);
      }
    }
    vwc.metadata.labels = { ...vwc.metadata.labels, [E2E_LABEL]: 'true' };
    await applyObjects(cluster, [vwc]);
    vwcName = vwc.metadata.name;

    // The configuration reaches the admission chain asynchronously, and the first review loads the
    // schema (failurePolicy Ignore lets writes through until then): probe with dry-run creates of
    // a labelled broken ConfigMap until one is denied. Dry-run: nothing is stored.
    const broken = configMap('probe', { 'lds.yaml': await fixture('schema/refuses.port-out-of-range.lds.yaml') }, true);
    await waitFor(
      'the ConfigMap check to deny a labelled broken ConfigMap',
      async () => {
        try {
          await cluster.core.createNamespacedConfigMap({ namespace: ns, body: broken, dryRun: 'All' });
          return undefined;
        } catch (err) {
          if (apiMessage(err).includes(WEBHOOK)) return true;
          throw err;
        }
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  });

  after(async () => {
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      if (vwcName !== '') await cluster.admissionregistration.deleteValidatingWebhookConfiguration({ name: vwcName }).catch(() => undefined);
      if (createdNamespace) await cluster.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await cluster.stop(); // also stops `serve`
  });

  test('a labelled ConfigMap Envoy would refuse is denied at kubectl apply, with file, line and proto path', async () => {
    const before = metricValue(await scrapeMetrics(server), REVIEWS_METRIC, { result: 'denied' }) ?? 0;
    const cm = configMap(
      'edge-broken',
      {
        // port_value: 70000 on line 6 (a validation rule), and the shared case's bad duration on line 9.
        'lds.yaml': await fixture('schema/refuses.port-out-of-range.lds.yaml'),
        'envoy-rejects-parses-fine.lds.yaml': await fixture('cases/envoy-rejects-parses-fine.lds.yaml'),
      },
      true,
    );
    const res = await kubectl(cluster, ['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(cm) });
    assert.notEqual(res.code, 0, res.stdout);
    assert.match(res.stderr, new RegExp(`admission webhook "${WEBHOOK.replace(/\./g, '\\.')}" denied the request: Envoy would refuse this ConfigMap \\(2 error\\(s\\)\\)`));
    const label = `ConfigMap/${ns}/edge-broken`;
    assert.match(res.stderr, new RegExp(`${label}/lds\\.yaml:6:\\d+: error: resources\\[0\\]\\.address\\.socket_address\\.port_value: .*65535`));
    assert.match(res.stderr, new RegExp(`${label}/envoy-rejects-parses-fine\\.lds\\.yaml:9:\\d+: error: resources\\[0\\]\\.listener_filters_timeout: `));
    // Nothing stored, and serve counted the denial.
    await assert.rejects(cluster.core.readNamespacedConfigMap({ name: 'edge-broken', namespace: ns }), (err: unknown) => {
      assert.ok(err instanceof k8s.ApiException && err.code === 404, apiMessage(err));
      return true;
    });
    assert.equal(metricValue(await scrapeMetrics(server), REVIEWS_METRIC, { result: 'denied' }), before + 1);
  });

  test('an update that breaks a labelled ConfigMap is denied; the stored one is kept', async () => {
    const good = await fixture('schema/accepts.real-listener.lds.yaml');
    await cluster.core.createNamespacedConfigMap({ namespace: ns, body: configMap('edge-update', { 'lds.yaml': good }, true) });
    const res = await kubectl(cluster, ['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify(configMap('edge-update', { 'lds.yaml': await fixture('schema/refuses.port-out-of-range.lds.yaml') }, true)),
    });
    assert.notEqual(res.code, 0, res.stdout);
    assert.match(res.stderr, /denied the request: .*lds\.yaml:6:\d+: error: resources\[0\]\.address\.socket_address\.port_value/);
    const stored = await cluster.core.readNamespacedConfigMap({ name: 'edge-update', namespace: ns });
    assert.equal(stored.data?.['lds.yaml'], good);
  });

  test('a labelled ConfigMap with misspelt fields (shared case) is applied, and kubectl prints both warnings with their lines', async () => {
    const before = metricValue(await scrapeMetrics(server), REVIEWS_METRIC, { result: 'warned' }) ?? 0;
    const cm = configMap('edge-typo', { 'lds.yaml': await fixture('cases/envoy-ignores-unknown-field.lds.yaml') }, true);
    const res = await kubectl(cluster, ['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(cm) });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'configmap/edge-typo created');
    const warnings = res.stderr.split('\n').filter((l) => l.startsWith('Warning: '));
    const label = `ConfigMap/${ns}/edge-typo/lds.yaml`;
    assert.equal(warnings.length, 2, res.stderr);
    assert.match(warnings[0] ?? '', new RegExp(`^Warning: ${label}:9:\\d+: warning: resources\\[0\\]\\.per_connection_buffer_limit_bytez: unknown field`));
    assert.match(
      warnings[1] ?? '',
      new RegExp(`^Warning: ${label}:16:\\d+: warning: resources\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.stream_idle_timeoutt: unknown field`),
    );
    const stored = await cluster.core.readNamespacedConfigMap({ name: 'edge-typo', namespace: ns });
    assert.equal(stored.data?.['lds.yaml'], cm.data?.['lds.yaml']);
    assert.equal(metricValue(await scrapeMetrics(server), REVIEWS_METRIC, { result: 'warned' }), before + 1);
  });

  test('an update of a labelled ConfigMap is checked on the files it changes (the oldObject the apiserver sends): an unchanged file\'s warnings are not repeated, a changed file\'s are', async () => {
    const typo = await fixture('cases/envoy-ignores-unknown-field.lds.yaml');
    const clean = await fixture('schema/accepts.real-listener.lds.yaml');
    const name = 'edge-ratchet';
    const apply = async (data: Record<string, string>): Promise<string[]> => {
      const res = await kubectl(cluster, ['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(configMap(name, data, true)) });
      assert.equal(res.code, 0, res.stderr);
      return res.stderr.split('\n').filter((l) => l.startsWith('Warning: '));
    };
    assert.equal((await apply({ 'lds.yaml': typo })).length, 2, 'created: both typos warned');
    assert.deepEqual(await apply({ 'lds.yaml': typo, 'cds.yaml': clean }), [], 'lds.yaml unchanged: not checked again');
    const changed = await apply({ 'lds.yaml': `${typo}# edited\n`, 'cds.yaml': clean });
    assert.equal(changed.length, 2, 'lds.yaml edited: checked, both typos warned');
    assert.match(changed[0] ?? '', new RegExp(`^Warning: ConfigMap/${ns}/${name}/lds\\.yaml:9:\\d+: warning: resources\\[0\\]\\.per_connection_buffer_limit_bytez`));
  });

  test('an un-labelled ConfigMap with errors is never sent to the webhook (objectSelector): created, no review', async () => {
    const metricsBefore = metricValue(await scrapeMetrics(server), REVIEWS_METRIC) ?? 0;
    const name = 'edge-unlabelled';
    const res = await kubectl(cluster, ['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify(configMap(name, { 'lds.yaml': await fixture('schema/refuses.port-out-of-range.lds.yaml') }, false)),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), `configmap/${name} created`);
    assert.doesNotMatch(res.stderr, /Warning/);
    await cluster.core.readNamespacedConfigMap({ name, namespace: ns });
    assert.equal(metricValue(await scrapeMetrics(server), REVIEWS_METRIC) ?? 0, metricsBefore);
    assert.deepEqual(configMapReviewLogs(server).filter((r) => r.configmap === name), []);
    // Labelling it is an UPDATE that does reach the check (so the silence above is the selector's):
    // denied, counted and logged once.
    const labelled = await kubectl(cluster, ['label', '-n', ns, `configmap/${name}`, `${VALIDATE_LABEL}=true`]);
    assert.notEqual(labelled.code, 0, labelled.stdout);
    assert.match(labelled.stderr, /denied the request: .*lds\.yaml:6:\d+: error: resources\[0\]\.address\.socket_address\.port_value/);
    const reviews = await waitFor('the review of the label update in the serve log', () => {
      const found = configMapReviewLogs(server).filter((r) => r.configmap === name);
      return Promise.resolve(found.length > 0 ? found : undefined);
    });
    assert.deepEqual(reviews.map((r) => [r.decision, r.namespace]), [['denied', ns]]);
    assert.equal(metricValue(await scrapeMetrics(server), REVIEWS_METRIC), metricsBefore + 1);
  });
});
