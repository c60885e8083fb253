// The last-accepted ConfigMap (`source: api`): watchers keep there, per file, the content Envoy last
// accepted and the content it last refused; `copy` reads it through an optional ConfigMap volume so
// a new Pod starts Envoy from what Envoy accepted, not from a ConfigMap edit Envoy refused. One
// place for its name, so the injector, `rbac` and the watcher agree.
import { createHash } from 'node:crypto';

/** Suffix of the last-accepted ConfigMap's name: `<configmap>-envoy-xds-accepted`. */
export const LAST_ACCEPTED_SUFFIX = '-envoy-xds-accepted';

/** Data key of the record (JSON, see src/sync/last-accepted/record.ts); every other key is a file. */
export const LAST_ACCEPTED_RECORD_KEY = 'envoy-xds-injector.record.json';

/** On everything `rbac` prints, and what the watcher requires before writing the last-accepted ConfigMap. */
export const MANAGED_BY_LABELS = { 'app.kubernetes.io/managed-by': 'envoy-xds-injector' } as const;

/** On the last-accepted ConfigMap: the ConfigMap it keeps verdicts for. */
export const LAST_ACCEPTED_SOURCE_ANNOTATION = 'envoy-xds-injector.io/configmap';

/** Longest object name the apiserver takes (a DNS-1123 subdomain). */
const MAX_NAME = 253;

/**
 * `<configMap>-envoy-xds-accepted`; when that would exceed 253 characters, the ConfigMap's name is
 * cut and an 8-hex sha256 of the whole name added, so two long names never share a store.
 */
export function lastAcceptedConfigMapName(configMap: string): string {
  const whole = `${configMap}${LAST_ACCEPTED_SUFFIX}`;
  if (whole.length <= MAX_NAME) return whole;
  const hash = createHash('sha256').update(configMap).digest('hex').slice(0, 8);
  const head = configMap.slice(0, MAX_NAME - LAST_ACCEPTED_SUFFIX.length - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}${LAST_ACCEPTED_SUFFIX}`;
}
