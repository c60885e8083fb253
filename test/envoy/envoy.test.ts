// The Envoy harness itself: real Envoy 1.40 loads an LDS file, serves its direct_response body, and
// reloads when a new version is renamed onto the watched path (what `watch` relies on).
import { strict as assert } from 'node:assert';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy, type EnvoyProcess } from './envoy.js';

let dir: string;
let envoy: EnvoyProcess;
let port: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envoy-harness-'));
  [port] = (await freePorts(1)) as [number];
  await writeFile(join(dir, 'lds.yaml'), ldsYaml({ port, body: 'v1', versionInfo: 'one' }));
  envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(dir, 'lds.yaml') }) }, workDir: dir });
});

after(async () => {
  await envoy.stop();
  await rm(dir, { recursive: true, force: true });
});

test('Envoy serves the LDS file it was started with and reports its version_info', async () => {
  await envoy.waitForBody(port, 'v1');
  assert.equal(await envoy.stat('listener_manager.lds.update_success'), 1);
  assert.equal(await envoy.textStat('listener_manager.lds.version_text'), 'one');
});

test('a rename onto the watched path makes Envoy load the new version', async () => {
  await writeFile(join(dir, 'lds.yaml.tmp'), ldsYaml({ port, body: 'v2', versionInfo: 'two' }));
  await rename(join(dir, 'lds.yaml.tmp'), join(dir, 'lds.yaml'));
  await envoy.waitForBody(port, 'v2');
  assert.equal(await envoy.textStat('listener_manager.lds.version_text'), 'two');
  assert.equal(await envoy.stat('listener_manager.lds.update_success'), 2);
});
