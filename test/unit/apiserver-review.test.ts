// The webhook on the AdmissionReview a real kube-apiserver v1.33 sent for a Deployment's Pod
// (test/fixtures/admission-review-apiserver.json, recorded by bench/capture-review.ts): what the
// hand-written fixture lacks (managedFields, creationTimestamp: null, status: {}, the real
// ServiceAccount token volume, userInfo.extra) must not keep the Pod from being injected, and the
// patch must leave the apiserver's own bookkeeping alone.
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../../src/admission/index.js';
import { decodePatch } from '../../src/admission/index.js';
import { defaultConfig } from '../../src/inject/index.js';
import type { WebhookApp } from '../../src/server/app.js';
import { buildApp } from '../../src/server/app.js';
import { Readiness } from '../../src/server/readiness.js';

const review = JSON.parse(
  await readFile(new URL('../fixtures/admission-review-apiserver.json', import.meta.url), 'utf8'),
) as AdmissionReviewRequest;
const capturedPod = review.request.object as V1Pod;

let app: WebhookApp;

before(async () => {
  const readiness = new Readiness();
  // app.inject never opens a socket, so the HTTPS server needs no certificate here.
  app = buildApp({ injectorConfig: defaultConfig('0.0.0-test'), logger: pino({ level: 'silent' }), registry: new Registry(), readiness, https: {} });
  readiness.markReady();
  await app.ready();
});

after(() => app.close());

async function mutate(): Promise<{ answer: AdmissionReviewResponse; patched: V1Pod }> {
  const res = await app.inject({ method: 'POST', url: '/mutate', payload: review });
  assert.equal(res.statusCode, 200, res.body);
  const answer = res.json<AdmissionReviewResponse>();
  const patch = decodePatch(answer.response);
  const patched = jsonpatch.applyPatch(structuredClone(capturedPod), patch, true, false).newDocument;
  return { answer, patched };
}

test('the captured review is the apiserver\'s: a replicaset-controller CREATE carrying managedFields', () => {
  assert.equal(review.request.operation, 'CREATE');
  assert.equal(review.request.userInfo?.username, 'system:serviceaccount:kube-system:replicaset-controller');
  assert.equal(capturedPod.metadata?.name, undefined, 'named by generateName after admission');
  assert.ok((capturedPod.metadata?.managedFields?.length ?? 0) > 0, 'metadata.managedFields');
  assert.deepEqual(capturedPod.spec?.containers.map((c) => c.env?.length), [25, 25, 25]);
});

test('the captured Pod is injected: copy and native watch init containers, status annotation, Envoy mount', async () => {
  const { answer, patched } = await mutate();
  assert.equal(answer.response.uid, review.request.uid);
  assert.equal(answer.response.allowed, true);
  assert.equal(answer.response.patchType, 'JSONPatch');

  const init = patched.spec?.initContainers ?? [];
  assert.deepEqual(init.map((c) => c.name), ['envoy-xds-copy', 'envoy-xds-watch']);
  assert.equal(init[1]?.restartPolicy, 'Always');
  // Envoy runs `-c /etc/envoy/bootstrap.yaml`: the watcher republishes the bootstrap file itself.
  assert.deepEqual(init[1].args?.slice(-2), ['--bootstrap', 'bootstrap.yaml']);
  assert.deepEqual(
    patched.spec?.volumes?.find((v) => v.name === 'envoy-xds-source')?.configMap,
    { name: 'checkout-envoy-xds' },
  );
  const envoy = patched.spec.containers.find((c) => c.name === 'envoy');
  assert.deepEqual(
    envoy?.volumeMounts?.find((m) => m.name === 'envoy-xds-config'),
    { name: 'envoy-xds-config', mountPath: '/etc/envoy', readOnly: true },
  );
  const status = patched.metadata?.annotations?.['envoy-xds-injector.io/status'];
  assert.ok(status !== undefined, 'status annotation');
  assert.equal(typeof JSON.parse(status), 'object');
});

test('the patch leaves the apiserver\'s managedFields, owner and ServiceAccount token volume as they were', async () => {
  const { answer, patched } = await mutate();
  assert.equal(answer.response.patchType, 'JSONPatch', 'a patch to check (an empty one would pass vacuously)');
  assert.deepEqual(patched.metadata?.managedFields, capturedPod.metadata?.managedFields);
  assert.deepEqual(patched.metadata?.ownerReferences, capturedPod.metadata?.ownerReferences);
  const tokenVolume = capturedPod.spec?.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
  assert.ok(tokenVolume !== undefined, 'the captured Pod has the ServiceAccount token volume');
  assert.deepEqual(patched.spec?.volumes?.find((v) => v.name === tokenVolume.name), tokenVolume);
  assert.deepEqual(patched.spec.containers.map((c) => c.env), capturedPod.spec?.containers.map((c) => c.env));
});
