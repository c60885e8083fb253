// The AdmissionReview admission.k8s.io/v1 envelope: the types we read and write, and the JSON schema
// the HTTP route validates bodies against. Field names follow k8s.io/api/admission/v1.

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_REVIEW_KIND = 'AdmissionReview';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  /** Echoed back so the apiserver can match the answer to its call. */
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty for a Pod created with generateName (the name is assigned after admission). */
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

export interface AdmissionReviewRequest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_REVIEW_KIND;
  request: AdmissionRequest;
}

/** metav1.Status as far as a webhook fills it in; the apiserver completes the rest. */
export interface AdmissionStatus {
  code: number;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  /** base64 of an RFC 6902 JSON Patch; present only together with patchType. */
  patch?: string;
  patchType?: 'JSONPatch';
  /** Shown to the user by kubectl as "Warning: ..." lines. */
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_REVIEW_KIND;
  response: AdmissionResponse;
}

const groupVersionKind = {
  type: 'object',
  required: ['group', 'version', 'kind'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
} as const;

const groupVersionResource = {
  type: 'object',
  required: ['group', 'version', 'resource'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, resource: { type: 'string' } },
} as const;

/**
 * JSON schema of an AdmissionReview request. Strict on the envelope fields we rely on, open
 * (additional properties allowed) everywhere else so newer apiservers that add fields still work.
 * The object itself is only required to be a JSON object: its shape is the injector's business.
 */
export const admissionReviewSchema = {
  $id: 'envoy-xds-injector/AdmissionReview',
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: ADMISSION_REVIEW_KIND },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'resource', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 128 },
        kind: groupVersionKind,
        resource: groupVersionResource,
        subResource: { type: 'string' },
        requestKind: groupVersionKind,
        requestResource: groupVersionResource,
        requestSubResource: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: { type: 'object' },
        // null is what the apiserver sends for "no object" (e.g. DELETE); a Pod CREATE is checked
        // for a real object in admit().
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
        options: { type: ['object', 'null'] },
      },
      // A Pod CREATE without a Pod object is not something we can answer meaningfully.
      if: {
        required: ['operation', 'resource'],
        properties: { operation: { const: 'CREATE' }, resource: { type: 'object', properties: { resource: { const: 'pods' } } } },
      },
      then: { required: ['object'], properties: { object: { type: 'object' } } },
    },
  },
} as const;

/**
 * JSON schema of our answer, for the route's serializer (fast-json-stringify): the answer is
 * written field by field instead of walked by JSON.stringify, and a missing uid or allowed fails
 * loudly instead of reaching the apiserver. Fields not listed here are never sent.
 */
export const admissionReviewResponseSchema = {
  $id: 'envoy-xds-injector/AdmissionReviewResponse',
  type: 'object',
  required: ['apiVersion', 'kind', 'response'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      required: ['uid', 'allowed'],
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'integer' }, message: { type: 'string' } },
        },
        // base64 (Buffer#toString('base64')): nothing in it needs JSON escaping, so the
        // serializer copies the ~4 KiB string as is instead of scanning it for characters to escape.
        patch: { type: 'string', format: 'unsafe' },
        patchType: { type: 'string' },
        warnings: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;
