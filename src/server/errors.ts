// The HTTP errors the webhook answers with, as a table of stable codes (fastify's error-code style):
// clients and dashboards can match on `code` while `message` stays free to improve.

/**
 * Largest request body we read. The apiserver itself refuses request bodies over 3 MiB and etcd
 * stores at most ~1.5 MiB per object, so a genuine review of a Pod CREATE is always below it.
 */
export const MAX_REVIEW_BYTES = 3 * 1024 * 1024;

export interface HttpErrorBody {
  statusCode: number;
  code: WebhookErrorCode;
  error: string;
  message: string;
}

export const webhookErrors = {
  INVALID_JSON: { statusCode: 400, message: 'the request body is not valid JSON' },
  EMPTY_BODY: { statusCode: 400, message: 'the request body is empty; send an admission.k8s.io/v1 AdmissionReview' },
  INVALID_ADMISSION_REVIEW: { statusCode: 400, message: 'the request body is not an admission.k8s.io/v1 AdmissionReview' },
  INVALID_CONTENT_LENGTH: { statusCode: 400, message: 'the Content-Length header does not match the body' },
  BAD_REQUEST: { statusCode: 400, message: 'bad request' },
  NOT_FOUND: { statusCode: 404, message: 'no such endpoint' },
  BODY_TOO_LARGE: { statusCode: 413, message: 'the request body is larger than the 3 MiB limit' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, message: 'Content-Type must be application/json' },
  INTERNAL: { statusCode: 500, message: 'internal error; see the webhook log' },
} as const;

export type WebhookErrorCode = keyof typeof webhookErrors;

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
};

/** fastify's own error codes → ours. Anything unlisted keeps its 4xx as BAD_REQUEST or becomes INTERNAL. */
const fromFastify: Record<string, WebhookErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_BODY',
  FST_ERR_VALIDATION: 'INVALID_ADMISSION_REVIEW',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

export function errorBody(code: WebhookErrorCode, detail?: string): HttpErrorBody {
  const { statusCode, message } = webhookErrors[code];
  return {
    statusCode,
    code,
    error: reasonPhrases[statusCode] ?? 'Error',
    message: detail === undefined ? message : `${message}: ${detail}`,
  };
}

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/** Map whatever fastify or a handler threw to our table. Validation errors keep ajv's detail. */
export function classifyError(err: unknown): HttpErrorBody {
  const e: ErrorLike = typeof err === 'object' && err !== null ? err : {};
  const fastifyCode = typeof e.code === 'string' ? e.code : undefined;
  const mapped = fastifyCode === undefined ? undefined : fromFastify[fastifyCode];
  if (mapped === 'INVALID_ADMISSION_REVIEW' && typeof e.message === 'string') {
    return errorBody(mapped, e.message);
  }
  if (mapped !== undefined) return errorBody(mapped);
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { ...errorBody('BAD_REQUEST', typeof e.message === 'string' ? e.message : undefined), statusCode: status };
  }
  return errorBody('INTERNAL');
}
