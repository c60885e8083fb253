// Why the Kubernetes API cannot be used right now, said once per cause, with what fixes it.
// An outage often changes cause on the way (a reset, then the 403 of a Role removed meanwhile, then
// a 401 of a re-created ServiceAccount, then 429s while the apiserver catches up): the line that
// matters is the cause that persists, so each new cause of an outage is said once, at warning
// level, and nothing is repeated while it persists. Pure.
import { statusOf, type ApiResponse } from './connection.js';
import { rbacCommandLine } from './rbac-hint.js';
import { retryAfterMs } from './retry-backoff.js';

export type ApiProblemKind = 'forbidden' | 'unauthorized' | 'throttled' | 'server-error' | 'unreachable' | 'error';

export interface ApiProblem {
  kind: ApiProblemKind;
  /** What failed: the list, the watch, or the periodic check of the watch. */
  verb: 'list' | 'watch' | 'check';
  /** The HTTP status; absent when no answer came. */
  status?: number;
  message: string;
  /** The server's Retry-After, milliseconds (429, 503). */
  retryAfterMs?: number;
}

/** The problem an HTTP status (or no answer: status 0) means. */
export function problemOf(verb: ApiProblem['verb'], status: number, message: string, retryAfterMs?: number): ApiProblem {
  const kind: ApiProblemKind = status === 0 ? 'unreachable'
    : status === 401 ? 'unauthorized'
      : status === 403 ? 'forbidden'
        : status === 429 ? 'throttled'
          : status >= 500 ? 'server-error'
            : 'error';
  return { kind, verb, ...(status === 0 ? {} : { status }), message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** A list, watch or check answered with an HTTP status (0: no answer). */
export class ApiHttpError extends Error {
  override name = 'ApiHttpError';
  /** `cause`: the network error of a request that got no answer (watch-retry.ts reads its code). */
  constructor(readonly verb: ApiProblem['verb'], readonly status: number, message: string, readonly retryAfterMs?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The error for a response that is not the expected one: its Status message and Retry-After. */
export function apiHttpError(verb: ApiProblem['verb'], res: ApiResponse): ApiHttpError {
  return new ApiHttpError(verb, res.status, statusOf(res.body).message ?? res.text.slice(0, 300), retryAfterMs(res.headers?.['retry-after'], Date.now()));
}

/** What a watch reports (watch-stream.ts: an Error with `statusCode` and `retryAfter` for a non-200 answer, or a network error, kept as the cause). */
export function watchError(err: unknown): ApiHttpError {
  const { statusCode: status, retryAfter } = err as { statusCode?: number; retryAfter?: string | string[] };
  if (typeof status === 'number') return new ApiHttpError('watch', status, (err as Error).message, retryAfterMs(retryAfter, Date.now()));
  return new ApiHttpError('watch', 0, `watch: ${(err as Error).message}`, undefined, err);
}

export function problemOfError(err: unknown): ApiProblem {
  if (err instanceof ApiHttpError) return problemOf(err.verb, err.status, err.message, err.retryAfterMs);
  return problemOf('list', 0, err instanceof Error ? err.message : String(err));
}

/** Problems with the same cause are said once per outage: the kind, and the status where kinds group several. */
export function causeOf(problem: ApiProblem): string {
  return problem.kind === 'server-error' || problem.kind === 'error' ? `${problem.kind}:${String(problem.status ?? 0)}` : problem.kind;
}

/** Remembers the causes said during the current outage. */
export class CauseLog {
  private readonly said = new Set<string>();
  /** true the first time this cause is seen since the last recovery. */
  first(problem: ApiProblem): boolean {
    const cause = causeOf(problem);
    if (this.said.has(cause)) return false;
    this.said.add(cause);
    return true;
  }
  recovered(): void {
    this.said.clear();
  }
}

export interface ExplainContext {
  namespace: string;
  configMap: string;
  /** The Pod's ServiceAccount, when known (the 403 message names it too). */
  serviceAccount?: string | undefined;
  /** Where the credentials come from, e.g. `ServiceAccount token /var/run/...`. */
  credentials: string;
  /** How the reader runs the CLI for the fix (rbac-hint.ts: cliThroughPod); default `envoy-xds-injector`. */
  cli?: string | undefined;
}

const FALLBACK = 'following the ConfigMap volume instead (changes arrive at the kubelet\'s sync, up to about a minute); retrying the API with backoff';
// The apiserver authenticates and authorizes a request when it starts: a watch opened before a token
// or a Role went bad keeps delivering, while every new request (the check, the next list) is refused.
const WATCH_GOES_ON = 'the open watch goes on delivering changes (the apiserver checks a watch\'s credentials only when it starts); the next list meets this answer at the latest when the watch ends (within 10 min), and the ConfigMap volume is followed then';

/**
 * One line: what failed, what the watcher does meanwhile, and what fixes it. `watchOpen`: the
 * refusal answered the periodic check while the watch is open and still delivering (not an outage yet).
 */
export function explainProblem(problem: ApiProblem, ctx: ExplainContext, watchOpen = false): string {
  const { namespace, configMap } = ctx;
  const verb = problem.verb === 'check' ? 'list' : problem.verb; // the check is a list by name
  const what = `${verb} configmaps "${configMap}"`;
  const meanwhile = watchOpen ? WATCH_GOES_ON : FALLBACK;
  switch (problem.kind) {
    case 'forbidden': {
      const sa = serviceAccountOf(problem.message) ?? ctx.serviceAccount ?? 'SERVICE_ACCOUNT';
      return `Kubernetes API forbids ${verb} on configmaps "${configMap}" in namespace ${namespace} (${problem.message}): ${meanwhile}. Fix: ${rbacCommandLine(namespace, sa, configMap, ctx.cli)}`;
    }
    case 'unauthorized':
      return `Kubernetes API refused the ServiceAccount token (401 on ${what}: ${problem.message}): ${meanwhile}. Fix: the token (${ctx.credentials}) is read again after each 401; if this persists, the ServiceAccount was deleted or re-created, or the token expired: delete the Pod so that it gets a new token`;
    case 'throttled': {
      const after = problem.retryAfterMs === undefined ? '' : `, Retry-After ${String(Math.round(problem.retryAfterMs / 1000))} s`;
      return `Kubernetes API throttles this client (429 Too Many Requests on ${what}${after}: ${problem.message}): ${meanwhile}${watchOpen ? '' : ', never sooner than Retry-After'}. Fix: the apiserver is overloaded or its API Priority and Fairness limits this ServiceAccount (kubectl get flowschemas,prioritylevelconfigurations)`;
    }
    case 'server-error':
      return `Kubernetes API failed (${String(problem.status ?? 0)} on ${what}: ${problem.message}): ${meanwhile}. Fix: the apiserver's log says why (etcd, a webhook, overload)`;
    case 'error':
      return `Kubernetes API answered ${String(problem.status ?? 0)} on ${what} (${problem.message}): ${meanwhile}`;
    case 'unreachable':
      return `Kubernetes API unreachable (${what}: ${problem.message}): ${meanwhile}`;
  }
}

/** `User "system:serviceaccount:NS:SA" cannot ...` in an apiserver 403 message. */
function serviceAccountOf(message: string): string | undefined {
  return /system:serviceaccount:[^:"]+:([^"\s]+)/.exec(message)?.[1];
}
