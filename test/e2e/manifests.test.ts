// Every kustomization under manifests/ (base, both overlays, the example) as a user would apply
// it: rendered by kubectl v1.33's kustomize, then a server-side dry-run apply against a real
// kube-apiserver, which runs the full validation and admission chain (strict field validation:
// an unknown or misspelt field fails) without storing anything. The namespaces are created first
// (a dry-run Namespace does not exist for the objects inside it). cert-manager's Issuer and
// Certificate get stub CRDs that accept any spec, so for them the check is structural; the
// built-in kinds are validated in full.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { ensureCertManagerCrds } from './cert-manager.js';
import { kubectl, repoRoot, startCluster, type Cluster } from './cluster.js';
import { ensureNamespace } from './webhook.js';

const execFileP = promisify(execFile);
type Json = Record<string, unknown>;

const MANIFESTS = join(repoRoot, 'manifests');

/** Kustomization and Component files under `dir`, as paths relative to `dir`. */
async function kustomizations(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name === 'kustomization.yaml')
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Every local file a kustomization names (resources, components, generator files, patch paths). */
function referencedFiles(k: Json): string[] {
  const list = (value: unknown): Json[] => (Array.isArray(value) ? value.filter((v): v is Json => v !== null && typeof v === 'object') : []);
  return [
    ...strings(k.resources),
    ...strings(k.components),
    // `files: [key=path]` or `[path]`
    ...[...list(k.configMapGenerator), ...list(k.secretGenerator)].flatMap((g) => strings(g.files).map((f) => f.replace(/^[^=]*=/, ''))),
    ...list(k.patches).flatMap((p) => (typeof p.path === 'string' ? [p.path] : [])),
  ];
}

function objectsOf(yamlText: string): Json[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as unknown)
    .filter((o): o is Json => o !== null && typeof o === 'object');
}

function id(o: Json): string {
  const meta = (o.metadata ?? {}) as Json;
  return `${String(o.kind)} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${String(meta.name)}`;
}

describe('manifests/ on a real apiserver (server-side dry-run)', { timeout: 45 * 60_000 }, () => {
  let cluster: Cluster;
  let work = '';
  const createdCrds: string[] = [];
  const createdNamespaces: string[] = [];

  before(async () => {
    // A copy of manifests/ with certs/out next to it, as plain-certificate expects (../../../certs/out),
    // so the real certs/ directory is never written to.
    work = await mkdtemp(join(tmpdir(), 'envoy-xds-manifests-'));
    await cp(MANIFESTS, join(work, 'manifests'), { recursive: true });
    await execFileP('bash', [join(repoRoot, 'certs', 'generate.sh'), '--out', join(work, 'certs', 'out')]);
    cluster = await startCluster();
    await ensureCertManagerCrds(cluster, createdCrds); // a cluster with cert-manager keeps its real CRDs
  });

  after(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
    if (typeof cluster === 'undefined') return;
    if (!cluster.local) {
      // Leave a shared cluster as we found it: only what this file created goes.
      for (const name of createdCrds) await kubectl(cluster, ['delete', name, '--ignore-not-found']);
      for (const name of createdNamespaces) await cluster.core.deleteNamespace({ name }).catch(() => undefined);
    }
    await cluster.stop();
  });

  test('every YAML file under manifests/ is part of a kustomization (so the dry-runs below cover it)', async () => {
    const files = (await readdir(MANIFESTS, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml')
      .map((e) => relative(MANIFESTS, join(e.parentPath, e.name)));
    const referenced = new Set<string>();
    for (const k of await kustomizations(MANIFESTS)) {
      const parsed = parse(await readFile(join(MANIFESTS, k), 'utf8')) as Json;
      for (const ref of referencedFiles(parsed)) referenced.add(join(dirname(k), ref));
    }
    assert.deepEqual(files.filter((f) => !referenced.has(f)), []);
  });

  // Known now (test names must exist before the run); the check above guards the list.
  const targets = ['base', 'examples', 'examples-api', 'overlays/cert-manager', 'overlays/plain-certificate'];

  test('the list of kustomizations to dry-run is complete', async () => {
    const found: string[] = [];
    for (const k of await kustomizations(MANIFESTS)) {
      const parsed = parse(await readFile(join(MANIFESTS, k), 'utf8')) as Json;
      // Components are built through the overlays that use them.
      if (parsed.kind !== 'Component') found.push(dirname(k));
    }
    assert.deepEqual(found.sort(), [...targets].sort());
  });

  for (const target of targets) {
    test(`kubectl apply --server-side --dry-run=server -k manifests/${target}`, async () => {
      const built = await kubectl(cluster, ['kustomize', join(work, 'manifests', target)]);
      assert.equal(built.code, 0, built.stderr);
      const objects = objectsOf(built.stdout);
      assert.ok(objects.length > 0);

      const namespaces = new Set<string>();
      for (const o of objects) {
        const meta = (o.metadata ?? {}) as Json;
        if (o.kind === 'Namespace' && typeof meta.name === 'string') namespaces.add(meta.name);
        if (typeof meta.namespace === 'string') namespaces.add(meta.namespace);
      }
      for (const ns of namespaces) if (await ensureNamespace(cluster, ns)) createdNamespaces.push(ns);

      const res = await kubectl(
        cluster,
        ['apply', '--server-side', '--dry-run=server', '--field-manager=envoy-xds-e2e', '-f', '-', '-o', 'json'],
        { input: built.stdout },
      );
      assert.equal(res.code, 0, `${res.stderr}\n--- rendered:\n${built.stdout}`);
      // No deprecation, PodSecurity or unknown-field warnings either.
      assert.doesNotMatch(res.stderr, /Warning/i, res.stderr);
      const out = JSON.parse(res.stdout) as Json;
      const returned = out.kind === 'List' ? (out.items as Json[]) : [out];
      assert.deepEqual(returned.map(id).sort(), objects.map(id).sort());

      // Nothing was stored (a dry-run), except the namespaces created above.
      const byNamespace = new Map<string, string[]>();
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
        const meta = (o.metadata ?? {}) as Json;
        const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
        byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), `${String(o.kind)}/${String(meta.name)}`]);
      }
      for (const [ns, refs] of byNamespace) {
        const got = await kubectl(cluster, ['get', ...(ns !== '' ? ['-n', ns] : []), ...refs, '--ignore-not-found', '-o', 'name']);
        assert.equal(got.code, 0, got.stderr);
        assert.equal(got.stdout.trim(), '', 'stored by a dry-run');
      }

      const mwc = returned.find((o) => o.kind === 'MutatingWebhookConfiguration');
      if (target === 'overlays/plain-certificate') {
        // certs/generate.sh's Component filled in the caBundle and the TLS Secret.
        const bundle = await readFile(join(work, 'certs', 'out', 'ca-bundle.crt'));
        const webhooks = (mwc?.webhooks ?? []) as Json[];
        assert.equal((webhooks[0]?.clientConfig as Json | undefined)?.caBundle, bundle.toString('base64'));
        const secret = returned.find((o) => o.kind === 'Secret');
        assert.equal(secret?.type, 'kubernetes.io/tls');
      }
      if (target === 'overlays/cert-manager') {
        const annotations = ((mwc?.metadata as Json | undefined)?.annotations ?? {}) as Json;
        assert.equal(annotations['cert-manager.io/inject-ca-from'], 'envoy-xds-injector/envoy-xds-injector-serving');
        assert.deepEqual(
          returned.filter((o) => o.apiVersion === 'cert-manager.io/v1').map((o) => o.kind).sort(),
          ['Certificate', 'Certificate', 'Issuer', 'Issuer'],
        );
      }
    });
  }
});
