// Cluster-side faults for `source: api` tests, made the way an operator or a controller makes them:
// a RoleBinding deleted (403 until it is applied again), a ServiceAccount deleted and created again
// (its bound tokens stop authenticating: 401), the last-accepted store deleted and created empty
// again (`rbac | kubectl apply` prints it empty).
import * as k8s from '@kubernetes/client-node';
import { applyRbac } from './api-source.js';
import type { Cluster } from './cluster.js';
import { plain } from './objects.js';

/** The RoleBinding name `envoy-xds-injector rbac` prints (src/cli/rbac.ts). */
export const rbacBindingName = (configMap: string, serviceAccount: string): string => `envoy-xds-watch-${configMap}-${serviceAccount}`;

/** Deletes the RoleBinding `rbac` printed: every request of the watcher is then forbidden (403). */
export async function revokeRbac(cluster: Cluster, namespace: string, serviceAccount: string, configMap: string): Promise<void> {
  const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.deleteNamespacedRoleBinding({ name: rbacBindingName(configMap, serviceAccount), namespace });
}

/** `rbac | kubectl apply -f -` again: the fix the watcher's 403 line names. */
export const restoreRbac = applyRbac;

/**
 * Deletes the ServiceAccount and creates it again under the same name: tokens issued for the old
 * one (bound to its uid) are refused with 401 from then on, as after a ServiceAccount re-created by
 * a GitOps sync. Returns the new uid.
 */
export async function recreateServiceAccount(cluster: Cluster, namespace: string, serviceAccount: string): Promise<string> {
  await cluster.core.deleteNamespacedServiceAccount({ name: serviceAccount, namespace });
  const created = await cluster.core.createNamespacedServiceAccount({ namespace, body: plain<k8s.V1ServiceAccount>({ metadata: { name: serviceAccount } }) });
  return created.metadata?.uid ?? '';
}

/** Deletes the last-accepted store and applies `rbac`'s output again, which creates it empty. */
export async function recreateStoreEmpty(cluster: Cluster, namespace: string, serviceAccount: string, configMap: string): Promise<void> {
  await cluster.core.deleteNamespacedConfigMap({ name: `${configMap}-envoy-xds-accepted`, namespace });
  await applyRbac(cluster, namespace, serviceAccount, configMap);
}
