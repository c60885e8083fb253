// The pure decision over one AdmissionReview (the "agent" of vault-k8s's agent-inject split): the
// HTTP handler hands it a validated review and an injector, and sends back what it returns.
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectResult } from '../inject/index.js';
import { isObject } from '../inject/json.js';
import type { AdmissionRequest, AdmissionReviewRequest, AdmissionReviewResponse } from './review.js';
import { allowResponse, denyResponse, reviewResponse } from './response.js';

export type AdmissionDecision = 'injected' | 'skipped' | 'denied' | 'error';

export interface AdmissionOutcome {
  decision: AdmissionDecision;
  /** Why, in words for the log: the skip reason, the denial message or the internal error. */
  reason: string;
  /** Number of JSON Patch operations sent back (0 unless injected). */
  patchOperations: number;
  review: AdmissionReviewResponse;
}

export type PodInjector = (pod: V1Pod) => InjectResult;

/** Only `pods` itself: subresources such as pods/ephemeralcontainers or pods/binding are not Pods being created. */
export function isPodCreate(request: AdmissionRequest): boolean {
  return (
    request.operation === 'CREATE' &&
    request.kind.group === '' &&
    request.kind.kind === 'Pod' &&
    request.resource.resource === 'pods' &&
    (request.subResource ?? '') === ''
  );
}

/** What to call the Pod in logs: its name, or its generateName prefix (ReplicaSet-made Pods have no name yet). */
export function podDisplayName(request: AdmissionRequest): string | undefined {
  if (request.name !== undefined && request.name !== '') return request.name;
  const metadata = isObject(request.object) ? request.object.metadata : undefined;
  if (!isObject(metadata)) return undefined;
  if (typeof metadata.name === 'string' && metadata.name !== '') return metadata.name;
  if (typeof metadata.generateName === 'string' && metadata.generateName !== '') return metadata.generateName;
  return undefined;
}

/**
 * Answer one review. Everything but a Pod CREATE is allowed untouched; a Pod CREATE goes to the
 * injector. dryRun requests get the same answer: injection has no side effects. Never throws: an
 * injector bug becomes a 500 denial naming the uid, so the failure is visible to the user.
 */
export function admit(review: AdmissionReviewRequest, inject: PodInjector): AdmissionOutcome {
  const { request } = review;
  const { uid } = request;
  if (!isPodCreate(request)) {
    const what = `${request.operation} ${request.resource.resource}${request.subResource ? `/${request.subResource}` : ''}`;
    return {
      decision: 'skipped',
      reason: `not a Pod CREATE (${what})`,
      patchOperations: 0,
      review: reviewResponse(allowResponse(uid)),
    };
  }
  if (!isObject(request.object)) {
    // The route's schema already refuses this; kept so admit() is total on its own.
    return {
      decision: 'error',
      reason: 'Pod CREATE review without a Pod object',
      patchOperations: 0,
      review: reviewResponse(denyResponse(uid, 'envoy-xds-injector: the AdmissionReview carries no Pod object', [], 500)),
    };
  }

  let result: InjectResult;
  try {
    result = inject(request.object);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return {
      decision: 'error',
      reason: `injector failed: ${detail}`,
      patchOperations: 0,
      review: reviewResponse(
        denyResponse(uid, `envoy-xds-injector internal error (request uid ${uid}): ${detail}`, [], 500),
      ),
    };
  }

  switch (result.decision) {
    case 'skipped':
      return {
        decision: 'skipped',
        reason: result.reason,
        patchOperations: 0,
        review: reviewResponse(allowResponse(uid, [], result.warnings)),
      };
    case 'injected':
      return {
        decision: result.patch.length > 0 ? 'injected' : 'skipped',
        reason: result.patch.length > 0 ? 'injected' : 'injection changed nothing',
        patchOperations: result.patch.length,
        review: reviewResponse(allowResponse(uid, result.patch, result.warnings)),
      };
    case 'denied':
      return {
        decision: 'denied',
        reason: result.message,
        patchOperations: 0,
        review: reviewResponse(denyResponse(uid, result.message, result.warnings)),
      };
  }
}
