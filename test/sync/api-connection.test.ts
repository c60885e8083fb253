// The watcher's API connection (src/sync/kube/connection.ts) against a server that accepts TCP and
// never answers, as a silent load balancer does: a request fails as unreachable once its timeout has
// passed since it was sent, including on a new TLS connection whose handshake gets no answer.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiUnreachableError } from '../../src/sync/kube/connection.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';

test('a request to a silent server (TCP accepted, TLS never answered) fails as unreachable after its timeout, not twice it', { timeout: 30_000 }, async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined); // read and discard: the client's writes complete
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-conn-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${String((silent.address() as AddressInfo).port)}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
    }));
    const connection = kubeconfigConnection(kubeconfig);
    try {
      for (const timeoutMs of [400, 800]) {
        const t0 = performance.now();
        await assert.rejects(connection.request('GET', '/api/v1/namespaces/ns/configmaps', undefined, undefined, timeoutMs), (err: unknown) => {
          assert.ok(err instanceof ApiUnreachableError);
          assert.match(err.message, /no answer within/);
          return true;
        });
        const took = performance.now() - t0;
        assert.ok(took >= timeoutMs - 20 && took < timeoutMs * 1.5, `${String(Math.round(took))} ms for a ${String(timeoutMs)} ms timeout`);
      }
    } finally {
      connection.close();
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
    await rm(dir, { recursive: true, force: true });
  }
});
