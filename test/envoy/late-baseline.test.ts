// A pass of plain xDS files renames before Envoy answers the request for its baseline
// (src/sync/verdict/baseline.ts). When Envoy builds that answer after it reloaded the renamed files,
// the answer already counts the reloads and must not be the baseline: the watcher renames the same
// files once more and judges them against it. Here a relay between the watcher and Envoy's admin
// API holds every request 80 ms before Envoy sees it, so the answer always comes after the reload.
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../sync/harness.js';
import { ldsYaml } from './envoy.js';
import { TIMEOUT, refusedLds, running, startPod, verdicts } from './pod.js';

const HOLD_MS = 80;

/** A TCP relay to 127.0.0.1:`port` that passes on what the client sends `holdMs` later (answers at once). */
async function slowRelay(port: number, holdMs: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    client.on('data', (chunk) => setTimeout(() => upstream.write(chunk), holdMs));
    upstream.pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => setTimeout(close, holdMs));
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test("a refused edit whose baseline answer came after Envoy's reload is still judged refused and rolled back", TIMEOUT, async () => {
  let relay: Server | undefined;
  const pod = await startPod({
    lds: (port) => ldsYaml({ port, body: 'v1' }),
    watchArgs: ['--verdict-timeout', '5s'],
    adminVia: async (adminPort) => {
      relay = await slowRelay(adminPort, HOLD_MS);
      return `127.0.0.1:${String((relay.address() as AddressInfo).port)}`;
    },
  });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'v1');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').some((l) => l.outcome === 'accepted'), 'v1 judged');
    const good = await readFile(join(pod.target, 'lds.yaml'), 'utf8');

    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v2' }) });
    await envoy.waitForBody(pod.port, 'v2');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length === 2, 'v2 judged');
    assert.equal(verdicts(pod.watcher.logs, 'lds.yaml')[1]?.outcome, 'accepted');
    const accepted = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    assert.notEqual(accepted, good);

    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': await refusedLds(pod.port) });
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length === 3, 'refused edit judged');
    const refused = verdicts(pod.watcher.logs, 'lds.yaml')[2];
    assert.equal(refused?.outcome, 'rejected', JSON.stringify(refused));
    assert.equal(refused.rolledBack, true);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), accepted);
    assert.deepEqual(await envoy.get(pod.port), { status: 200, body: 'v2' });
    // The answer came after the reload every time: the files were renamed once more to be judged.
    assert.ok(pod.watcher.logs.some((l) => String(l.msg).includes('publishing the same files again')), 'the fallback ran');
  } finally {
    await pod.stop();
    relay?.close();
  }
});
