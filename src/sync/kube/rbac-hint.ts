// The one-line fix for a missing permission, as the watcher's log lines print it. Its own module so
// `watch` does not load `rbac`'s YAML printer.

/** `envoy-xds-injector rbac ... | kubectl apply -f -` for that namespace, ServiceAccount and ConfigMap. */
export function rbacCommandLine(namespace: string, serviceAccount: string, configMap: string): string {
  return `envoy-xds-injector rbac --namespace ${namespace} --service-account ${serviceAccount} --configmap ${configMap} | kubectl apply -f -`;
}
