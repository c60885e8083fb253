// The test node runs no kube-proxy, so a Pod cannot reach the `kubernetes` Service (10.96.0.1:443,
// what the kubelet puts in every container's KUBERNETES_SERVICE_HOST/PORT and what in-cluster
// clients dial). This stands in for kube-proxy's rule for that one Service: the ClusterIP is added
// to the host's loopback (a Pod's packets reach the host through the bridge gateway, and the host
// takes any local address), and a TCP relay on 10.96.0.1:443 passes each connection to the
// apiserver's secure port unchanged: TLS end to end, the apiserver's certificate already names
// 10.96.0.1 (test/e2e/cluster.ts), and the Pod's ServiceAccount token authenticates as in a cluster.
import { execFileSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** The first address of SERVICE_CLUSTER_IP_RANGE: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
const PORT = 443;

/** Removes the ClusterIP from the loopback; safe when it is not there (teardown of a crashed run). */
export function removeServiceAddress(): void {
  try {
    execFileSync('ip', ['addr', 'del', `${KUBERNETES_SERVICE_IP}/32`, 'dev', 'lo'], { stdio: 'ignore' });
  } catch {
    // not there
  }
}

export interface ServiceProxy {
  /** Connections relayed so far (a test can tell the Pods used it). */
  readonly connections: number;
  close(): Promise<void>;
}

/** Starts the relay to `apiserver` (`https://127.0.0.1:PORT`). Needs root (an address, port 443). */
export async function startKubernetesServiceProxy(apiserver: string): Promise<ServiceProxy> {
  const target = new URL(apiserver);
  removeServiceAddress();
  execFileSync('ip', ['addr', 'add', `${KUBERNETES_SERVICE_IP}/32`, 'dev', 'lo']);
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(PORT, KUBERNETES_SERVICE_IP, resolve);
    });
  } catch (err) {
    removeServiceAddress();
    throw err;
  }
  return {
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
      removeServiceAddress();
    },
  };
}
