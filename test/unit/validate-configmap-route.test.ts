// POST /validate-configmap through buildApp: a bad ConfigMap is denied with its file, line and
// path; a typo is allowed with a warning; other objects pass untouched; the schema worker starts
// with the first ConfigMap review or preload() (serve calls it once
// ready), and never for a Pod review.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../../src/admission/index.js';
import { defaultConfig } from '../../src/inject/index.js';
import { createConfigMapChecker, type ConfigMapChecker } from '../../src/schema/checker.js';
import { buildApp, type WebhookApp } from '../../src/server/app.js';
import { Readiness } from '../../src/server/readiness.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const podReview = JSON.parse(fixture('admission-review.json')) as AdmissionReviewRequest;

let app: WebhookApp;
let checker: ConfigMapChecker;

before(async () => {
  checker = createConfigMapChecker();
  const readiness = new Readiness();
  readiness.markReady();
  app = buildApp({ injectorConfig: defaultConfig('0.0.0-test'), logger: pino({ level: 'silent' }), registry: new Registry(), readiness, https: {}, configMapChecker: checker });
  await app.ready();
});
after(async () => {
  await app.close();
  await checker.close();
});

function configMapReview(data: Record<string, string>, operation: 'CREATE' | 'UPDATE' | 'DELETE' = 'CREATE'): AdmissionReviewRequest {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'cm-1',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      name: 'envoy-xds',
      namespace: 'shop',
      operation,
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'envoy-xds', namespace: 'shop', labels: { 'envoy-xds-injector.io/validate': 'true' } }, data },
    },
  };
}

async function post(url: string, body: AdmissionReviewRequest): Promise<AdmissionReviewResponse> {
  const reply = await app.inject({ method: 'POST', url, payload: body });
  assert.equal(reply.statusCode, 200, reply.body);
  return reply.json();
}

test('a Pod review never starts the schema worker', async () => {
  await post('/mutate', podReview);
  assert.equal(checker.started, false);
});

test('a ConfigMap Envoy would refuse is denied, the message naming file, line and path', async () => {
  const { response } = await post('/validate-configmap', configMapReview({ 'lds.yaml': fixture('schema/refuses.port-out-of-range.lds.yaml') }));
  assert.equal(checker.started, true);
  assert.equal(response.uid, 'cm-1');
  assert.equal(response.allowed, false);
  assert.equal(response.status?.code, 403);
  assert.match(response.status.message, /ConfigMap\/shop\/envoy-xds\/lds\.yaml:6:\d+: error: resources\[0\]\.address\.socket_address\.port_value: value must be less than or equal to 65535/);
});

test('envoy-ignores-unknown-field.lds.yaml (a shared case) is allowed, with its two typos as kubectl warnings', async () => {
  const { response } = await post('/validate-configmap', configMapReview({ 'lds.yaml': fixture('cases/envoy-ignores-unknown-field.lds.yaml') }, 'UPDATE'));
  assert.equal(response.allowed, true);
  assert.equal(response.warnings?.length, 2);
  assert.match(response.warnings[0] ?? '', /lds\.yaml:9:3: warning: resources\[0\]\.per_connection_buffer_limit_bytez: unknown field/);
  assert.match(response.warnings[1] ?? '', /lds\.yaml:16:9: warning: .*typed_config\.stream_idle_timeoutt: unknown field/);
});

test('a clean ConfigMap is allowed without warnings; a DELETE is allowed unchecked', async () => {
  const clean = await post('/validate-configmap', configMapReview({ 'lds.yaml': fixture('envoy-corpus/accepts.plain.lds.yaml'), 'script.lua': 'x' }));
  assert.deepEqual(clean.response, { uid: 'cm-1', allowed: true });
  const deleted = await post('/validate-configmap', configMapReview({}, 'DELETE'));
  assert.deepEqual(deleted.response, { uid: 'cm-1', allowed: true });
});

test('an UPDATE of an opted-in ConfigMap checks only the files whose text it changes; one that adds the label checks them all', async () => {
  const refused = fixture('schema/refuses.port-out-of-range.lds.yaml');
  const clean = fixture('envoy-corpus/accepts.plain.lds.yaml');
  const update = (data: Record<string, string>, oldData: Record<string, string>, oldLabels: Record<string, string>): AdmissionReviewRequest => {
    const review = configMapReview(data, 'UPDATE');
    review.request.oldObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'envoy-xds', namespace: 'shop', labels: oldLabels }, data: oldData };
    return review;
  };
  const optedIn = { 'envoy-xds-injector.io/validate': 'true' };
  // lds.yaml (refused by Envoy) is as it was; cds.yaml is edited: only cds.yaml is checked.
  const edit = await post('/validate-configmap', update({ 'lds.yaml': refused, 'cds.yaml': `${clean}# edited\n` }, { 'lds.yaml': refused, 'cds.yaml': clean }, optedIn));
  assert.deepEqual(edit.response, { uid: 'cm-1', allowed: true });
  // The same write when the old object was not opted in (the label arrives now): every file is checked.
  const labelled = await post('/validate-configmap', update({ 'lds.yaml': refused, 'cds.yaml': `${clean}# edited\n` }, { 'lds.yaml': refused, 'cds.yaml': clean }, {}));
  assert.equal(labelled.response.allowed, false);
  assert.match(labelled.response.status?.message ?? '', /lds\.yaml:6:\d+: error: resources\[0\]\.address\.socket_address\.port_value/);
  // A changed file is checked, whatever the others hold.
  const broken = await post('/validate-configmap', update({ 'lds.yaml': refused, 'cds.yaml': clean }, { 'lds.yaml': clean, 'cds.yaml': clean }, optedIn));
  assert.equal(broken.response.allowed, false);
  assert.match(broken.response.status?.message ?? '', /lds\.yaml:6:\d+: error/);
});

test('preload() starts the worker and resolves once the schema is loaded, with the load time; checks then use that worker; close() ends it', async () => {
  const preloaded = createConfigMapChecker();
  try {
    assert.equal(preloaded.started, false);
    const loading = preloaded.preload();
    assert.equal(preloaded.started, true);
    const loadMs = await loading;
    assert.ok(loadMs > 0, String(loadMs));
    assert.equal(await preloaded.preload(), loadMs, 'a second preload waits for nothing new');
    const checks = await preloaded.check({ metadata: { name: 'x' }, data: { 'lds.yaml': fixture('schema/refuses.port-out-of-range.lds.yaml') } });
    assert.equal(checks[0]?.findings[0]?.severity, 'error');
  } finally {
    await preloaded.close();
  }
  assert.equal(preloaded.started, false);
});

test('a ConfigMap whose aliases expand into millions of values ends the schema worker, not the server: allowed with a warning that the check did not run; the next review gets a new worker', async () => {
  // 10^8 strings from 8 lines: Struct values in a Cluster's metadata, each list ten aliases of the last.
  const levels = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 8; i++) levels.push(`l${String(i)}: &l${String(i)} [${Array<string>(10).fill(`*l${String(i - 1)}`).join(', ')}]`);
  const bomb = ['resources:', '- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster', '  name: bomb', '  metadata:', '    filter_metadata:', '      bomb:', ...levels.map((line) => `        ${line}`)].join('\n');
  const { response } = await post('/validate-configmap', configMapReview({ 'cds.yaml': `${bomb}\n` }));
  assert.equal(response.allowed, true);
  assert.match(response.warnings?.[0] ?? '', /the Envoy schema check did not run \(.*memory.*\); the ConfigMap was not checked/);
  const next = await post('/validate-configmap', configMapReview({ 'lds.yaml': fixture('schema/refuses.port-out-of-range.lds.yaml') }));
  assert.equal(next.response.allowed, false);
});

test('an unknown path is a 404 that lists every route this webhook serves, /validate-configmap too', async () => {
  const res = await app.inject({ method: 'POST', url: '/validate' });
  assert.equal(res.statusCode, 404);
  const body = res.json<{ code: string; message: string }>();
  assert.equal(body.code, 'NOT_FOUND');
  assert.equal(body.message, 'no such endpoint: the webhook serves POST /mutate, GET /healthz, GET /readyz, GET /metrics, POST /validate-configmap');
});
