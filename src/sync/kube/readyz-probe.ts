// The GET /readyz a ConfigMapWatch asks before a list after a start or a failure (readiness.ts has
// the rule; this is its one request). A restarted apiserver answers 403 before its RBAC authorizer
// has synced and /readyz 500 while post-start hooks run: a list then is wasted.
import type { Logger } from 'pino';
import { statusOf } from './connection.js';
import type { KubeConnection } from './connection.js';
import { readyzSummary } from './readiness.js';
import type { Readiness, ReadinessGate } from './readiness.js';
import { retryAfterMs } from './retry-backoff.js';
import type { RetryBackoff } from './retry-backoff.js';

export type ReadyzVerdict = { list: true; readiness: Readiness } | { list: false; retryInMs: number };

export interface ReadyzProbe {
  connection: KubeConnection;
  /** How long /readyz may go unanswered (ms; --api-timeout). */
  timeoutMs: number;
  gate: ReadinessGate;
  backoff: RetryBackoff;
  /** Milliseconds on a monotonic clock. */
  now: () => number;
  logger: Logger;
  /** The longest a not-ready apiserver holds the list back (ms; said in the log line). */
  holdAtMostMs: number;
}

/**
 * GET /readyz within `timeoutMs`: list now, or wait `retryInMs` (as while the apiserver was down)
 * and ask again. Throws (ApiUnreachableError from the connection) when nothing answers; the pooled
 * connections are then ended too, as after an unanswered check.
 */
export async function probeReadyz(probe: ReadyzProbe): Promise<ReadyzVerdict> {
  const { connection, gate, backoff, logger } = probe;
  let res;
  try {
    res = await connection.request('GET', '/readyz', undefined, undefined, probe.timeoutMs);
  } catch (err) {
    connection.resetConnections?.();
    throw err;
  }
  const now = probe.now();
  const verdict = gate.answered(res.status, now);
  if (verdict.list) return verdict;
  const retryInMs = backoff.failure(now, retryAfterMs(res.headers?.['retry-after'], Date.now()), 'down');
  const fields = { readyz: readyzSummary(res.status, res.text, statusOf(res.body).message), retryInMs: Math.round(retryInMs) };
  if (verdict.first) logger.info({ ...fields, holdAtMostMs: probe.holdAtMostMs }, 'the apiserver is not ready yet (/readyz): listing once it is');
  else logger.debug(fields, 'the apiserver is not ready yet (/readyz)');
  return { list: false, retryInMs };
}
