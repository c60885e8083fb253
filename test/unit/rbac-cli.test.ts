import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { rbacManifests } from '../../src/cli/rbac.js';
import { isDns1123Subdomain } from '../../src/inject/index.js';
import { lastAcceptedConfigMapName } from '../../src/inject/last-accepted.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigNamespace } from '../../src/sync/kube/kubeconfig.js';
import { runCli } from '../sync/harness.js';

test('rbac prints a Role limited to the one ConfigMap (get/list/watch), its last-accepted ConfigMap (get/update) and events (create/patch), its RoleBinding, and that last-accepted ConfigMap, empty', () => {
  const docs = parseAllDocuments(rbacManifests('shop', 'envoy', 'envoy-xds')).map((d) => d.toJS() as Record<string, unknown>);
  assert.deepEqual(docs.map((d) => d.kind), ['Role', 'RoleBinding', 'ConfigMap']);
  const [role, binding, store] = docs as [
    { metadata: { name: string; namespace: string }; rules: unknown[] },
    { roleRef: { name: string }; subjects: unknown[] },
    { metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> }; data?: unknown },
  ];
  assert.equal(role.metadata.namespace, 'shop');
  assert.deepEqual(role.rules, [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['envoy-xds'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['envoy-xds-envoy-xds-accepted'], verbs: ['get', 'update'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ]);
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'envoy', namespace: 'shop' }]);
  // No data: re-applying this never erases what the watchers kept there.
  assert.deepEqual(store, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'envoy-xds-envoy-xds-accepted',
      namespace: 'shop',
      labels: { 'app.kubernetes.io/managed-by': 'envoy-xds-injector' },
      annotations: { 'envoy-xds-injector.io/configmap': 'envoy-xds' },
    },
  });
});

test('the last-accepted ConfigMap of a long name stays a valid name (≤ 253), distinct per source', () => {
  const a = `${'a'.repeat(240)}x`;
  const b = `${'a'.repeat(240)}y`;
  for (const name of [a, b]) {
    const store = lastAcceptedConfigMapName(name);
    assert.ok(store.length <= 253, store);
    assert.ok(isDns1123Subdomain(store), store);
    assert.ok(store.endsWith('-envoy-xds-accepted'));
  }
  assert.notEqual(lastAcceptedConfigMapName(a), lastAcceptedConfigMapName(b));
  assert.equal(lastAcceptedConfigMapName('envoy-xds'), 'envoy-xds-envoy-xds-accepted');
});

test('rbac refuses missing or invalid names with exit 2', async () => {
  const missing = await runCli(['rbac', '--namespace', 'shop']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--namespace, --service-account and --configmap are required/);
  const bad = await runCli(['rbac', '--namespace', 'Shop', '--service-account', 'envoy', '--configmap', 'x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--namespace 'Shop' is not a valid namespace name/);
});

test('watch --source api without a ConfigMap name, or an unknown source, is a usage error (exit 2)', async () => {
  const noName = await runCli(['watch', '--from', '/nonexistent', '--to', '/nonexistent', '--source', 'api', '--namespace', 'ns']);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /--source api needs --configmap/);
  const unknown = await runCli(['watch', '--from', '/nonexistent', '--to', '/nonexistent', '--source', 'kubelet']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--source: expected volume or api, got 'kubelet'/);
});

test('watch --source api --kubeconfig takes the namespace from the kubeconfig context, as kubectl does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-kubeconfig-'));
  try {
    const kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'shop' } }],
      'current-context': 'x',
    }));
    assert.equal(kubeconfigNamespace(kubeconfig), 'shop');
    const run = await runCli(['watch', '--from', join(dir, 'nope'), '--to', dir, '--source', 'api', '--configmap', 'x', '--kubeconfig', kubeconfig]);
    assert.doesNotMatch(run.stderr, /needs --namespace/);
    assert.equal(run.code, 1, run.stdout); // it got past the flags: the source directory does not exist
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('copy and watch without --from/--to, or with an unknown flag, exit 2 with one error line and where the usage is, as inject and rbac do', async () => {
  for (const command of ['copy', 'watch']) {
    const missing = await runCli([command, '--from', '/nonexistent']);
    assert.equal(missing.code, 2, command);
    assert.match(missing.stderr, new RegExp(`^error: --from and --to are required\\nrun '.* ${command} --help' for usage\\n$`), command);
    const unknown = await runCli([command, '--bogus']);
    assert.equal(unknown.code, 2, command);
    assert.match(unknown.stderr, new RegExp(`^error: unknown flag '--bogus'\\nrun '.* ${command} --help' for usage\\n$`), command);
  }
});

test('rbac --status-reader prints the Role `status TYPE/NAME` needs (pods/exec get and create: WebSocket exec before and after 1.35) and its RoleBinding to users, groups or a ServiceAccount', async () => {
  const r = await runCli(['rbac', '--status-reader', '--namespace', 'shop', '--group', 'deployers', '--service-account', 'ci', '--configmap', 'envoy-xds']);
  assert.equal(r.code, 0, r.stderr);
  const [role, binding] = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; rules?: unknown[]; subjects?: unknown[]; roleRef?: { name: string }; metadata: { name: string } });
  assert.equal(role?.kind, 'Role');
  assert.deepEqual(role.rules, [
    { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'statefulsets'], verbs: ['get'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['envoy-xds'], verbs: ['get'] },
  ]);
  assert.equal(binding?.roleRef?.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [
    { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'deployers' },
    { kind: 'ServiceAccount', name: 'ci', namespace: 'shop' },
  ]);
  const none = await runCli(['rbac', '--status-reader', '--namespace', 'shop']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--status-reader needs --namespace and --user, --group or --service-account/);
});
