// The AdmissionReview envelope: schema, the pure decision over a review and the response builders.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { Ajv } from 'ajv';
import jsonpatch from 'fast-json-patch';
import type { AdmissionReviewRequest } from '../../src/admission/index.js';
import {
  admissionReviewSchema,
  admit,
  allowResponse,
  decodePatch,
  denyResponse,
  podDisplayName,
  sanitizeWarnings,
} from '../../src/admission/index.js';
import type { InjectResult } from '../../src/inject/index.js';
import { defaultConfig, injectPod } from '../../src/inject/index.js';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/admission-review.json', import.meta.url), 'utf8'),
) as AdmissionReviewRequest;

function review(mutate: (r: AdmissionReviewRequest) => void = () => undefined): AdmissionReviewRequest {
  const copy = structuredClone(fixture);
  mutate(copy);
  return copy;
}

function pod(r: AdmissionReviewRequest): V1Pod {
  return r.request.object as V1Pod;
}

const config = defaultConfig('9.9.9');
const realInjector = (p: V1Pod): InjectResult => injectPod(p, config);

describe('admissionReviewSchema', () => {
  // Strict like fastify's compiler would be; coercion off as in buildApp.
  const validate = new Ajv({ strict: true, allowUnionTypes: true }).compile(admissionReviewSchema);

  test('accepts the shipped sample review and a DELETE with a null object', () => {
    assert.equal(validate(fixture), true, JSON.stringify(validate.errors));
    const del = review((r) => {
      r.request.operation = 'DELETE';
      r.request.oldObject = r.request.object;
      r.request.object = null;
    });
    assert.equal(validate(del), true, JSON.stringify(validate.errors));
  });

  const invalid: [string, (r: Record<string, unknown> & { request: Record<string, unknown> }) => void][] = [
    ['v1beta1 envelope', (r) => { r.apiVersion = 'admission.k8s.io/v1beta1'; }],
    ['wrong kind', (r) => { r.kind = 'ConversionReview'; }],
    ['no request', (r) => { delete (r as Partial<typeof r>).request; }],
    ['no uid', (r) => { delete r.request.uid; }],
    ['empty uid', (r) => { r.request.uid = ''; }],
    ['numeric uid', (r) => { r.request.uid = 42; }],
    ['unknown operation', (r) => { r.request.operation = 'PATCH'; }],
    ['Pod CREATE without object', (r) => { delete r.request.object; }],
    ['Pod CREATE with a null object', (r) => { r.request.object = null; }],
    ['dryRun as a string', (r) => { r.request.dryRun = 'true'; }],
  ];
  for (const [name, mutate] of invalid) {
    test(`rejects ${name}`, () => {
      const bad = structuredClone(fixture) as unknown as Record<string, unknown> & { request: Record<string, unknown> };
      mutate(bad);
      assert.equal(validate(bad), false);
    });
  }
});

describe('admit', () => {
  test('injects an opted-in Pod CREATE: allowed, JSONPatch that produces the injected Pod, uid echoed', () => {
    const input = review();
    const expected = injectPod(pod(input), config);
    assert.equal(expected.decision, 'injected');

    const outcome = admit(input, realInjector);
    assert.equal(outcome.decision, 'injected');
    const { apiVersion, kind, response } = outcome.review;
    assert.equal(apiVersion, 'admission.k8s.io/v1');
    assert.equal(kind, 'AdmissionReview');
    assert.equal(response.uid, input.request.uid);
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    assert.equal(response.status, undefined);
    const patch = decodePatch(response);
    assert.equal(outcome.patchOperations, patch.length);
    const patched = jsonpatch.applyPatch(structuredClone(pod(input)), patch, true, false).newDocument;
    assert.deepEqual(patched, expected.pod);
  });

  test('re-invocation on the injected Pod is allowed without a patch', () => {
    const first = injectPod(pod(review()), config);
    assert.equal(first.decision, 'injected');
    const again = admit(review((r) => { r.request.object = first.pod; }), realInjector);
    assert.equal(again.decision, 'skipped');
    assert.equal(again.review.response.allowed, true);
    assert.equal(again.review.response.patch, undefined);
    assert.equal(again.review.response.patchType, undefined);
  });

  test('a Pod without the opt-in annotation is allowed untouched', () => {
    const outcome = admit(
      review((r) => { delete pod(r).metadata?.annotations?.['envoy-xds-injector.io/inject']; }),
      realInjector,
    );
    assert.equal(outcome.decision, 'skipped');
    assert.deepEqual(outcome.review.response, { uid: fixture.request.uid, allowed: true });
  });

  test('a denial is allowed:false with code 403 and the injector message, plus its warnings', () => {
    const outcome = admit(
      review((r) => { delete pod(r).metadata?.annotations?.['envoy-xds-injector.io/configmap']; }),
      realInjector,
    );
    assert.equal(outcome.decision, 'denied');
    const { response } = outcome.review;
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.match(response.status.message, /envoy-xds-injector\.io\/configmap/);
    assert.equal(response.patch, undefined);

    const withWarning = admit(review(), () => ({ decision: 'denied', message: 'no', warnings: ['look here'] }));
    assert.deepEqual(withWarning.review.response.warnings, ['look here']);
  });

  test('non-Pod, non-CREATE and subresource requests are allowed without calling the injector', () => {
    const throwing = (): InjectResult => {
      throw new Error('must not be called');
    };
    const cases: ((r: AdmissionReviewRequest) => void)[] = [
      (r) => { r.request.operation = 'UPDATE'; },
      (r) => { r.request.operation = 'DELETE'; r.request.object = null; },
      (r) => { r.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' }; r.request.resource = { group: 'apps', version: 'v1', resource: 'deployments' }; },
      (r) => { r.request.subResource = 'ephemeralcontainers'; },
    ];
    for (const mutate of cases) {
      const outcome = admit(review(mutate), throwing);
      assert.equal(outcome.decision, 'skipped', outcome.reason);
      assert.deepEqual(outcome.review.response, { uid: fixture.request.uid, allowed: true });
    }
  });

  test('dryRun gets exactly the answer of the real request', () => {
    const real = admit(review(), realInjector);
    const dry = admit(review((r) => { r.request.dryRun = true; }), realInjector);
    assert.deepEqual(dry.review, real.review);
  });

  test('an injector that throws becomes a 500 denial naming the uid, never an exception', () => {
    const outcome = admit(review(), () => {
      throw new TypeError('boom');
    });
    assert.equal(outcome.decision, 'error');
    assert.equal(outcome.review.response.allowed, false);
    assert.equal(outcome.review.response.status?.code, 500);
    assert.match(outcome.review.response.status.message, new RegExp(`${fixture.request.uid}.*boom`));
  });

  test('an injected result with an empty patch is answered as a skip without patchType', () => {
    const outcome = admit(review(), (p) => ({ decision: 'injected', pod: p, patch: [], warnings: [] }));
    assert.equal(outcome.decision, 'skipped');
    assert.equal(outcome.review.response.patchType, undefined);
  });

  test('podDisplayName prefers the name, then metadata.name, then generateName', () => {
    assert.equal(podDisplayName(fixture.request), 'checkout-7d9f8b6c5-');
    assert.equal(podDisplayName({ ...fixture.request, name: 'web-0' }), 'web-0');
    assert.equal(podDisplayName({ ...fixture.request, object: { metadata: { name: 'x', generateName: 'y-' } } }), 'x');
    assert.equal(podDisplayName({ ...fixture.request, object: null }), undefined);
  });
});

describe('response builders', () => {
  test('allowResponse adds patch and patchType only for a non-empty patch', () => {
    assert.deepEqual(allowResponse('u'), { uid: 'u', allowed: true });
    const ops = [{ op: 'add' as const, path: '/metadata/annotations/a~1b', value: 'c' }];
    const withPatch = allowResponse('u', ops);
    assert.equal(withPatch.patchType, 'JSONPatch');
    assert.equal(Buffer.from(withPatch.patch ?? '', 'base64').toString('utf8'), JSON.stringify(ops));
    assert.deepEqual(decodePatch(withPatch), ops);
  });

  test('denyResponse carries code and message', () => {
    assert.deepEqual(denyResponse('u', 'why'), { uid: 'u', allowed: false, status: { code: 403, message: 'why' } });
  });

  test('warnings lose control characters (the apiserver drops such headers) but not their text', () => {
    assert.deepEqual(sanitizeWarnings(['line one\nline two', '\t', 'ok']), ['line one line two', 'ok']);
    assert.deepEqual(allowResponse('u', [], ['a\r\nb']).warnings, ['a b']);
  });
});
