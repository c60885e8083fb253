// loadInjectorConfig: defaults < file (YAML or JSON) < flags, and errors that name file, key or flag.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseArgs } from 'node:util';
import { configFromFlags, injectorConfigFlags, InvalidConfigError, loadInjectorConfig } from '../../src/cli/config.js';
import { defaultConfig } from '../../src/inject/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'exi-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function file(content: string, ext = 'yaml'): Promise<string> {
  const path = join(dir, `config-${String(++counter)}.${ext}`);
  await writeFile(path, content);
  return path;
}

function flags(...args: string[]) {
  return configFromFlags(parseArgs({ args, options: injectorConfigFlags, strict: true }).values);
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof InvalidConfigError, `expected InvalidConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be refused');
}

describe('loadInjectorConfig', () => {
  test('no file and no flags: the defaults for this version', async () => {
    assert.deepEqual(await loadInjectorConfig(undefined, '1.2.3'), defaultConfig('1.2.3'));
  });

  test('the defaults pass the schema (they are not validated when no file or flag is given)', async () => {
    const { version: _version, ...defaults } = defaultConfig('1.2.3');
    const path = await file(JSON.stringify(defaults));
    assert.deepEqual(await loadInjectorConfig(path, '1.2.3'), defaultConfig('1.2.3'));
  });

  test('a YAML file overrides only the keys it sets; resources merge key by key', async () => {
    const path = await file('# mounted from a ConfigMap\nimage: registry.local/exi:v2\nsidecar: container\nresources:\n  memoryLimit: 128Mi\n  cpuLimit: 1\n');
    const config = await loadInjectorConfig(path, '1.2.3');
    assert.deepEqual(config, {
      ...defaultConfig('1.2.3'),
      image: 'registry.local/exi:v2',
      sidecar: 'container',
      resources: { ...defaultConfig('1.2.3').resources, memoryLimit: '128Mi', cpuLimit: '1' },
    });
  });

  test('a JSON file works too, and an empty file means all defaults', async () => {
    const json = await file('{"mountPath": "/etc/envoy/xds/", "imagePullPolicy": "Always"}', 'json');
    const config = await loadInjectorConfig(json, '1.0.0');
    assert.equal(config.mountPath, '/etc/envoy/xds/');
    assert.equal(config.imagePullPolicy, 'Always');
    assert.deepEqual(await loadInjectorConfig(await file('# nothing yet\n'), '1.0.0'), defaultConfig('1.0.0'));
  });

  test('flags override the file', async () => {
    const path = await file('image: from-file:1\nresources:\n  cpuRequest: 50m\n');
    const config = await loadInjectorConfig(path, '1.0.0', flags('--image', 'from-flag:2', '--cpu-request', '20m', '--mount-path', '/xds'));
    assert.equal(config.image, 'from-flag:2');
    assert.equal(config.resources.cpuRequest, '20m');
    assert.equal(config.resources.memoryRequest, defaultConfig('1.0.0').resources.memoryRequest);
    assert.equal(config.mountPath, '/xds');
  });

  test('the version always comes from the binary, never from the file', async () => {
    const message = await rejection(loadInjectorConfig(await file('version: 0.0.1\n'), '1.0.0'));
    assert.match(message, /unknown key "version"/);
  });

  const refused: [string, string, RegExp][] = [
    ['an unknown top-level key', 'imagee: x\n', /unknown key "imagee" \(allowed here: image, imagePullPolicy, mountPath, sidecar, resources\)/],
    ['an unknown resources key', 'resources:\n  cpu: 1\n', /unknown key "resources\.cpu"/],
    ['a bad enum', 'sidecar: nativ\n', /key "sidecar" is "nativ" but must be native or container/],
    ['a bad pull policy', 'imagePullPolicy: always\n', /key "imagePullPolicy" is "always" but must be one of Always, IfNotPresent, Never/],
    ['a non-quantity', 'resources:\n  memoryLimit: 64MB\n', /key "resources\.memoryLimit" is "64MB" but must be a Kubernetes quantity/],
    ['a negative quantity', 'resources:\n  cpuRequest: "-10m"\n', /key "resources\.cpuRequest" is "-10m"/],
    ['a relative mount path', 'mountPath: etc/envoy\n', /key "mountPath" is "etc\/envoy" but must be an absolute directory/],
    ['a mount path with ..', 'mountPath: /etc/../envoy\n', /key "mountPath"/],
    ['an image with a space', 'image: "envoy xds"\n', /key "image"/],
    ['a list instead of a mapping', '- image: x\n', /the top level is .* but must be a mapping/],
    ['a request above its limit', 'resources:\n  memoryRequest: 1Gi\n', /resources\.memoryRequest 1Gi is larger than resources\.memoryLimit 80Mi/],
    ['a duplicate key', 'image: a\nimage: b\n', /not valid YAML or JSON/],
    ['broken YAML', 'resources: [\n', /not valid YAML or JSON/],
  ];
  for (const [name, content, expected] of refused) {
    test(`refuses ${name}, naming the file and the key`, async () => {
      const path = await file(content);
      const message = await rejection(loadInjectorConfig(path, '1.0.0'));
      assert.ok(message.startsWith(`config file ${path}`), message);
      assert.match(message, expected);
    });
  }

  test('reports every wrong key at once', async () => {
    const message = await rejection(loadInjectorConfig(await file('sidecar: x\nimagePullPolicy: y\n'), '1.0.0'));
    assert.match(message, /"sidecar"/);
    assert.match(message, /"imagePullPolicy"/);
  });

  test('a missing file is refused with the path and the reason', async () => {
    const missing = join(dir, 'nope.yaml');
    assert.equal(await rejection(loadInjectorConfig(missing, '1.0.0')), `config file ${missing}: cannot read it (ENOENT)`);
  });

  test('the config shipped in manifests/base is valid and matches the defaults', async () => {
    const shipped = new URL('../../manifests/base/config.yaml', import.meta.url).pathname;
    const config = await loadInjectorConfig(shipped, '1.0.0');
    assert.deepEqual({ ...config, image: '' }, { ...defaultConfig('1.0.0'), image: '' });
  });

  test('a bad flag is named as the flag', async () => {
    const message = await rejection(loadInjectorConfig(undefined, '1.0.0', flags('--memory-limit', 'lots', '--sidecar', 'pod')));
    assert.match(message, /--memory-limit is "lots" but must be a Kubernetes quantity/);
    assert.match(message, /--sidecar is "pod" but must be native or container/);
  });
});
