// `validate` on every kind of input: files, directories, ConfigMap manifests from a file and from
// stdin (kubectl kustomize / helm template output), JSON output, --strict, usage errors.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { runValidate } from '../../src/cli/validate.js';
import { UsageError, type CliContext } from '../../src/cli/context.js';
import { loadEnvoySchema, type EnvoySchema } from '../../src/schema/index.js';
import { repoRoot } from '../sync/harness.js';

let schema: EnvoySchema;
let dir: string;
const fixture = (name: string): Promise<string> => readFile(join(repoRoot, 'test/fixtures', name), 'utf8');

before(async () => {
  schema = loadEnvoySchema();
  dir = await mkdtemp(join(tmpdir(), 'validate-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { stdin: Readable.from([stdin]), stdout, stderr, env: {}, logger: pino({ level: 'silent' }), version: 'test', shutdownSignal: new AbortController().signal };
  const code = await runValidate(args, ctx, () => schema);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const configMap = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'shop' }, data, ...extra });

test('a file Envoy loads cleanly: exit 0, nothing on stderr, a summary naming the Envoy version', async () => {
  const { code, stdout, stderr } = await run([join(repoRoot, 'test/fixtures/envoy-corpus/accepts.plain.lds.yaml')]);
  assert.equal(code, 0);
  assert.equal(stderr, '');
  assert.match(stdout, /^1 file\(s\) checked against Envoy 1\.40\.\d+'s API: 0 error\(s\), 0 warning\(s\)\n$/);
});

test('envoy-ignores-unknown-field.lds.yaml (a shared case): exit 0, two warnings on stderr with their lines; --strict makes them errors (exit 1)', async () => {
  const file = join(repoRoot, 'test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml');
  const { code, stderr } = await run([file]);
  assert.equal(code, 0);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /envoy-ignores-unknown-field\.lds\.yaml:9:3: warning: resources\[0\]\.per_connection_buffer_limit_bytez: unknown field/);
  assert.match(lines[1] ?? '', /:16:9: warning: resources\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.stream_idle_timeoutt: unknown field/);
  const strict = await run(['--strict', file]);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /:9:3: error: /);
});

test('--strict checks for an Envoy started with --reject-unknown-dynamic-fields: unknown fields and enum values are errors said as that Envoy refuses the file; a deprecated field stays a warning (that Envoy loads it)', async () => {
  const refuses = ': Envoy started with --reject-unknown-dynamic-fields refuses the file';
  const unknownField = await run(['--strict', join(repoRoot, 'test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml')]);
  const lines = unknownField.stderr.trim().split('\n');
  assert.equal(lines.length, 2, unknownField.stderr);
  for (const line of lines) {
    assert.match(line, /: error: .*unknown field "\w+" in [\w.]+: Envoy started with --reject-unknown-dynamic-fields refuses the file$/);
    // The warning's words would contradict the error: Envoy does not ignore it then.
    assert.doesNotMatch(line, /Envoy ignores it/);
  }
  const enumValue = await run(['--strict', join(repoRoot, 'test/fixtures/schema/accepts.unknown-enum-value.lds.yaml')]);
  assert.equal(enumValue.code, 1);
  assert.match(enumValue.stderr, new RegExp(`: error: .*unknown value "HTTP4" of [\\w.]+CodecType${refuses} \\(values: `));
  assert.doesNotMatch(enumValue.stderr, /keeps the default/);
  const deprecated = await run(['--strict', join(repoRoot, 'test/fixtures/schema/accepts.deprecated-field.lds.yaml')]);
  assert.equal(deprecated.code, 0, deprecated.stderr);
  assert.match(deprecated.stderr, /: warning: .*use_proxy_proto is deprecated: Envoy warns "Using deprecated option"\n$/);
  // A ConfigMap on stdin reads the same.
  const text = await readFile(join(repoRoot, 'test/fixtures/schema/accepts.unknown-enum-value.lds.yaml'), 'utf8');
  const piped = await run(['--strict', '-f', '-'], stringify(configMap('envoy-xds', { 'lds.yaml': text })));
  assert.equal(piped.code, 1);
  assert.match(piped.stderr, new RegExp(`^ConfigMap/shop/envoy-xds/lds\\.yaml:\\d+:\\d+: error: .*HTTP4.*${refuses}`));
});

test('envoy-accepts-ignore-tag.lds.yaml (a shared case: `!ignore` on a value, reused by an anchor): exit 0, one warning for the key Envoy keeps and counts as unknown', async () => {
  const { code, stderr } = await run([join(repoRoot, 'test/fixtures/envoy-corpus/accepts.ignore-tag-on-value.lds.yaml')]); // the case, with one comment line more
  assert.equal(code, 0);
  assert.match(stderr, /^\S*accepts\.ignore-tag-on-value\.lds\.yaml:4:1: warning: router_filters: unknown field "router_filters" in envoy\.service\.discovery\.v3\.DiscoveryResponse[^\n]*\n$/);
});

test('a directory: every .yaml/.yml/.json under it, recursively; exit 1 with one line per error', async () => {
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'nested'), { recursive: true });
  await writeFile(join(tree, 'ok.lds.yaml'), await fixture('envoy-corpus/accepts.plain.lds.yaml'));
  await writeFile(join(tree, 'nested', 'bad.lds.yaml'), await fixture('schema/refuses.port-out-of-range.lds.yaml'));
  await writeFile(join(tree, 'script.lua'), 'not checked');
  const { code, stdout, stderr } = await run([tree]);
  assert.equal(code, 1);
  assert.match(stderr, /nested\/bad\.lds\.yaml:6:\d+: error: resources\[0\]\.address\.socket_address\.port_value: value must be less than or equal to 65535\n$/);
  assert.match(stdout, /^2 file\(s\) checked/);
});

test('-o json: one document on stdout with every finding (file, line, column, path, severity)', async () => {
  const { code, stdout, stderr } = await run(['-o', 'json', join(repoRoot, 'test/fixtures/schema/refuses.bad-duration.lds.yaml')]);
  assert.equal(code, 1);
  assert.equal(stderr, '');
  const report = JSON.parse(stdout) as { envoyVersion: string; errors: number; findings: { severity: string; line: number; column: number; path: string; message: string }[] };
  assert.equal(report.errors, 1);
  assert.deepEqual(
    report.findings.map(({ severity, line, path }) => ({ severity, line, path })),
    [{ severity: 'error', line: 13, path: 'resources[0].filter_chains[0].filters[0].typed_config.stream_idle_timeout' }],
  );
  assert.match(report.findings[0]?.message ?? '', /Duration/);
});

test('-f - reads manifests from stdin (helm template output): each ConfigMap file, lines inside the file; other kinds skipped', async () => {
  const bad = await fixture('schema/refuses.oneof-twice.lds.yaml');
  const stream = [
    '---\n# Source: chart/templates/deployment.yaml\n' + stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'envoy' }, spec: {} }),
    '---\n# Source: chart/templates/configmap.yaml\n' + stringify(configMap('envoy-xds', { 'lds.yaml': bad, 'filter.lua': 'function envoy_on_request() end' })),
  ].join('');
  const { code, stderr } = await run(['-f', '-'], stream);
  assert.equal(code, 1);
  assert.match(stderr, /^ConfigMap\/shop\/envoy-xds\/lds\.yaml:11:9: error: resources\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config: .*oneof set multiple times by rds and route_config/m);
});

test('-f FILE with a List of ConfigMaps (kubectl get -o yaml), a bootstrap key, binaryData, and a ConfigMap over 1 MiB', async () => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      configMap('with-bootstrap', { 'envoy.yaml': 'node: {id: a, cluster: b}\nadminn: {}\n' }),
      configMap('binary', { 'lds.yaml': 'resources: []\n' }, { binaryData: { 'cds.yaml': Buffer.from('resources: []').toString('base64') } }),
      configMap('huge', { 'lds.yaml': 'resources: []\n', 'padding.txt': 'x'.repeat(1024 * 1024) }),
    ],
  };
  const file = join(dir, 'list.yaml');
  await writeFile(file, stringify(list));
  const { code, stderr } = await run(['-f', file]);
  assert.equal(code, 1);
  assert.match(stderr, /^ConfigMap\/shop\/with-bootstrap\/envoy\.yaml:2:1: error: adminn: unknown field "adminn" in envoy\.config\.bootstrap\.v3\.Bootstrap$/m);
  assert.match(stderr, /^ConfigMap\/shop\/binary\/cds\.yaml: warning: binaryData is not checked/m);
  assert.match(stderr, /^ConfigMap\/shop\/huge: error: the ConfigMap holds \d+ bytes, over the 1 MiB/m);
});

test('files that are not xDS: a warning for a YAML file without resources; -f with no manifests is an error', async () => {
  const notXds = join(dir, 'values.yaml');
  await writeFile(notXds, 'replicas: 3\n');
  const plain = await run([notXds]);
  assert.equal(plain.code, 0);
  assert.match(plain.stderr, /values\.yaml: warning: not an xDS file \(it has no top-level `resources`\): not checked/);
  const manifests = await run(['-f', join(repoRoot, 'test/fixtures/envoy-corpus/accepts.plain.lds.yaml')]);
  assert.equal(manifests.code, 1);
  assert.match(manifests.stderr, /error: not Kubernetes manifests/);
});

test('a directory of Kubernetes manifests (manifests/examples) with --strict: Deployment, Service, Namespace, kustomization.yaml skipped in one info line, exit 0', async () => {
  const { code, stdout, stderr } = await run([join(repoRoot, 'manifests/examples'), '--strict']);
  assert.equal(code, 0);
  assert.equal(stderr, 'info: 4 file(s) hold no ConfigMap and no xDS: skipped\n');
  assert.match(stdout, /^3 file\(s\) checked against Envoy .*: 0 error\(s\), 0 warning\(s\)\n$/);
  const json = JSON.parse((await run(['-o', 'json', join(repoRoot, 'manifests/examples')])).stdout) as { filesSkipped: string[] };
  assert.deepEqual(json.filesSkipped.map((file) => file.slice(file.lastIndexOf('/') + 1)), ['deployment.yaml', 'kustomization.yaml', 'namespace.yaml', 'service.yaml']);
});

test('a directory holding xDS next to a non-xDS YAML file: the other file is skipped, not a warning (--strict stays 0)', async () => {
  const tree = join(dir, 'xds-with-values');
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, 'lds.yaml'), await fixture('envoy-corpus/accepts.plain.lds.yaml'));
  await writeFile(join(tree, 'values.yaml'), 'replicas: 3\n');
  const { code, stderr } = await run(['--strict', tree]);
  assert.equal(code, 0);
  assert.equal(stderr, 'info: 1 file(s) hold no ConfigMap and no xDS: skipped\n');
});

test('nothing checked at all is an error: manifests without a ConfigMap (-f or PATH), a directory with no xDS', async () => {
  const deployment = join(repoRoot, 'manifests/examples/deployment.yaml');
  for (const args of [['-f', deployment], [deployment]]) {
    const { code, stderr } = await run(args);
    assert.equal(code, 1, args.join(' '));
    assert.match(stderr, /deployment\.yaml: error: nothing checked: it holds no ConfigMap and no xDS\n$/);
  }
  const empty = join(dir, 'no-xds');
  await mkdir(empty, { recursive: true });
  await writeFile(join(empty, 'values.yaml'), 'replicas: 3\n');
  await writeFile(join(empty, 'service.yaml'), stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'envoy' } }));
  const { code, stderr } = await run([empty]);
  assert.equal(code, 1);
  assert.match(stderr, /error: nothing checked: 2 file\(s\) hold no ConfigMap and no xDS\n$/);
  // A directory with no file to read at all (a wrong path in CI, files under another extension).
  const bare = join(dir, 'bare');
  await mkdir(bare, { recursive: true });
  await writeFile(join(bare, 'lds.txt'), 'resources: []\n');
  const none = await run([bare]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /bare: error: nothing checked: the directory holds no \.yaml, \.yml or \.json file\n$/);
  // Next to a directory that has files: still said, still an error.
  const both = await run([bare, join(repoRoot, 'test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml')]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /bare: error: nothing checked: the directory holds no/);
  // An unquoted @type: js-yaml's "bad indentation" alone points away from the cause.
  await writeFile(join(bare, 'at.yaml'), 'resources:\n- @type: type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: a\n');
  const at = await run([join(bare, 'at.yaml')]);
  assert.equal(at.code, 1, at.stderr);
  assert.match(at.stderr, /at\.yaml:2:3: error: invalid YAML: bad indentation of a sequence entry \(a plain key or value cannot start with @ or `: quote it, as in "@type"\)/);
  // A file named on the command line that Envoy does not parse (README.md, a certificate): an error, not a silent pass.
  const named = await run([join(bare, 'lds.txt')]);
  assert.equal(named.code, 1, named.stderr);
  assert.match(named.stderr, /lds\.txt: error: nothing checked: not a \.yaml, \.yml or \.json file/);
});

test('usage errors (exit 2 through main): nothing to check, a bad flag or output, a missing path, -f on a directory', async () => {
  await assert.rejects(run([]), (err: unknown) => err instanceof UsageError && err.message.includes('nothing to check'));
  await assert.rejects(run(['--nope', 'x']), UsageError);
  await assert.rejects(run(['-o', 'xml', 'x']), (err: unknown) => err instanceof UsageError && err.message.includes('--output'));
  await assert.rejects(run([join(dir, 'missing.yaml')]), (err: unknown) => err instanceof UsageError && err.message.includes('no such file'));
  await assert.rejects(run(['-f', dir]), (err: unknown) => err instanceof UsageError && err.message.includes('is a directory'));
});
