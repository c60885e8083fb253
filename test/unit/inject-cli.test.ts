// The real `inject` command, run as a process over multi-document files and stdin.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const fixture = (name: string): string => new URL(`../fixtures/manifests/${name}`, import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function inject(args: string[], stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'inject', ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

type Json = Record<string, unknown>;
const docs = (text: string): Json[] => parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as Json);

function podTemplate(document: Json): Json {
  const spec = document.spec as Json;
  if (document.kind === 'Pod') return document;
  if (document.kind === 'CronJob') return ((spec.jobTemplate as Json).spec as Json).template as Json;
  return spec.template as Json;
}

const annotationsOf = (template: Json): Json => ((template.metadata as Json).annotations ?? {}) as Json;
const containerNames = (template: Json, list: string): unknown[] => (((template.spec as Json)[list] ?? []) as Json[]).map((c) => c.name);

describe('inject -f over every workload kind', () => {
  let source: string;
  let first: Run;
  before(async () => {
    source = await readFile(fixture('workloads.yaml'), 'utf8');
    first = await inject(['-f', fixture('workloads.yaml')]);
  });

  test('exits 0 and injects every annotated pod template', () => {
    assert.equal(first.code, 0, first.stderr);
    const out = docs(first.stdout);
    assert.deepEqual(
      out.map((d) => d.kind),
      ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ConfigMap', 'Deployment'],
    );
    for (const document of out.slice(0, 7)) {
      const template = podTemplate(document);
      const status = JSON.parse(annotationsOf(template)['envoy-xds-injector.io/status'] as string) as Json;
      assert.equal(status.version, '0.1.0', `${String(document.kind)}: version from package.json`);
      assert.ok(containerNames(template, 'initContainers').includes('envoy-xds-copy'), String(document.kind));
    }
  });

  test('annotations are honoured per document', () => {
    const templates = docs(first.stdout).slice(0, 5).map(podTemplate);
    const [pod = {}, deployment = {}, statefulSet = {}, daemonSet = {}] = templates;
    const watchArgs = (t: Json): unknown =>
      ((t.spec as Json).initContainers as Json[]).find((c) => c.name === 'envoy-xds-watch')?.args;
    assert.deepEqual((watchArgs(pod) as string[]).slice(-2), ['--bootstrap', 'envoy.yaml']);
    assert.deepEqual((watchArgs(deployment) as string[]).slice(-2), ['--bootstrap', 'bootstrap.yaml']);
    assert.deepEqual(containerNames(statefulSet, 'containers'), ['envoy', 'envoy-xds-watch']);
    assert.deepEqual(containerNames(daemonSet, 'initContainers'), ['setup', 'envoy-xds-copy', 'envoy-xds-watch']);
    assert.match(first.stdout, /image: registry\.example\/envoy-xds-injector:dev/);
  });

  test('documents that need no change are copied byte for byte; edited ones keep comments and octal modes', () => {
    const configMapAndPlain = source.slice(source.indexOf('---\n# Passes through untouched: not a workload.'));
    assert.ok(first.stdout.endsWith(configMapAndPlain));
    assert.match(first.stdout, /- name: envoy # picked by name/);
    assert.match(first.stdout, /defaultMode: 0440/);
    assert.match(first.stdout, /^# Every workload kind the injector knows/);
  });

  test('reading stdin (-f -) gives the same output', async () => {
    const fromStdin = await inject(['-f', '-'], source);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, first.stdout);
  });

  test('running inject on its own output changes nothing', async () => {
    const second = await inject(['-f', '-'], first.stdout);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
  });
});

test('a denial exits 1, prints nothing on stdout and names the document and the annotation', async () => {
  const run = await inject(['-f', fixture('denied.yaml')]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /^error: .*denied\.yaml: document 2 \(Deployment\/two-containers\): cannot tell which container is Envoy: .*\(proxy, app\); set annotation envoy-xds-injector\.io\/container/m,
  );
});

test('pod-template annotations given as a YAML alias (shared case): exit 0, stdout is only the injected YAML', async () => {
  const run = await inject(['-f', fixture('inject-alias-annotations.yaml')]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const [deployment] = docs(run.stdout);
  assert.ok(deployment !== undefined);
  assert.ok(annotationsOf(podTemplate(deployment))['envoy-xds-injector.io/status'] !== undefined);
  assert.equal(((deployment.metadata as Json).annotations as Json)['envoy-xds-injector.io/status'], undefined);
});

test("an Envoy relying on its image's default command (shared case): the bootstrap is passed to copy/watch, and the hidden image file is warned about", async () => {
  const run = await inject(['-f', fixture('envoy-image-default-command.yaml')]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^Warning: \S+envoy-image-default-command\.yaml: document 1 \(Deployment\/edge\): container envoy has no command or args, so it runs its image's default command, which for envoyproxy\/envoy images is "envoy -c \/etc\/envoy\/envoy\.yaml"; mount-path \/etc\/envoy hides everything the image has in \/etc\/envoy/m,
  );
  const [deployment] = docs(run.stdout);
  assert.ok(deployment !== undefined);
  const init = ((podTemplate(deployment).spec as Json).initContainers ?? []) as Json[];
  for (const name of ['envoy-xds-copy', 'envoy-xds-watch']) {
    assert.deepEqual((init.find((c) => c.name === name)?.args as string[]).slice(-2), ['--bootstrap', 'envoy.yaml'], name);
  }
});

test('a YAML syntax error exits 1 and names the document and the line', async () => {
  const run = await inject(['-f', fixture('invalid.yaml')]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /invalid\.yaml: document 2: .*at line 11/);
});

test('warnings go to stderr, prefixed with the document', async () => {
  const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: w
  annotations:
    envoy-xds-injector.io/inject: "true"
    envoy-xds-injector.io/configmap: xds
    envoy-xds-injector.io/mountpath: /srv
spec:
  containers:
  - name: envoy
    args: [-c, /config/envoy.yaml]
`;
  const run = await inject(['-f', '-'], manifest);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^Warning: stdin: document 1 \(Pod\/w\): unknown annotation envoy-xds-injector\.io\/mountpath/m);
  assert.match(run.stderr, /^Warning: stdin: document 1 \(Pod\/w\): container envoy starts Envoy with -c \/config\/envoy\.yaml, which is outside mount-path/m);
  assert.match(run.stderr, /^Warning: stdin: document 1 \(Pod\/w\): .* the watcher gets no --bootstrap, cannot find Envoy's admin API and gives no verdict: .*set annotation envoy-xds-injector\.io\/admin/m);
});

describe('config', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inject-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('--config and flags set the injected image, sidecar mode and resources', async () => {
    const configFile = join(dir, 'config.yaml');
    await writeFile(configFile, 'image: registry.example/injector:7\nresources:\n  memoryLimit: 96Mi\n');
    const run = await inject(['-f', fixture('denied.yaml'), '--config', configFile, '--sidecar', 'container'], '');
    // denied.yaml is still denied: the config does not pick the container.
    assert.equal(run.code, 1);

    const pod = 'kind: Pod\napiVersion: v1\nmetadata:\n  annotations:\n    envoy-xds-injector.io/inject: "true"\n    envoy-xds-injector.io/configmap: xds\nspec:\n  containers:\n  - name: envoy\n';
    const ok = await inject(['-f', '-', '--config', configFile, '--sidecar', 'container'], pod);
    assert.equal(ok.code, 0, ok.stderr);
    const [out] = docs(ok.stdout);
    assert.ok(out);
    const watch = ((out.spec as Json).containers as Json[]).find((c) => c.name === 'envoy-xds-watch');
    assert.ok(watch);
    assert.equal(watch.image, 'registry.example/injector:7');
    assert.deepEqual((watch.resources as Json).limits, { memory: '96Mi' });
  });

  test('an invalid config file exits 1 naming the file and key', async () => {
    const configFile = join(dir, 'bad.yaml');
    await writeFile(configFile, 'sidecar: sometimes\n');
    const run = await inject(['-f', '-', '--config', configFile], 'kind: Pod\n');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /bad\.yaml.*sidecar/);
  });
});

test('usage errors and invalid flag values exit 2; a missing file exits 1 saying "cannot read it (ENOENT)", as --config does', async () => {
  const noFile = await inject([]);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /-f FILE \(or -f - for stdin\) is required/);
  const badValue = await inject(['-f', '-', '--sidecar', 'sometimes'], 'kind: Pod\n');
  assert.equal(badValue.code, 2);
  assert.match(badValue.stderr, /^error: invalid flag: --sidecar is "sometimes" but must be native or container\nrun '.* inject --help' for usage\n$/);
  const missing = await inject(['-f', '/nonexistent/manifest.yaml']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.equal(missing.stderr, 'envoy-xds-injector inject: /nonexistent/manifest.yaml: cannot read it (ENOENT)\n');
});
