// What the ServiceAccount admission plugin would add to the containers we inject, added by us first.
//
// After a webhook changes a Pod, kube-apiserver runs the in-tree mutating plugins again, and if they
// change it, calls the webhooks again (reinvocationPolicy: IfNeeded). The ServiceAccount plugin
// (plugin/pkg/admission/serviceaccount, v1.33, mountServiceAccountToken) runs before the webhooks,
// adds a projected volume `kube-api-access-<random>` and mounts it read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container and init container that has no
// mount at that path. Re-run on our new containers, it would mount it there too: a change, hence a
// second webhook call per Pod. Carrying that mount already makes the re-run a no-op.
import { isObject, type JsonObject } from './json.js';

/** The ServiceAccount plugin's DefaultAPITokenMountPath. */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The plugin's ServiceAccountVolumeName; it reuses the first volume named with this prefix. */
const TOKEN_VOLUME_PREFIX = 'kube-api-access-';

/**
 * The mount the plugin would give a new container of this Pod spec: `{ name, readOnly: true,
 * mountPath }` for the first volume named `kube-api-access-*` (the plugin already ran, so the Pod
 * automounts its token), or none when there is no such volume or `automountServiceAccountToken`
 * is false (the plugin then adds nothing).
 */
export function serviceAccountTokenMounts(spec: JsonObject): { name: string; readOnly: true; mountPath: string }[] {
  if (spec.automountServiceAccountToken === false || !Array.isArray(spec.volumes)) return [];
  for (const volume of spec.volumes as unknown[]) {
    if (isObject(volume) && typeof volume.name === 'string' && volume.name.startsWith(TOKEN_VOLUME_PREFIX)) {
      return [{ name: volume.name, readOnly: true, mountPath: SERVICE_ACCOUNT_TOKEN_PATH }];
    }
  }
  return [];
}
