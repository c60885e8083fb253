// manifests/examples-api: the example with envoy-xds-injector.io/source: api. Its Role is exactly
// what `envoy-xds-injector rbac` prints, bound to the ServiceAccount the Deployment runs as.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { rbacManifests } from '../../src/cli/rbac.js';
import { manifests } from './manifests.js';

const dir = join(manifests, 'examples-api');

test('rbac.yaml is what `envoy-xds-injector rbac` prints for the example', () => {
  assert.equal(readFileSync(join(dir, 'rbac.yaml'), 'utf8'), rbacManifests('envoy-xds-demo', 'envoy', 'envoy-xds-example'));
});

test('the variant sets source: api and the ServiceAccount the Role is bound to', () => {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[]; patches: { patch: string }[] };
  assert.deepEqual(kustomization.resources, ['../examples', 'serviceaccount.yaml', 'rbac.yaml']);
  const ops = parse(kustomization.patches[0]?.patch ?? '') as { path: string; value: string }[];
  assert.deepEqual(ops.map((op) => [op.path, op.value]), [
    ['/spec/template/metadata/annotations/envoy-xds-injector.io~1source', 'api'],
    ['/spec/template/spec/serviceAccountName', 'envoy'],
  ]);
  const sa = parse(readFileSync(join(dir, 'serviceaccount.yaml'), 'utf8')) as { metadata: { name: string } };
  assert.equal(sa.metadata.name, 'envoy');
});
