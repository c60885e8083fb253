// `watch --source api` where no API credentials exist: the Pod keeps working from the volume.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AtomicWriter, CliProcess, makeTempDirs, waitFor } from './harness.js';

test('--source api without in-cluster credentials: one error line saying why, then the volume is followed', { timeout: 120_000 }, async () => {
  const dirs = await makeTempDirs();
  const writer = new AtomicWriter(dirs.source);
  await writer.write({ 'lds.yaml': 'resources: []\n' });
  const env: NodeJS.ProcessEnv = { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '', ENVOY_XDS_KUBECONFIG: '' };
  const watcher = new CliProcess(['watch', '--from', dirs.source, '--to', dirs.target, '--source', 'api', '--configmap', 'xds', '--namespace', 'ns'], { env });
  try {
    const line = await watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('--source api cannot reach the Kubernetes API'), 'the error line');
    assert.match(line.msg ?? '', /KUBERNETES_SERVICE_HOST\/KUBERNETES_SERVICE_PORT are not set.*following the ConfigMap volume only/);
    await watcher.waitForLog((l) => l.msg === 'watching', 'ready');
    await writer.write({ 'lds.yaml': 'resources: [] # v2\n' });
    await waitFor(async () => (await readFile(join(dirs.target, 'lds.yaml'), 'utf8').catch(() => '')).includes('v2'), 'the volume change published');
  } finally {
    await watcher.stop();
    await rm(dirs.root, { recursive: true, force: true });
  }
});
