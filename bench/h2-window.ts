// npm run bench:h2-window — a 1 MiB answer over the watcher's HTTP/2 connection (client-go's
// settings: src/sync/kube/h2-client.ts) next to the same request on a node:http2 connection with
// Node's defaults (64 KiB flow-control window per stream and per connection), through a loopback
// TCP relay that delays each chunk by half the round-trip time each way, on warm connections.
// With a 64 KiB window a 1 MiB body takes about 16 round trips of WINDOW_UPDATEs; with 4 MiB, one.
// Knobs: BENCH_RTT_MS (default 20,100), BENCH_REPS (default 10), BENCH_SIZE_KIB (default 1024).
import { connect as h2connect, createSecureServer, type ClientHttp2Session } from 'node:http2';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCA } from '../test/helpers/tls.js';
import { kubeconfigConnection } from '../src/sync/kube/kubeconfig.js';

const RTTS = (process.env.BENCH_RTT_MS ?? '20,100').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 10);
const SIZE = Number(process.env.BENCH_SIZE_KIB ?? 1024) * 1024;

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))] ?? NaN;

/** A relay to `port` adding `rttMs / 2` to each direction. */
async function delayingRelay(port: number, rttMs: number): Promise<Server> {
  const delayed = (from: Socket, to: Socket): void => {
    from.on('data', (chunk) => { setTimeout(() => { if (!to.destroyed) to.write(chunk); }, rttMs / 2); });
    from.on('close', () => { setTimeout(() => to.destroy(), rttMs / 2); });
    from.on('error', () => undefined);
  };
  const relay = createServer((client) => {
    const upstream = tcpConnect(port, '127.0.0.1');
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return relay;
}

/** One GET on a node:http2 session with Node's default settings: milliseconds until the whole body arrived. */
function nodeDefaultGet(session: ClientHttp2Session): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': '/x', authorization: 'Bearer t' });
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    stream.on('end', () => { if (bytes < SIZE) reject(new Error(`short body: ${String(bytes)}`)); else resolve(performance.now() - t0); });
    stream.on('error', reject);
  });
}

const dir = await mkdtemp(join(tmpdir(), 'bench-h2-window-'));
const ca = await createTestCA(join(dir, 'ca'));
const serving = await ca.issue('apiserver', { ips: ['127.0.0.1'] });
const body = JSON.stringify({ kind: 'ConfigMap', data: { 'lds.yaml': 'a'.repeat(SIZE) } });
const server = createSecureServer({ cert: serving.cert, key: serving.key });
server.on('stream', (stream) => { stream.respond({ ':status': 200, 'content-type': 'application/json' }); stream.end(body); });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;

console.log(`bench:h2-window (node ${process.version}, load average ${load()}): a ${String(SIZE / 1024)} KiB answer, ${String(REPS)} requests per RTT on a warm connection`);
console.log('RTT ms  who              p50 ms  max ms');
try {
  for (const rtt of RTTS) {
    const relay = await delayingRelay(port, rtt);
    const url = `https://127.0.0.1:${String((relay.address() as { port: number }).port)}`;
    const kubeconfig = join(dir, `kubeconfig-${String(rtt)}`);
    await writeFile(kubeconfig, JSON.stringify({
      'current-context': 'c', contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.cert).toString('base64') } }],
      users: [{ name: 'u', user: { token: 't' } }],
    }));
    const ours = kubeconfigConnection(kubeconfig);
    const peer = h2connect(url, { ca: ca.cert });
    try {
      await ours.request('GET', '/warm');
      await nodeDefaultGet(peer);
      const times: Record<string, number[]> = { 'ours (client-go)': [], 'Node defaults': [] };
      for (let i = 0; i < REPS; i++) {
        const t0 = performance.now();
        const res = await ours.request('GET', '/x', undefined, undefined, 120_000);
        if (res.text.length < SIZE) throw new Error('short body');
        times['ours (client-go)']?.push(performance.now() - t0);
        times['Node defaults']?.push(await nodeDefaultGet(peer));
      }
      for (const [who, xs] of Object.entries(times)) console.log([String(rtt).padEnd(7), who.padEnd(16), pct(xs, 0.5).toFixed(0).padStart(6), Math.max(...xs).toFixed(0).padStart(7)].join(' '));
    } finally {
      ours.close();
      peer.destroy();
      relay.close();
    }
  }
} finally {
  server.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(`load average at the end: ${load()}`);
