// `rbac`: the least-privilege Role and RoleBinding `watch --source api` needs, printed for
// `kubectl apply -f -`. get/list/watch on the one ConfigMap (RBAC `resourceNames` authorizes a
// list or watch only when it selects that name with fieldSelector metadata.name=NAME, which is
// how the watcher asks), get/update on its last-accepted ConfigMap (Envoy's verdicts, for the next
// Pod's copy), create/patch on events (the verdict as Events regarding the Pod). RBAC cannot limit
// `create` to one name, so the last-accepted ConfigMap itself is printed too, empty: the Role
// never grants creating ConfigMaps.
// `rbac --status-reader`: what the operator's `status TYPE/NAME` needs (docs/status.md).
import { stringify } from 'yaml';
import { isDns1123Subdomain } from '../inject/index.js';
import { LAST_ACCEPTED_SOURCE_ANNOTATION, MANAGED_BY_LABELS, lastAcceptedConfigMapName } from '../inject/last-accepted.js';
import type { Command } from './context.js';
import { parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector rbac --namespace NS --service-account SA --configmap NAME
       envoy-xds-injector rbac --status-reader --namespace NS (--user U | --group G | --service-account SA) [--configmap NAME]

Print a Role (get/list/watch on that ConfigMap only; get/update on NAME-envoy-xds-accepted, where
watchers keep what Envoy last accepted; create/patch events), a RoleBinding to the ServiceAccount,
and the empty NAME-envoy-xds-accepted ConfigMap, for the watcher of Pods with
envoy-xds-injector.io/source: api:

  envoy-xds-injector rbac --namespace shop --service-account default --configmap envoy-xds | kubectl apply -f -

With --status-reader: a Role and RoleBinding for whoever runs 'status TYPE/NAME' (and --wait) on
the namespace's workloads: get on deployments, daemonsets, statefulsets; get/list on pods; get and
create on pods/exec (the Pod-local status runs in each watcher container; a WebSocket exec is
authorized as get before Kubernetes 1.35, as create too from 1.35); get on configmaps (only NAME with
--configmap). pods/exec lets its holder run any command in these Pods' containers, as kubectl exec:

  envoy-xds-injector rbac --status-reader --namespace shop --group deployers | kubectl apply -f -
`;

/** Who a status-reader RoleBinding binds. */
export interface StatusReaderSubject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
}

/** The status reader's Role and RoleBinding (docs/status.md) as a two-document YAML stream. */
export function statusReaderManifests(namespace: string, subjects: StatusReaderSubject[], configMap?: string): string {
  const name = 'envoy-xds-status-reader';
  const labels = { ...MANAGED_BY_LABELS };
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace, labels },
    rules: [
      { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'statefulsets'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] },
      { apiGroups: [''], resources: ['configmaps'], ...(configMap === undefined ? {} : { resourceNames: [configMap] }), verbs: ['get'] },
    ],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: subjects.map((s) =>
      s.kind === 'ServiceAccount' ? { kind: s.kind, name: s.name, namespace } : { apiGroup: 'rbac.authorization.k8s.io', kind: s.kind, name: s.name },
    ),
  };
  return `${stringify(role)}---\n${stringify(binding)}`;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export { rbacCommandLine } from '../sync/kube/rbac-hint.js';

/** The Role, the RoleBinding and the empty last-accepted ConfigMap as a three-document YAML stream. */
export function rbacManifests(namespace: string, serviceAccount: string, configMap: string): string {
  const store = lastAcceptedConfigMapName(configMap);
  // Role names are path segments: any DNS subdomain; keep within 253 characters.
  const name = `envoy-xds-watch-${configMap}`.slice(0, 253).replace(/[-.]+$/, '');
  const labels = { ...MANAGED_BY_LABELS };
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace, labels },
    rules: [
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [configMap], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [store], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${name}-${serviceAccount}`.slice(0, 253).replace(/[-.]+$/, ''), namespace, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
  };
  // No `data`: `kubectl apply` of this again leaves what the watchers wrote (not in last-applied).
  const lastAccepted = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: store, namespace, labels, annotations: { [LAST_ACCEPTED_SOURCE_ANNOTATION]: configMap } },
  };
  return `${stringify(role)}---\n${stringify(binding)}---\n${stringify(lastAccepted)}`;
}

export const rbac: Command = (args, ctx) => {
  const values = parseFlags(args, {
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    configmap: { type: 'string' },
    'status-reader': { type: 'boolean', default: false },
    user: { type: 'string', multiple: true },
    group: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return Promise.resolve(0);
  }
  if (values['status-reader']) {
    const { namespace, configmap } = values;
    const subjects: StatusReaderSubject[] = [
      ...(values.user ?? []).map((name): StatusReaderSubject => ({ kind: 'User', name })),
      ...(values.group ?? []).map((name): StatusReaderSubject => ({ kind: 'Group', name })),
      ...(values['service-account'] === undefined ? [] : [{ kind: 'ServiceAccount' as const, name: values['service-account'] }]),
    ];
    if (namespace === undefined || subjects.length === 0) throw new UsageError(`--status-reader needs --namespace and --user, --group or --service-account`);
    if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) throw new UsageError(`--namespace '${namespace}' is not a valid namespace name`);
    if (configmap !== undefined && !isDns1123Subdomain(configmap)) throw new UsageError(`--configmap '${configmap}' is not a valid ConfigMap name`);
    if (values['service-account'] !== undefined && !isDns1123Subdomain(values['service-account'])) throw new UsageError(`--service-account '${values['service-account']}' is not a valid ServiceAccount name`);
    ctx.stdout.write(statusReaderManifests(namespace, subjects, configmap));
    return Promise.resolve(0);
  }
  if (values.user !== undefined || values.group !== undefined) throw new UsageError(`--user and --group go with --status-reader`);
  const { namespace, configmap } = values;
  const serviceAccount = values['service-account'];
  if (namespace === undefined || serviceAccount === undefined || configmap === undefined) {
    throw new UsageError(`--namespace, --service-account and --configmap are required`);
  }
  if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) throw new UsageError(`--namespace '${namespace}' is not a valid namespace name`);
  if (!isDns1123Subdomain(serviceAccount)) throw new UsageError(`--service-account '${serviceAccount}' is not a valid ServiceAccount name`);
  if (!isDns1123Subdomain(configmap)) throw new UsageError(`--configmap '${configmap}' is not a valid ConfigMap name`);
  ctx.stdout.write(rbacManifests(namespace, serviceAccount, configmap));
  return Promise.resolve(0);
};
