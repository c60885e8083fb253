// The one-line fix for a missing permission, as the watcher's log lines and Events print it. Its own
// module so `watch` does not load `rbac`'s YAML printer.
import { WATCH_CONTAINER } from '../../inject/names.js';

/** The CLI's name inside the image (on its PATH, and its ENTRYPOINT). */
export const IMAGE_CLI = 'envoy-xds-injector';

/**
 * The CLI as an operator runs it from their own machine, with only kubectl: through the Pod's
 * watcher container, whose image has it on PATH, e.g.
 * `kubectl exec -n shop envoy-7d9f -c envoy-xds-watch -- envoy-xds-injector` (a Pod that does not
 * know its name (a watcher started by hand without POD_NAME, in a cluster) says `kubectl exec POD ...`).
 * `stdin`: `kubectl exec -i`, for a command that reads what is piped into it (`validate -f -`).
 */
export function cliThroughPod(namespace: string | undefined, pod: string, opts: { stdin?: boolean } = {}): string {
  return `kubectl exec${opts.stdin === true ? ' -i' : ''}${namespace === undefined ? '' : ` -n ${namespace}`} ${pod} -c ${WATCH_CONTAINER} -- ${IMAGE_CLI}`;
}

/**
 * `CLI rbac ... | kubectl apply -f -` for that namespace, ServiceAccount and ConfigMap. `cli` is how
 * the reader runs the CLI: cliThroughPod(...) in a Pod, the program's own command line elsewhere.
 */
export function rbacCommandLine(namespace: string, serviceAccount: string, configMap: string, cli: string = IMAGE_CLI): string {
  return `${cli} rbac --namespace ${namespace} --service-account ${serviceAccount} --configmap ${configMap} | kubectl apply -f -`;
}
