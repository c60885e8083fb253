// A kubeconfig for a loopback stand-in apiserver (plain HTTP, a fixed bearer token), written to a
// fresh temporary directory: what the tests that run the watcher's API code against one need.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes it; returns the directory (the caller removes it) and the kubeconfig's path. */
export async function loopbackKubeconfig(port: number, prefix: string): Promise<{ dir: string; kubeconfig: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${String(port)}` } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  return { dir, kubeconfig };
}
