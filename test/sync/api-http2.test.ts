// The watcher's API connection over HTTP/2 (src/sync/kube/h2-client.ts), against an HTTP/2 server
// that answers as the apiserver does (a list, then a watch streamed as lines of JSON): the list, the
// watch and other requests go on one connection; no --api-check request is sent at rest (the
// connection's PINGs prove it alive); a connection gone silent (PINGs unanswered, through a relay
// that stalls) ends the watch and the watcher lists again on a new connection; a server that speaks
// only HTTP/1.1 gets HTTP/1.1 and the checks.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSecureServer, sensitiveHeaders, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders, type Settings } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import type { ApiProblem } from '../../src/sync/kube/api-problem.js';
import type { ConfigMapEvent } from '../../src/sync/kube/configmap-object.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import type { ConnectionOptions, KubeConnection } from '../../src/sync/kube/connection.js';
import { createTestCA, type IssuedCert, type TestCA } from '../helpers/tls.js';
import { TcpFaultProxy } from '../e2e/fault-proxy.js';

let dir: string;
let ca: TestCA;
let serving: IssuedCert;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envoy-xds-h2-'));
  ca = await createTestCA(join(dir, 'ca'));
  serving = await ca.issue('apiserver', { ips: ['127.0.0.1'] });
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const configMap = (rv: string): object => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: rv }, data: { 'lds.yaml': `v: ${rv}` } });

/** An HTTP/2 apiserver for one ConfigMap: lists answer at resourceVersion `rv`, watches stay open for `push`. */
class FakeH2Apiserver {
  readonly requests: { path: string; session: number }[] = [];
  sessions = 0;
  rv = '10';
  private readonly watches = new Set<ServerHttp2Stream>();
  private constructor(readonly server: Http2SecureServer) {}

  static async start(): Promise<FakeH2Apiserver> {
    const server = createSecureServer({ cert: serving.cert, key: serving.key });
    const fake = new FakeH2Apiserver(server);
    const ids = new WeakMap<object, number>();
    server.on('session', (session) => { ids.set(session, ++fake.sessions); });
    server.on('stream', (stream, headers: IncomingHttpHeaders) => { fake.answer(stream, headers, ids.get(stream.session ?? {}) ?? 0); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `https://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  /** A MODIFIED event at a new resourceVersion, to every open watch. */
  push(rv: string): void {
    this.rv = rv;
    for (const w of this.watches) w.write(`${JSON.stringify({ type: 'MODIFIED', object: configMap(rv) })}\n`);
  }

  private answer(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: number): void {
    const path = String(headers[':path']);
    this.requests.push({ path, session });
    stream.on('error', () => undefined);
    if (path.includes('watch=true')) {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      this.watches.add(stream);
      stream.on('close', () => this.watches.delete(stream));
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: this.rv }, items: [configMap(this.rv)] }));
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.close();
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
  }
}

async function connectionTo(url: string, options: ConnectionOptions = {}): Promise<KubeConnection> {
  const kubeconfig = join(dir, `kubeconfig-${String(Math.random()).slice(2)}`);
  await writeFile(kubeconfig, JSON.stringify({
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.cert).toString('base64') } }],
    users: [{ name: 'u', user: { token: 't' } }],
  }));
  return kubeconfigConnection(kubeconfig, options);
}

function watchOf(connection: KubeConnection, checkMs: number): { watch: ConfigMapWatch; events: string[]; problems: ApiProblem[] } {
  const events: string[] = [];
  const problems: ApiProblem[] = [];
  const watch = new ConfigMapWatch({
    connection, namespace: 'ns', name: 'envoy-xds', logger: pino({ level: 'silent' }), checkMs, checkTimeoutMs: 500,
    backoff: { initialMs: 100, maxMs: 200 },
    onEvent: (e: ConfigMapEvent) => { if (e.type === 'object') events.push(e.configMap.metadata.resourceVersion ?? ''); },
    onAvailability: (available, problem) => { if (!available && problem !== undefined) problems.push(problem); },
  });
  return { watch, events, problems };
}

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`not within ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('over HTTP/2 the list, the watch and a request are streams on one connection, and no --api-check request is sent at rest', { timeout: 20_000 }, async () => {
  const api = await FakeH2Apiserver.start();
  const connection = await connectionTo(api.url);
  const { watch, events } = watchOf(connection, 200);
  try {
    watch.start();
    await until('the watch is open', () => api.requests.some((r) => r.path.includes('watch=true')));
    api.push('11');
    await until('the change delivered', () => events.includes('11'));
    const store = await connection.request('GET', '/api/v1/namespaces/ns/configmaps/envoy-xds-envoy-xds-accepted');
    assert.equal(store.status, 200);
    // Five --api-check periods at rest.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(connection.pings?.(), true);
    assert.equal(api.sessions, 1, 'one connection');
    assert.deepEqual(new Set(api.requests.map((r) => r.session)), new Set([1]));
    const lists = api.requests.filter((r) => r.path.includes('/configmaps?') && !r.path.includes('watch=true'));
    assert.equal(lists.length, 1, `one list, no check: ${JSON.stringify(lists)}`);
    assert.equal(watch.stats.checks, 0);
    assert.deepEqual(events, ['10', '11']);
  } finally {
    await watch.stop();
    connection.close();
    await api.close();
  }
});

test('over HTTP/2 a connection gone silent (its PING unanswered, however many requests the watcher sends into it) ends the watch as unreachable, and the watcher lists again on a new connection', { timeout: 20_000 }, async () => {
  const api = await FakeH2Apiserver.start();
  const relay = await TcpFaultProxy.start(api.url);
  const connection = await connectionTo(relay.url, { pingAfterMs: 300, pingTimeoutMs: 300 });
  const { watch, events, problems } = watchOf(connection, 300);
  try {
    watch.start();
    await until('the watch is open', () => api.requests.some((r) => r.path.includes('watch=true')));
    const t0 = performance.now();
    relay.setOpenConnections('stall');
    api.push('12'); // sent into the silence: delivered only by the list on the new connection
    // The watcher's own requests into the silence (the store's reads, Events) must not put the PING off.
    const sending = setInterval(() => { void connection.request('GET', '/api/v1/namespaces/ns/events', undefined, undefined, 5_000).catch(() => undefined); }, 50);
    await until('a second connection lists', () => api.requests.some((r) => r.session === 2 && !r.path.includes('watch=true'))).finally(() => { clearInterval(sending); });
    const took = performance.now() - t0;
    await until('the change delivered', () => events.includes('12'));
    assert.ok(took < 3_000, `${String(Math.round(took))} ms to notice`);
    const [first] = problems;
    assert.ok(first !== undefined, 'the outage was said');
    assert.equal(first.kind, 'unreachable');
    assert.match(first.message, /no answer within .*HTTP\/2 PING/);
  } finally {
    await watch.stop();
    connection.close();
    await relay.close();
    await api.close();
  }
});

test('a server that speaks only HTTP/1.1: the first request already falls back to it (no failure said), and the watch is checked every --api-check', { timeout: 20_000 }, async () => {
  let lists = 0;
  const server = createHttpsServer({ cert: serving.cert, key: serving.key }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if ((req.url ?? '').includes('watch=true')) return; // open, idle
    lists++;
    res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [configMap('10')] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = await connectionTo(`https://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
  const { watch, events, problems } = watchOf(connection, 200);
  try {
    watch.start();
    // A check is counted when sent; the server counts it when it answers: wait for both.
    await until('checks at rest', () => watch.stats.checks >= 2 && lists >= 3);
    assert.deepEqual(problems, [], 'the first request went over HTTP/1.1 at once: no outage');
    assert.deepEqual(events, ['10']);
    assert.equal(connection.pings?.(), false);
    assert.ok(lists >= 3, `the list and the checks: ${String(lists)}`);
  } finally {
    await watch.stop();
    connection.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }
});

test('the HTTP/2 connection asks for client-go\'s windows (4 MiB per stream, 1 GiB more for the connection) and no push, but neither 1 MiB frames nor an HPACK table (the server would hold both per connection), and the bearer token is never indexed', { timeout: 20_000 }, async () => {
  const server = createSecureServer({ cert: serving.cert, key: serving.key });
  const seen: { settings: Settings; connectionWindow: number; sensitive: string[] }[] = [];
  server.on('stream', (stream, headers) => {
    const session = stream.session;
    if (session !== undefined) seen.push({ settings: session.remoteSettings, connectionWindow: session.state.remoteWindowSize ?? 0, sensitive: [...((headers as Record<symbol, string[] | undefined>)[sensitiveHeaders] ?? [])] });
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = await connectionTo(`https://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
  try {
    // The second request is sent after the first is answered: the connection's WINDOW_UPDATE has arrived by then.
    assert.equal((await connection.request('GET', '/api/v1/namespaces/ns/configmaps/a')).status, 200);
    assert.equal((await connection.request('GET', '/api/v1/namespaces/ns/configmaps/b')).status, 200);
    const last = seen.at(-1);
    assert.ok(last !== undefined);
    // golang.org/x/net/http2 transport.go: transportDefaultStreamFlow 4 << 20, transportDefaultConnFlow 1 << 30.
    assert.equal(last.settings.initialWindowSize, 4 << 20);
    assert.equal(last.settings.enablePush, false);
    // HTTP/2's default 16 KiB, not client-go's 1 MiB: the server's Framer keeps a write buffer as large as its largest frame.
    assert.equal(last.settings.maxFrameSize, 16_384);
    assert.equal(last.settings.maxHeaderListSize, 10 << 20);
    // No HPACK dynamic table for the server's encoder (it would index every answer's audit-id).
    assert.equal(last.settings.headerTableSize, 0);
    assert.ok(last.connectionWindow > 1 << 30, `the server may send ${String(last.connectionWindow)} bytes on the connection`);
    assert.deepEqual(last.sensitive, ['authorization']);
  } finally {
    connection.close();
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }
});
