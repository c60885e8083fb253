import { strict as assert } from 'node:assert';
import { chmod, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootstrapYaml, freePorts, startEnvoy } from '../envoy/envoy.js';
import { CORPUS_PORT } from '../envoy/oracle.js';
import { AtomicWriter, BOOTSTRAP, makeTempDirs, publishedText, repoRoot, runCli, xdsFile } from './harness.js';

const messages = (logs: { msg?: string }[]) => logs.map((line) => line.msg ?? '').join('\n');

test('copy publishes one snapshot of a kubelet ConfigMap volume and exits 0', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    const files = { 'envoy.yaml': BOOTSTRAP, 'cds.yaml': xdsFile('cds', 1, 5000), 'lds.yaml': xdsFile('lds', 1, 3000) };
    await new AtomicWriter(source).write(files);
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual((await readdir(target)).sort(), ['cds.yaml', 'envoy.yaml', 'lds.yaml']);
    for (const [name, content] of Object.entries(files)) assert.equal(await readFile(join(target, name), 'utf8'), publishedText(name, content));
    const published = result.logs.filter((line) => line.msg === 'published');
    assert.deepEqual(published.map((line) => line.file), ['cds.yaml', 'lds.yaml', 'envoy.yaml'], 'clusters before listeners, bootstrap last');
    for (const line of published) assert.match(String(line.sha256), /^[0-9a-f]{12}$/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy also reads a plain directory and leaves no temp files', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await writeFile(join(source, 'cds.yaml'), xdsFile('cds', 1, 100));
    await writeFile(join(target, '..stale.tmp-1-1'), 'left by a killed run');
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(await readdir(target), ['cds.yaml']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy from an empty or missing ConfigMap mount fails and names the mount', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    const empty = await runCli(['copy', '--from', source, '--to', target]);
    assert.notEqual(empty.code, 0);
    assert.match(messages(empty.logs), new RegExp(`ConfigMap volume ${source} is empty`));

    const missing = await runCli(['copy', '--from', join(root, 'nope'), '--to', target]);
    assert.notEqual(missing.code, 0);
    assert.match(messages(missing.logs), new RegExp(`ConfigMap volume ${join(root, 'nope')} does not exist`));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy into a target it cannot write fails with a clear error', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await new AtomicWriter(source).write({ 'cds.yaml': xdsFile('cds', 1, 100) });
    await chmod(target, 0o555);
    // root ignores permission bits: run the copy as nobody, as the injected container runs non-root.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    await chmod(root, 0o755); // mkdtemp made it 0700
    const result = await runCli(['copy', '--from', source, '--to', target], asNobody);
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(messages(result.logs), new RegExp(`target directory ${target} is not writable \\(EACCES\\)`));
    assert.deepEqual(await readdir(target), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy refuses a file that fails validation when there is no previous copy', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await new AtomicWriter(source).write({ 'cds.yaml': xdsFile('cds', 1, 100), 'lds.yaml': 'resources:\n- name: [oops\n' });
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.notEqual(result.code, 0);
    const rejection = result.logs.find((line) => String(line.msg).startsWith('rejected lds.yaml:'));
    assert.ok(rejection, messages(result.logs));
    assert.equal(typeof rejection.line, 'number');
    assert.deepEqual(await readdir(target), ['cds.yaml'], 'valid files are still published');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy keeps the previous copy of an invalid file (Pod restart) and exits 0', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await writeFile(join(target, 'lds.yaml'), xdsFile('lds', 1, 100));
    await new AtomicWriter(source).write({ 'cds.yaml': xdsFile('cds', 2, 100), 'lds.yaml': 'resources: {' });
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 0, result.stdout);
    assert.match(messages(result.logs), /rejected lds\.yaml:\d+:\d+: invalid YAML: .*the last good version stays published/);
    assert.equal(await readFile(join(target, 'lds.yaml'), 'utf8'), xdsFile('lds', 1, 100)); // left as it was
    assert.equal(await readFile(join(target, 'cds.yaml'), 'utf8'), publishedText('cds.yaml', xdsFile('cds', 2, 100)));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('shared case envoy-accepts-ignore-tag: copy publishes it and Envoy serves "v1"', async () => {
  const { root, source, target } = await makeTempDirs();
  const [port] = (await freePorts(1)) as [number];
  const fixture = await readFile(join(repoRoot, 'test/fixtures/envoy-corpus/accepts.ignore-tag-on-value.lds.yaml'), 'utf8');
  const lds = fixture.replaceAll(CORPUS_PORT, String(port));
  try {
    await new AtomicWriter(source).write({ 'lds.yaml': lds });
    const result = await runCli(['copy', '--from', source, '--to', target]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    // Published as written, plus the one version_info line the watcher's verdict reads back.
    const published = await readFile(join(target, 'lds.yaml'), 'utf8');
    const stamp = /^version_info: "(sha256:[0-9a-f]{12})"\n/m.exec(published);
    assert.ok(stamp, published);
    assert.equal(published.replace(stamp[0], ''), lds);
    const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(target, 'lds.yaml') }) } });
    try {
      await envoy.waitForBody(port, 'v1');
      assert.equal(await envoy.textStat('listener_manager.lds.version_text'), stamp[1]);
      assert.equal(await envoy.stat('listener_manager.lds.update_success'), 1);
      assert.equal(await envoy.stat('listener_manager.lds.update_rejected'), 0);
      assert.equal(await envoy.stat('listener_manager.lds.update_failure'), 0);
    } finally {
      await envoy.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('copy rejects bad flags with a usage error', async () => {
  const result = await runCli(['copy', '--from', '/tmp']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--from and --to are required/);
});

test('copy --bootstrap fails, naming the key and the mount-path annotation, when the ConfigMap lacks the bootstrap', async () => {
  const { root, source, target } = await makeTempDirs();
  try {
    await new AtomicWriter(source).write({ 'lds.yaml': xdsFile('lds', 1, 100), 'cds.yaml': xdsFile('cds', 1, 100) });
    const missing = await runCli(['copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml']);
    assert.equal(missing.code, 1);
    assert.match(messages(missing.logs), /Envoy's bootstrap envoy\.yaml is not in the ConfigMap.*add key envoy\.yaml to the ConfigMap, or set annotation envoy-xds-injector\.io\/mount-path/);

    await new AtomicWriter(source).write({ 'lds.yaml': xdsFile('lds', 1, 100), 'cds.yaml': xdsFile('cds', 1, 100), 'envoy.yaml': BOOTSTRAP });
    const present = await runCli(['copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml']);
    assert.equal(present.code, 0, messages(present.logs));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
