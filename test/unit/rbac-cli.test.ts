import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { rbacManifests } from '../../src/cli/rbac.js';
import { runCli } from '../sync/harness.js';

test('rbac prints a Role limited to the one ConfigMap (get/list/watch) plus create/patch events, and its RoleBinding', () => {
  const docs = parseAllDocuments(rbacManifests('shop', 'envoy', 'envoy-xds')).map((d) => d.toJS() as Record<string, unknown>);
  assert.deepEqual(docs.map((d) => d.kind), ['Role', 'RoleBinding']);
  const [role, binding] = docs as [{ metadata: { name: string; namespace: string }; rules: unknown[] }, { roleRef: { name: string }; subjects: unknown[] }];
  assert.equal(role.metadata.namespace, 'shop');
  assert.deepEqual(role.rules, [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['envoy-xds'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ]);
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'envoy', namespace: 'shop' }]);
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
