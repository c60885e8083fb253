// No Docker engine here, so this replays the Dockerfile on the real files: every stage the runtime
// image needs is rebuilt in a temp dir (COPY from the build context through .dockerignore, the
// stages' npm commands run verbatim), then the runtime stage's ENTRYPOINT runs the CLI. A broken
// recipe (a missing COPY, a dev dependency needed at run time, a wrong entrypoint) fails here.
import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Dockerfile } from './dockerfile.js';
import { dockerignore, execForm, parseCopy, parseDockerfile, stage } from './dockerfile.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dockerfile = parseDockerfile(await readFile(join(repo, 'Dockerfile'), 'utf8'));
const isIgnored = dockerignore(await readFile(join(repo, '.dockerignore'), 'utf8'));
const RUNTIME = dockerfile.stages.at(-1)?.name ?? '';

/** The external image a stage ultimately starts from, following `FROM <earlier stage>`. */
function baseImage(file: Dockerfile, name: string): string {
  const from = stage(file, name).from;
  return file.stages.some((s) => s.name === from) ? baseImage(file, from) : from;
}

function last(name: string, keyword: string): string | undefined {
  return stage(dockerfile, name)
    .instructions.filter((i) => i.keyword === keyword)
    .at(-1)?.args;
}

describe('Dockerfile', () => {
  test('the runtime image is a supported Node LTS (22 or 24, not 20), slim, non-root, CLI entrypoint', () => {
    assert.equal(RUNTIME, 'runtime');
    assert.match(baseImage(dockerfile, RUNTIME), /^node:(22|24)(\.\d+)*-(\w+-)?slim$/);
    assert.equal(last(RUNTIME, 'USER'), '10001:10001', 'numeric uid so runAsNonRoot can check it');
    assert.deepEqual(execForm(last(RUNTIME, 'ENTRYPOINT') ?? ''), ['node', '/app/dist/cli/main.js']);
    assert.ok(
      !stage(dockerfile, RUNTIME).instructions.some((i) => i.keyword === 'RUN'),
      'the runtime stage only assembles files; installs happen in earlier stages',
    );
  });

  test('the build stage compiles with all dependencies; the runtime gets production ones only', () => {
    const runs = (name: string) =>
      stage(dockerfile, name)
        .instructions.filter((i) => i.keyword === 'RUN')
        .map((i) => i.args);
    assert.ok(runs('build').some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')));
    assert.ok(runs('build').includes('npm run build'));
    assert.ok(runs('prod-deps').some((r) => /^npm ci\b.*--omit=dev.*--ignore-scripts|^npm ci\b.*--ignore-scripts.*--omit=dev/.test(r)));
    const copies = stage(dockerfile, RUNTIME)
      .instructions.filter((i) => i.keyword === 'COPY')
      .map((i) => parseCopy(i.args));
    assert.deepEqual(
      copies.map((c) => [c.from, c.sources.join(' ')]),
      [
        ['prod-deps', '/app/node_modules'],
        ['build', '/src/dist'],
        [undefined, 'schema'],
        [undefined, 'package.json'],
      ],
    );
  });

  test('.dockerignore keeps keys, certificates, node_modules, dist and .git out of the build context', () => {
    for (const path of ['node_modules/fastify/package.json', 'dist/cli/main.js', '.git/config', 'certs/out/tls.key', 'tls.key', '.dev-certs/key.pem', 'test/deploy/dockerfile.test.ts']) {
      assert.ok(isIgnored(path), `${path} must not be sent to the Docker daemon`);
    }
  });
});

describe('the image recipe, replayed without Docker', () => {
  let work = '';
  const roots = new Map<string, string>();
  const env: Record<string, string> = {};

  // Each stage's filesystem is a directory; `/x` inside the stage is `<root>/x`.
  async function buildStage(name: string): Promise<string> {
    const built = roots.get(name);
    if (built !== undefined) return built;
    const s = stage(dockerfile, name);
    const root = join(work, name);
    await mkdir(root, { recursive: true });
    if (dockerfile.stages.some((x) => x.name === s.from)) await cp(await buildStage(s.from), root, { recursive: true });
    const copiesFiles = s.instructions.some((i) => i.keyword === 'COPY');
    let workdir = '/';
    for (const ins of s.instructions) {
      switch (ins.keyword) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, ins.args);
          await mkdir(join(root, workdir), { recursive: true });
          break;
        case 'COPY': {
          const copy = parseCopy(ins.args);
          const sourceRoot = copy.from === undefined ? repo : await buildStage(copy.from);
          const dest = posix.resolve(workdir, copy.dest);
          const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
          for (const source of copy.sources) {
            if (copy.from === undefined) {
              assert.ok(!isIgnored(source), `line ${ins.line}: COPY ${source} but .dockerignore excludes it`);
            }
            const from = join(sourceRoot, copy.from === undefined ? source : posix.resolve('/', source));
            const fromIsDir = (await stat(from)).isDirectory();
            // Docker copies a directory's contents, and a file into a dir when dest ends in '/'.
            const to = join(root, intoDir && !fromIsDir ? posix.join(dest, basename(source)) : dest);
            await mkdir(fromIsDir ? to : dirname(to), { recursive: true });
            await cp(from, to, { recursive: true });
          }
          break;
        }
        case 'RUN':
          if (/^npm\s/.test(ins.args)) {
            // Same command; --prefer-offline only so the local npm cache serves what it can.
            await run('sh', ['-c', ins.args], {
              cwd: join(root, workdir),
              env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
              maxBuffer: 16 << 20,
            });
          } else {
            // Adjusting the base image (e.g. removing npm) cannot be replayed on this machine; it
            // must not be where our files are made.
            assert.ok(!copiesFiles, `line ${ins.line}: only npm commands can be replayed in a stage that copies files`);
          }
          break;
        case 'ENV': {
          const m = /^(\w+)=(\S*)$/.exec(ins.args);
          assert.ok(m?.[1] !== undefined && m[2] !== undefined, `line ${ins.line}: ENV KEY=value`);
          if (name === RUNTIME) env[m[1]] = m[2];
          break;
        }
        default:
          break;
      }
    }
    roots.set(name, root);
    return root;
  }

  const runtimeRoot = () => roots.get(RUNTIME) ?? assert.fail('runtime stage not built');

  /** The container's ENTRYPOINT with `args`, as the image would run it (host node, same files). */
  function container(args: string[]) {
    const [node, script, ...rest] = execForm(last(RUNTIME, 'ENTRYPOINT') ?? '') ?? [];
    assert.equal(node, 'node');
    if (script?.startsWith('/') !== true) assert.fail('ENTRYPOINT ["node", "/absolute/path.js"]');
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
    return run(process.execPath, [join(runtimeRoot(), script), ...rest, ...args], {
      cwd: join(runtimeRoot(), 'app'),
      env: childEnv,
    });
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'envoy-xds-image-'));
    // Nothing above the temp dir may offer packages, or a missing dependency would go unnoticed.
    for (let dir = dirname(work); dir !== dirname(dir); dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${dir}${sep}node_modules would leak into the replay`);
    }
    await buildStage(RUNTIME);
  });
  after(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  test('the runtime tree holds dist, package.json and production dependencies only', async () => {
    const app = join(runtimeRoot(), 'app');
    assert.deepEqual((await readdir(app)).sort(), ['dist', 'node_modules', 'package.json', 'schema']);
    for (const dep of Object.keys(pkg.dependencies)) {
      assert.ok(existsSync(join(app, 'node_modules', dep, 'package.json')), `${dep} is installed`);
    }
    // @kubernetes/client-node is a runtime dependency since watch --source api (its Watch).
    for (const dev of ['typescript', 'tsx', 'eslint', 'fast-check', 'autocannon']) {
      assert.ok(!existsSync(join(app, 'node_modules', dev)), `dev dependency ${dev} must not be in the image`);
    }
  });

  test('every package that dist/ imports is in the image (no dev dependency used at run time)', async () => {
    const app = join(runtimeRoot(), 'app');
    const files = (await readdir(join(app, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js'));
    assert.ok(files.includes(join('cli', 'main.js')));
    const specifier = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;
    const missing: string[] = [];
    for (const file of files) {
      const code = await readFile(join(app, 'dist', file), 'utf8');
      for (const m of code.matchAll(specifier)) {
        const spec = m[1] ?? m[2] ?? m[3] ?? '';
        if (spec.startsWith('.') || isBuiltin(spec)) continue;
        const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
        if (!existsSync(join(app, 'node_modules', name, 'package.json'))) missing.push(`${file}: ${spec}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  test('the entrypoint runs the CLI: --help and --version', async () => {
    const help = await container(['--help']);
    for (const command of ['serve', 'inject', 'copy', 'watch']) assert.match(help.stdout, new RegExp(`^  ${command}\\s`, 'm'));
    const version = await container(['--version']);
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('the entrypoint runs the init container role: copy from a kubelet-style ConfigMap volume', async () => {
    // What the kubelet mounts: the files in a timestamped dir, ..data -> it, each key -> ..data/key.
    const source = join(work, 'configmap');
    const stamped = join(source, '..2026_11_24_00_00_00.000000001');
    await mkdir(stamped, { recursive: true });
    const files: Record<string, string> = {
      'envoy.yaml': 'node: {id: n, cluster: c}\n',
      // An xDS file gets the version of its content (the user's version_info, then +sha256:...).
      'cds.yaml': 'version_info: "1"\nresources: []\n',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(stamped, name), text);
    await symlink(basename(stamped), join(source, '..data'));
    for (const name of Object.keys(files)) await symlink(posix.join('..data', name), join(source, name));
    const target = join(work, 'emptydir');
    await mkdir(target);

    await container(['copy', '--from', source, '--to', target]);
    assert.equal(await readFile(join(target, 'envoy.yaml'), 'utf8'), files['envoy.yaml']);
    assert.match(await readFile(join(target, 'cds.yaml'), 'utf8'), /^version_info: "1\+sha256:[0-9a-f]{12}"\nresources: \[\]\n$/);
  });
});
