// `inject` as a UNIX tool, run as a process: directories as kubectl reads them, input that is not a
// manifest, a reader that closes the pipe early, and signals.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const examples = new URL('../../manifests/examples', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', main, 'inject', ...args], { stdio: 'pipe' });
}

async function inject(args: string[], stdin: string | Buffer = ''): Promise<Run> {
  const child = start(args);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

const kinds = (text: string): unknown[] =>
  parseAllDocuments(text, { version: '1.1' }).map((d) => (d.toJS() as { kind?: string } | null)?.kind);

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    envoy-xds-injector.io/inject: "true"
    envoy-xds-injector.io/configmap: xds
spec:
  containers:
  - name: envoy
    args: [-c, /etc/envoy/envoy.yaml]
`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inject-io-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('-f DIR reads a directory as kubectl apply -f DIR does', () => {
  test("the project's examples (files without ---): every file in name order, kept apart, the Deployment injected", async () => {
    const run = await inject(['-f', examples]);
    assert.equal(run.code, 0, run.stderr);
    // configmap, deployment, kustomization, namespace, service (name order)
    assert.deepEqual(kinds(run.stdout), ['ConfigMap', 'Deployment', 'Kustomization', 'Namespace', 'Service']);
    assert.match(run.stdout, /name: envoy-xds-copy/);
    const configMap = await readFile(join(examples, 'configmap.yaml'), 'utf8');
    assert.ok(run.stdout.startsWith(configMap), 'an untouched file is copied byte for byte');
    assert.match(run.stderr, /^Warning: .*examples: has a kustomization\.yaml, .*kubectl kustomize .*examples \| .+ inject -f -$/m);
    // The suggested command runs as printed: this program as it can be run again from a shell
    // (src/cli/self-command.ts), not a bare name that is on no PATH.
    const cli = /kubectl kustomize .*examples \| (.+) inject -f -$/m.exec(run.stderr)?.[1] ?? '';
    const again = spawnSync('sh', ['-c', `${cli} --version`], { encoding: 'utf8' });
    assert.equal(again.status, 0, `${cli} --version: ${again.stderr}`);
    assert.match(again.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('-R over a tree whose kustomization.yaml files sit in subdirectories: each warning names the directory holding one, not the -f root', async () => {
    const root = join(dir, 'kustomized');
    for (const sub of ['base', 'overlays/prod']) {
      await mkdir(join(root, sub), { recursive: true });
      await writeFile(join(root, sub, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n');
    }
    await writeFile(join(root, 'pod.yaml'), POD);
    const run = await inject(['-R', '-f', root]);
    assert.equal(run.code, 0, run.stderr);
    const warnings = run.stderr.split('\n').filter((line) => line.includes('has a kustomization.yaml'));
    assert.deepEqual(
      warnings.map((line) => /^Warning: (\S+): .*kubectl kustomize (\S+) \|/.exec(line)?.slice(1)),
      [
        [join(root, 'base'), join(root, 'base')],
        [join(root, 'overlays/prod'), join(root, 'overlays/prod')],
      ],
    );
  });

  test('only .json, .yaml and .yml files; subdirectories only with -R; an empty directory is a warning', async () => {
    const root = join(dir, 'tree');
    await mkdir(join(root, 'sub'), { recursive: true });
    await writeFile(join(root, 'b.yaml'), POD.replace('name: p', 'name: b'));
    await writeFile(join(root, 'a.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
    await writeFile(join(root, 'README.md'), '# not a manifest\n');
    await writeFile(join(root, 'sub', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c' } }));
    const flat = await inject(['-f', root]);
    assert.equal(flat.code, 0, flat.stderr);
    assert.deepEqual(kinds(flat.stdout), ['ConfigMap', 'Pod']);
    const deep = await inject(['-f', root, '-R']);
    assert.equal(deep.code, 0, deep.stderr);
    assert.deepEqual(kinds(deep.stdout), ['ConfigMap', 'Pod', 'Secret']);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const none = await inject(['-f', empty]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^Warning: .*empty: no \.json, \.yaml, \.yml files in this directory \(-R reads subdirectories\)$/m);
  });
});

describe('input that is not a manifest', () => {
  for (const [name, text] of [
    ['hello world', 'hello world\n'],
    ['a mapping without kind', 'name: web\nreplicas: 3\n'],
    ['an empty file', ''],
    ['only comments', '# nothing here yet\n'],
  ] as const) {
    test(`${name}: a warning "no Kubernetes objects found", exit 0, the input passed on`, async () => {
      const file = join(dir, `${name.replaceAll(' ', '-')}.yaml`);
      await writeFile(file, text);
      const run = await inject(['-f', file]);
      assert.equal(run.code, 0);
      assert.equal(run.stdout, text);
      assert.equal(run.stderr, `Warning: ${file}: no Kubernetes objects found (a manifest's documents are mappings with apiVersion and kind)\n`);
    });
  }

  test('a document that is not an object next to ones that are: a warning naming it', async () => {
    const run = await inject(['-f', '-'], `${POD}---\njust text\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^Warning: stdin: document 2 is not a Kubernetes object \(it needs apiVersion and kind\); kubectl will refuse it$/m);
  });

  test('a binary file: error, exit 1, nothing on stdout', async () => {
    const file = join(dir, 'image.yaml');
    await writeFile(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    const run = await inject(['-f', file]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: .*image\.yaml: not a YAML or JSON manifest: bytes that are not UTF-8 text near byte 0; inject reads text \(UTF-8\)$/m);
    const nul = await inject(['-f', '-'], Buffer.from('kind: Pod\n\0\0\0'));
    assert.equal(nul.code, 1);
    assert.equal(nul.stdout, '');
    assert.match(nul.stderr, /^error: stdin: not a YAML or JSON manifest: binary data \(a NUL byte near byte 10\)/m);
  });
});

test('a reader that closes the pipe early (| head): exit 0, nothing on stderr', async () => {
  // 4 MiB passed through after one injected Pod: far more than a pipe holds.
  const big = `${POD}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: |\n${`    ${'x'.repeat(96)}\n`.repeat(40_000)}`;
  const file = join(dir, 'big.yaml');
  await writeFile(file, big);
  const child = start(['-f', file]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end();
  await once(child.stdout, 'data');
  child.stdout.destroy();
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
});

describe('signals stop it at once, with nothing on stdout', () => {
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    test(`${signal} while it waits for more input on stdin: exit ${String(status)}`, async () => {
      const child = start(['-f', '-']);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const warned = new Promise<void>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (stderr.includes('Warning:')) resolve();
        });
      });
      // A Pod with a misspelt annotation, then more documents so it gets processed: its warning on
      // stderr says inject is running (signal handlers in place). stdin stays open.
      const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n';
      child.stdin.write(`${POD.replace('  annotations:\n', '  annotations:\n    envoy-xds-injector.io/mountpath: /x\n')}---\n${configMap}---\n${configMap}---\n${configMap}`);
      await warned;
      child.kill(signal);
      await once(child, 'exit');
      assert.equal(child.exitCode, status);
      assert.equal(stdout, '');
    });
  }
});
