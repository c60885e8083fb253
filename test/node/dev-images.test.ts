// dev:cluster --without-injector's image dir (dev-images.ts): the injector left out, its archive
// named for the import, and the temp dir gone on exit, also when the process exits without calling
// remove() (a trial found /tmp/envoy-xds-dev-images-* left after Ctrl-C). No node, no lock.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { imagesWithout } from './dev-images.js';

async function fakeCache(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dev-images-test-'));
  const all = join(root, 'images');
  await mkdir(all);
  for (const name of ['pause', 'envoy', 'injector']) {
    await writeFile(join(all, `${name}.oci.tar`), name);
    await writeFile(join(all, `${name}.ref`), `example.org/${name}:v1\n`);
    await writeFile(join(all, `${name}.key`), 'k');
  }
  return all;
}

test('links every image but the injector, names its archive and reference, remove() leaves the cache', async (t) => {
  const all = await fakeCache();
  t.after(() => rm(join(all, '..'), { recursive: true, force: true }));
  const w = await imagesWithout(all, 'injector');
  assert.deepEqual((await readdir(w.dir)).sort(), ['envoy.key', 'envoy.oci.tar', 'envoy.ref', 'pause.key', 'pause.oci.tar', 'pause.ref']);
  assert.equal(await readlink(join(w.dir, 'pause.oci.tar')), join(all, 'pause.oci.tar'));
  assert.equal(w.archive, join(all, 'injector.oci.tar'));
  assert.equal(w.ref, 'example.org/injector:v1');
  await w.remove();
  assert.equal(existsSync(w.dir), false);
  assert.equal((await readdir(all)).length, 9);
});

test('no such image: an error naming it, no temp dir made', async (t) => {
  const all = await fakeCache();
  t.after(() => rm(join(all, '..'), { recursive: true, force: true }));
  await rm(join(all, 'injector.oci.tar'));
  const before = (await readdir(tmpdir())).filter((f) => f.startsWith('envoy-xds-dev-images-'));
  await assert.rejects(imagesWithout(all, 'injector'), /no injector\.oci\.tar in /);
  assert.deepEqual((await readdir(tmpdir())).filter((f) => f.startsWith('envoy-xds-dev-images-')), before);
});

test('the temp dir goes when the process exits without remove() (a signal handler calling process.exit)', async (t) => {
  const all = await fakeCache();
  t.after(() => rm(join(all, '..'), { recursive: true, force: true }));
  const module = fileURLToPath(new URL('./dev-images.ts', import.meta.url));
  const script = `const { imagesWithout } = await import(${JSON.stringify(module)});
const w = await imagesWithout(${JSON.stringify(all)}, 'injector');
process.stdout.write(w.dir);
process.on('SIGINT', () => process.exit(130));
process.kill(process.pid, 'SIGINT');
await new Promise(() => setTimeout(() => {}, 10_000));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 130, r.stderr);
  assert.match(r.stdout, /envoy-xds-dev-images-/);
  assert.equal(existsSync(r.stdout), false, `${r.stdout} left behind`);
  assert.equal((await readdir(all)).length, 9);
});
