// The ConfigMap check's answer to a review: deny with every error (file, line, path), allow with
// the warnings (kubectl prints them as "Warning: ..."). Pure: the check itself is passed in.
import type { FileCheck } from '../schema/check.js';
import type { ConfigMapCheckOptions, ConfigMapLike } from '../schema/configmap.js';
import { formatFinding } from '../schema/findings.js';
import { allowResponse, denyResponse, reviewResponse } from './response.js';
import type { AdmissionRequest, AdmissionReviewResponse } from './review.js';

export type ConfigMapDecision = 'allowed' | 'warned' | 'denied' | 'skipped' | 'error';

export interface ConfigMapOutcome {
  decision: ConfigMapDecision;
  errors: number;
  warnings: number;
  review: AdmissionReviewResponse;
}

/** Errors shown in a denial; the rest are counted ("... and N more"), so the message stays readable. */
export const MAX_LISTED = 20;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The label that opts a ConfigMap in (the ValidatingWebhookConfiguration's objectSelector). */
export const VALIDATE_LABEL = 'envoy-xds-injector.io/validate';

const optedIn = (object: unknown): boolean => isObject(object) && isObject(object.metadata) && isObject(object.metadata.labels) && object.metadata.labels[VALIDATE_LABEL] === 'true';

/**
 * The `data` keys an UPDATE leaves as they were, when the old object was opted in already: those
 * files are not checked again. A write is judged by what it changes, as Kubernetes ratchets its own
 * validation on update, and an edit of one file of many costs the check of that file only. A
 * CREATE, or an UPDATE that adds the label, checks every file.
 */
export function unchangedKeys(request: Pick<AdmissionRequest, 'operation' | 'object' | 'oldObject'>): string[] {
  const { object, oldObject } = request;
  if (request.operation !== 'UPDATE' || !optedIn(oldObject) || !isObject(object)) return [];
  const data = isObject(object.data) ? object.data : {};
  const oldData = isObject(oldObject) && isObject(oldObject.data) ? oldObject.data : {};
  return Object.keys(data).filter((key) => typeof data[key] === 'string' && data[key] === oldData[key]);
}

/**
 * Answers a ConfigMap CREATE/UPDATE review with `check`'s findings on the files it adds or
 * changes (unchangedKeys). Anything else is allowed
 * untouched. A check that throws allows the write (the check is advice before Envoy's verdict,
 * never a reason to block ConfigMap writes) with a warning saying it did not run.
 */
export async function admitConfigMap(request: AdmissionRequest, check: (configMap: ConfigMapLike, options: ConfigMapCheckOptions) => Promise<FileCheck[]>): Promise<ConfigMapOutcome> {
  const { uid } = request;
  const object = request.object;
  if (request.resource.resource !== 'configmaps' || (request.operation !== 'CREATE' && request.operation !== 'UPDATE') || !isObject(object)) {
    return { decision: 'skipped', errors: 0, warnings: 0, review: reviewResponse(allowResponse(uid)) };
  }
  const configMap = object as ConfigMapLike;
  // A ConfigMap created with generateName has its name only after admission.
  const named: ConfigMapLike = { ...configMap, metadata: { ...configMap.metadata, name: configMap.metadata?.name ?? request.name, namespace: configMap.metadata?.namespace ?? request.namespace } };
  let checks: FileCheck[];
  try {
    checks = await check(named, { unchanged: unchangedKeys(request) });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { decision: 'error', errors: 0, warnings: 1, review: reviewResponse(allowResponse(uid, [], [`envoy-xds-injector: the Envoy schema check did not run (${detail}); the ConfigMap was not checked`])) };
  }
  const findings = checks.flatMap((c) => c.findings);
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning').map((f) => formatFinding(f));
  if (errors.length === 0) {
    return { decision: warnings.length > 0 ? 'warned' : 'allowed', errors: 0, warnings: warnings.length, review: reviewResponse(allowResponse(uid, [], warnings)) };
  }
  const listed = errors.slice(0, MAX_LISTED).map((f) => formatFinding(f));
  const more = errors.length > MAX_LISTED ? `; and ${errors.length - MAX_LISTED} more` : '';
  const message = `Envoy would refuse this ConfigMap (${errors.length} error(s)): ${listed.join('; ')}${more}`;
  return { decision: 'denied', errors: errors.length, warnings: warnings.length, review: reviewResponse(denyResponse(uid, message, warnings)) };
}
