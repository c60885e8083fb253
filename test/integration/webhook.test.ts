// The webhook over real HTTPS: a test CA signs the serving certificate, and the client trusts only
// that CA (as the apiserver trusts only the caBundle).
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpsRequestRaw } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../../src/admission/index.js';
import { decodePatch } from '../../src/admission/index.js';
import { defaultConfig, injectPod } from '../../src/inject/index.js';
import type { WebhookApp } from '../../src/server/app.js';
import { buildApp } from '../../src/server/app.js';
import { Readiness } from '../../src/server/readiness.js';
import type { IssuedCert, TestCA } from '../helpers/tls.js';
import { createTestCA } from '../helpers/tls.js';
import { httpsRequest, postReview } from './https-client.js';

const fixtureText = await readFile(new URL('../fixtures/admission-review.json', import.meta.url), 'utf8');
const fixture = JSON.parse(fixtureText) as AdmissionReviewRequest;
const config = defaultConfig('0.0.0-test');

function review(mutate: (r: AdmissionReviewRequest, pod: V1Pod) => void = () => undefined): AdmissionReviewRequest {
  const copy = structuredClone(fixture);
  mutate(copy, copy.request.object as V1Pod);
  return copy;
}

/** `envoy_xds_injector_admission_requests_total` by result, from the /metrics text. */
function requestCounts(metricsText: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of metricsText.matchAll(/^envoy_xds_injector_admission_requests_total\{result="(\w+)"\} (\d+)$/gm)) {
    counts[m[1] ?? ''] = Number(m[2]);
  }
  return counts;
}

let dir: string;
let ca: TestCA;
let serving: IssuedCert;
let app: WebhookApp;
let base: string;

function newApp(overrides: Partial<Parameters<typeof buildApp>[0]> = {}): { app: WebhookApp; readiness: Readiness } {
  const r = new Readiness();
  const a = buildApp({
    injectorConfig: config,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    readiness: r,
    https: { cert: serving.cert, key: serving.key, minVersion: 'TLSv1.2' },
    ...overrides,
  });
  return { app: a, readiness: r };
}

async function listen(a: WebhookApp): Promise<string> {
  await a.listen({ port: 0, host: '127.0.0.1' });
  const address = a.server.address();
  assert.ok(address !== null && typeof address === 'object');
  return `https://localhost:${String(address.port)}`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'exi-webhook-'));
  ca = await createTestCA(dir);
  serving = await ca.issue('webhook');
  let readiness: Readiness;
  ({ app, readiness } = newApp());
  base = await listen(app);
  readiness.markReady();
});

after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

async function mutate(body: unknown, headers?: Record<string, string>) {
  const res = await postReview(`${base}/mutate`, body, { ca: ca.cert, ...(headers ? { headers } : {}) });
  return { ...res, json: JSON.parse(res.body) as Record<string, unknown> };
}

async function admission(body: AdmissionReviewRequest): Promise<AdmissionReviewResponse> {
  const res = await mutate(body);
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return res.json as unknown as AdmissionReviewResponse;
}

describe('POST /mutate over HTTPS', () => {
  test('an opted-in Pod is injected: same apiVersion/kind, its uid, a JSONPatch equal to the rules\' result', async () => {
    const input = review((r) => { r.request.uid = 'e3b9a3a6-0c52-4b8e-8d0b-1f0f7f5c9a11'; });
    const answer = await admission(input);
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.uid, 'e3b9a3a6-0c52-4b8e-8d0b-1f0f7f5c9a11');
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const expected = injectPod(input.request.object as V1Pod, config);
    assert.equal(expected.decision, 'injected');
    const patched = jsonpatch.applyPatch(structuredClone(input.request.object), decodePatch(answer.response), true, false).newDocument;
    assert.deepEqual(patched, expected.pod);
  });

  test('a Pod without the annotation is allowed with no patch', async () => {
    const answer = await admission(review((_r, pod) => { delete pod.metadata?.annotations?.['envoy-xds-injector.io/inject']; }));
    assert.deepEqual(answer.response, { uid: fixture.request.uid, allowed: true });
  });

  test('a Pod that cannot be injected is denied with a 403 status naming the annotation', async () => {
    const answer = await admission(review((_r, pod) => {
      const annotations = pod.metadata?.annotations;
      assert.ok(annotations);
      annotations['envoy-xds-injector.io/configmap'] = 'Not_A_Name';
    }));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.status?.code, 403);
    assert.match(answer.response.status.message, /envoy-xds-injector\.io\/configmap "Not_A_Name"/);
    assert.equal(answer.response.patch, undefined);
  });

  test('dryRun gets the same answer as the real request', async () => {
    const real = await admission(review());
    const dry = await admission(review((r) => { r.request.dryRun = true; }));
    assert.deepEqual(dry, real);
  });

  test('an UPDATE is allowed untouched', async () => {
    const answer = await admission(review((r) => { r.request.operation = 'UPDATE'; r.request.oldObject = r.request.object; }));
    assert.deepEqual(answer.response, { uid: fixture.request.uid, allowed: true });
  });

  const badRequests: [string, string | Buffer, Record<string, string>, number, string][] = [
    ['malformed JSON', '{"apiVersion": ', { 'content-type': 'application/json' }, 400, 'INVALID_JSON'],
    ['an empty body', '', { 'content-type': 'application/json' }, 400, 'EMPTY_BODY'],
    ['JSON that is not a review', '{"hello":"world"}', { 'content-type': 'application/json' }, 400, 'INVALID_ADMISSION_REVIEW'],
    ['a JSON array', '[]', { 'content-type': 'application/json' }, 400, 'INVALID_ADMISSION_REVIEW'],
    ['a v1beta1 review', fixtureText.replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'), { 'content-type': 'application/json' }, 400, 'INVALID_ADMISSION_REVIEW'],
    ['a prototype-poisoning body', '{"__proto__": {"allowed": true}}', { 'content-type': 'application/json' }, 400, 'INVALID_JSON'],
    ['text/plain', fixtureText, { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['application/yaml', 'apiVersion: admission.k8s.io/v1', { 'content-type': 'application/yaml' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a body over 3 MiB', Buffer.alloc(3 * 1024 * 1024 + 1, 0x20), { 'content-type': 'application/json' }, 413, 'BODY_TOO_LARGE'],
  ];
  for (const [name, body, headers, status, code] of badRequests) {
    test(`${name} → ${String(status)} ${code} as JSON`, async () => {
      const res = await httpsRequest(`${base}/mutate`, { ca: ca.cert, method: 'POST', headers, body });
      assert.equal(res.status, status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const json = JSON.parse(res.body) as { statusCode: number; code: string; message: string };
      assert.equal(json.statusCode, status);
      assert.equal(json.code, code);
      assert.ok(json.message.length > 0);
    });
  }

  test('a validation error says what is wrong with the review', async () => {
    const res = await mutate(review((r) => { delete (r.request as Partial<typeof r.request>).uid; }));
    assert.equal(res.status, 400);
    assert.match(String(res.json.message), /uid/);
  });

  test('an unknown path is a JSON 404', async () => {
    const res = await httpsRequest(`${base}/validate`, { ca: ca.cert, method: 'POST' });
    assert.equal(res.status, 404);
    const body = JSON.parse(res.body) as { code: string; message: string };
    assert.equal(body.code, 'NOT_FOUND');
    // The routes it serves, as registered: no /validate-configmap without a ConfigMap checker.
    assert.equal(body.message, 'no such endpoint: the webhook serves POST /mutate, GET /healthz, GET /readyz, GET /metrics');
  });

  test('hostile input never takes the server down', async () => {
    const nested = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const hostile = [nested, 'null', '"x"', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}', '\u0000\u0001'];
    for (const body of hostile) {
      const res = await httpsRequest(`${base}/mutate`, { ca: ca.cert, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400, body.slice(0, 40));
    }
    assert.equal((await admission(review())).response.allowed, true);
  });
});

describe('TLS', () => {
  test('a client that does not trust the test CA is refused the connection', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpsRequestRaw(`${base}/healthz`, { agent: false }, resolve);
        req.on('error', reject);
        req.end();
      }),
      (err: NodeJS.ErrnoException) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || err.code === 'SELF_SIGNED_CERT_IN_CHAIN',
    );
  });

  test('TLS 1.1 is refused; the certificate served is the one the CA issued', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpsRequestRaw(
          `${base}/healthz`,
          { agent: false, ca: ca.cert, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
          resolve,
        );
        req.on('error', reject);
        req.end();
      }),
      (err: Error) => /alert protocol version/i.test(err.message),
    );
    const res = await httpsRequest(`${base}/healthz`, { ca: ca.cert });
    assert.equal(res.peerSerial, serving.serialNumber);
  });
});

describe('health, readiness and metrics', () => {
  test('/metrics counts reviews by result and exports the latency histogram', async () => {
    const before = requestCounts((await httpsRequest(`${base}/metrics`, { ca: ca.cert })).body);
    await admission(review());
    await admission(review((_r, pod) => { delete pod.metadata?.annotations?.['envoy-xds-injector.io/inject']; }));
    await admission(review((_r, pod) => { delete pod.metadata?.annotations?.['envoy-xds-injector.io/configmap']; }));
    await mutate('{broken');
    const res = await httpsRequest(`${base}/metrics`, { ca: ca.cert });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const now = requestCounts(res.body);
    for (const result of ['injected', 'skipped', 'denied', 'error']) {
      assert.equal((now[result] ?? 0) - (before[result] ?? 0), 1, `${result}: ${JSON.stringify({ before, now })}`);
    }
    assert.match(res.body, /^envoy_xds_injector_admission_duration_seconds_count\{result="injected"\} [1-9]/m);
    assert.match(res.body, /^envoy_xds_injector_admission_duration_seconds_bucket\{le="0\.005",result="injected"\} /m);
  });

  test('/healthz is ok; /readyz follows readiness and, once shutting down, responses ask to close the connection', async () => {
    const { app: own, readiness } = newApp();
    // Keep-alive, as the apiserver does: the point is the server asking to close.
    const agent = new Agent({ keepAlive: true, ca: ca.cert });
    try {
      const url = await listen(own);
      const starting = await httpsRequest(`${url}/readyz`, { ca: ca.cert });
      assert.deepEqual([starting.status, JSON.parse(starting.body)], [503, { status: 'starting' }]);
      readiness.markReady();
      const healthz = await httpsRequest(`${url}/healthz`, { ca: ca.cert });
      assert.deepEqual([healthz.status, JSON.parse(healthz.body)], [200, { status: 'ok' }]);
      const ready = await httpsRequest(`${url}/readyz`, { ca: ca.cert, agent });
      assert.equal(ready.status, 200);
      assert.equal(ready.headers.connection, 'keep-alive');

      readiness.markShuttingDown();
      const notReady = await httpsRequest(`${url}/readyz`, { ca: ca.cert });
      assert.deepEqual([notReady.status, JSON.parse(notReady.body)], [503, { status: 'shutting-down' }]);
      // Draining: keep-alive as before (a fresh connection could be reset when the listener closes).
      const stillServing = await postReview(`${url}/mutate`, fixture, { ca: ca.cert, agent });
      assert.equal(stillServing.status, 200);
      assert.equal(stillServing.headers.connection, 'keep-alive');
      // No longer listening: clients are asked to reconnect (elsewhere).
      readiness.markClosingConnections();
      const closing = await postReview(`${url}/mutate`, fixture, { ca: ca.cert, agent });
      assert.equal(closing.status, 200);
      assert.equal(closing.headers.connection, 'close');
      assert.equal((await httpsRequest(`${url}/healthz`, { ca: ca.cert })).status, 200);
    } finally {
      agent.destroy();
      await own.close();
    }
  });

  test('an injector bug becomes a 500 denial for the user and an error in the metrics', async () => {
    const { app: failing, readiness: r } = newApp({
      injectPod: () => {
        throw new Error('rules exploded');
      },
    });
    r.markReady();
    try {
      const res = await failing.inject({ method: 'POST', url: '/mutate', payload: fixture });
      assert.equal(res.statusCode, 200);
      const answer = res.json<AdmissionReviewResponse>();
      assert.equal(answer.response.allowed, false);
      assert.equal(answer.response.status?.code, 500);
      assert.match(answer.response.status.message, /rules exploded/);
      const metrics = await failing.inject({ url: '/metrics' });
      assert.equal(requestCounts(metrics.body).error, 1);
    } finally {
      await failing.close();
    }
  });
});
