// Builders for the AdmissionReview answer. The apiserver matches the answer to its call by uid and
// rejects a patch whose patchType is missing, so these are the only places such objects are made.
import type { Operation as JsonPatchOperation } from 'fast-json-patch';
import type { AdmissionResponse, AdmissionReviewResponse } from './review.js';
import { ADMISSION_API_VERSION, ADMISSION_REVIEW_KIND } from './review.js';

/**
 * Warnings travel to kubectl as HTTP `Warning` headers; the apiserver drops any containing control
 * characters. Fold newlines and tabs into spaces so a multi-line warning is still shown, not lost.
 */
export function sanitizeWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  for (const warning of warnings) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what we remove
    const clean = warning.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    if (clean !== '') out.push(clean);
  }
  return out;
}

function withWarnings(response: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  const clean = sanitizeWarnings(warnings);
  if (clean.length > 0) response.warnings = clean;
  return response;
}

/** Allow the request; attach the patch (base64 JSON, patchType JSONPatch) only when it changes something. */
export function allowResponse(
  uid: string,
  patch: readonly JsonPatchOperation[] = [],
  warnings: readonly string[] = [],
): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch), 'utf8').toString('base64');
  }
  return withWarnings(response, warnings);
}

/**
 * Reject the request. kube-apiserver shows users
 * `pods "NAME" is forbidden: admission webhook "WEBHOOK" denied the request: MESSAGE`
 * for a 403, and `Internal error occurred: admission webhook ...` for a 500.
 */
export function denyResponse(
  uid: string,
  message: string,
  warnings: readonly string[] = [],
  code: 403 | 500 = 403,
): AdmissionResponse {
  return withWarnings({ uid, allowed: false, status: { code, message } }, warnings);
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_REVIEW_KIND, response };
}

/** Decode a response's patch (tests, the offline CLI, debugging). */
export function decodePatch(response: AdmissionResponse): JsonPatchOperation[] {
  if (response.patch === undefined) return [];
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as JsonPatchOperation[];
}
