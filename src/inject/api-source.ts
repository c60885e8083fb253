// `envoy-xds-injector.io/source`: `volume` (default: the watcher follows the kubelet's ConfigMap
// volume and needs no API access) or `api` (it also watches the ConfigMap through the Kubernetes
// API, see docs/api-source.md). With `api` the watch container gets what that needs: the ConfigMap
// name as a flag, the Pod's name, namespace, uid, node and ServiceAccount from the downward API
// (for Events and for the "how to fix" hint), and the Pod's ServiceAccount token.
import { Annotation, readAnnotation } from './annotations.js';
import type { SyncContainer } from './containers.js';
import { Denial } from './denial.js';
import { isObject, nameOf, type JsonObject } from './json.js';
import { lastAcceptedConfigMapName } from './last-accepted.js';
import { ACCEPTED_DIR, ACCEPTED_VOLUME } from './names.js';

export type SourceMode = 'volume' | 'api';

/** Where in-cluster clients look for the token (client-go rest.InClusterConfig, client-node loadFromCluster). */
export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export function sourceMode(annotations: JsonObject): SourceMode {
  const value = readAnnotation(annotations, Annotation.source) ?? 'volume';
  if (value !== 'volume' && value !== 'api') {
    throw new Denial(`annotation ${Annotation.source} "${value}" is not supported: use "volume" (the default) or "api"`);
  }
  return value;
}

/** Downward API env the watcher reads with --source api (names are a contract with `watch`). */
const FIELD_ENV: readonly (readonly [string, string])[] = [
  ['POD_NAME', 'metadata.name'],
  ['POD_NAMESPACE', 'metadata.namespace'],
  ['POD_UID', 'metadata.uid'],
  ['NODE_NAME', 'spec.nodeName'],
  ['POD_SERVICE_ACCOUNT', 'spec.serviceAccountName'],
];

/**
 * The projected ServiceAccount token volume of the Pod: the ServiceAccount admission plugin adds
 * it as `kube-api-access-<random>` (a projected volume with a serviceAccountToken source) before
 * mutating webhooks run; a Pod may also bring its own.
 */
function tokenVolume(volumes: unknown[]): string | undefined {
  for (const volume of volumes) {
    const sources = isObject(volume) && isObject(volume.projected) ? volume.projected.sources : undefined;
    if (Array.isArray(sources) && sources.some((source) => isObject(source) && isObject(source.serviceAccountToken))) {
      return nameOf(volume);
    }
  }
  return undefined;
}

/**
 * The watch container for `source: api`, and warnings when it cannot work as declared. Never
 * denies: the watcher falls back to the volume, so the Pod works either way, only slower.
 */
export function withApiSource(watch: SyncContainer, spec: JsonObject, volumes: unknown[], configMap: string): { container: SyncContainer; warnings: string[] } {
  const present = new Set(watch.env.map((variable) => variable.name));
  const env = [
    ...watch.env,
    ...FIELD_ENV.filter(([name]) => !present.has(name)).map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } })),
  ];
  const container: SyncContainer = { ...watch, args: [...watch.args, '--source', 'api', '--configmap', configMap], env };
  const token = tokenVolume(volumes);
  if (watch.volumeMounts.some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT)) return { container, warnings: [] };
  if (token !== undefined) {
    // Mounted explicitly, so the watcher has the token whether or not the ServiceAccount plugin
    // runs again after this webhook.
    container.volumeMounts = [...watch.volumeMounts, { name: token, mountPath: SERVICE_ACCOUNT_MOUNT, readOnly: true }];
    return { container, warnings: [] };
  }
  if (spec.automountServiceAccountToken === false) {
    return {
      container,
      warnings: [
        `annotation ${Annotation.source} is "api" but the Pod has automountServiceAccountToken: false and no ServiceAccount token volume: the watcher cannot reach the Kubernetes API and follows the ConfigMap volume only (edits arrive in about a minute); remove automountServiceAccountToken: false or use ${Annotation.source}: volume`,
      ],
    };
  }
  // No token volume yet (a template read offline by `inject -f`, or the plugin has not run): the
  // ServiceAccount admission plugin mounts it into every container when the Pod is created.
  return { container, warnings: [] };
}

/**
 * `source: api` only: the last-accepted ConfigMap (`<configmap>-envoy-xds-accepted`, written by the
 * watchers, see docs/api-source.md) as an optional ConfigMap volume, read by `copy --accepted`: a
 * new Pod starts Envoy from the version Envoy last accepted when the ConfigMap holds content Envoy
 * refused. `optional: true`: the kubelet mounts an empty directory until a watcher created it.
 */
export function withLastAccepted(copy: SyncContainer, configMap: string): { container: SyncContainer; volume: JsonObject } {
  return {
    container: {
      ...copy,
      args: [...copy.args, '--accepted', ACCEPTED_DIR],
      volumeMounts: [...copy.volumeMounts, { name: ACCEPTED_VOLUME, mountPath: ACCEPTED_DIR, readOnly: true }],
    },
    volume: { name: ACCEPTED_VOLUME, configMap: { name: lastAcceptedConfigMapName(configMap), optional: true } },
  };
}
