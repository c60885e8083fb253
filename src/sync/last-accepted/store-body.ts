// The last-accepted store's ConfigMap as the writer (writer.ts) reads and writes it, pure: the body
// of a new store, whether a ConfigMap of that name is the injector's store for this ConfigMap, its
// record read (or started afresh when it does not parse), and what an API status means for a write.
import { LAST_ACCEPTED_RECORD_KEY, LAST_ACCEPTED_SOURCE_ANNOTATION, MANAGED_BY_LABELS } from '../../inject/last-accepted.js';
import { parseRecord, type LastAcceptedRecord } from './record.js';

const MANAGED_BY = 'app.kubernetes.io/managed-by';

export interface ConfigMapBody {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** The store `name` in `namespace` for the source ConfigMap `configMap`, with no data yet. */
export function newStoreBody(name: string, namespace: string, configMap: string): ConfigMapBody {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { ...MANAGED_BY_LABELS }, annotations: { [LAST_ACCEPTED_SOURCE_ANNOTATION]: configMap } },
  };
}

/**
 * Why a ConfigMap named as the store is not the injector's store for `configMap` (not labelled
 * managed-by the injector, or annotated for another source ConfigMap), in words for the log; undefined when it is.
 */
export function notOurs(body: ConfigMapBody, configMap: string): string | undefined {
  const owner = body.metadata.annotations?.[LAST_ACCEPTED_SOURCE_ANNOTATION];
  if (body.metadata.labels?.[MANAGED_BY] === MANAGED_BY_LABELS[MANAGED_BY] && (owner === undefined || owner === configMap)) return undefined;
  return `label ${MANAGED_BY}=envoy-xds-injector${owner === undefined ? '' : `, annotation ${LAST_ACCEPTED_SOURCE_ANNOTATION}=${owner}`}`;
}

/** The record the store holds: none yet (`absent`), as parsed, or started afresh when it does not parse (`error` says why). */
export function recordOf(body: ConfigMapBody, configMap: string): { record: LastAcceptedRecord; absent: boolean; error?: string } {
  const text = body.data?.[LAST_ACCEPTED_RECORD_KEY];
  if (text === undefined) return { record: { configMap, files: {} }, absent: true };
  try {
    return { record: parseRecord(text), absent: false };
  } catch (err) {
    return { record: { configMap, files: {} }, absent: false, error: (err as Error).message };
  }
}

/**
 * What an API status says of a write: `written` (2xx), `forbidden` (403: the Role lacks it; retried
 * after a long wait), `invalid` (422, 413: the store refuses the content; not retried), else `retry`.
 */
export function writeStatus(status: number): 'written' | 'forbidden' | 'invalid' | 'retry' {
  if (status >= 200 && status < 300) return 'written';
  if (status === 403) return 'forbidden';
  if (status === 422 || status === 413) return 'invalid';
  return 'retry';
}
