// Over HTTP/1.1 the apiserver's BOOKMARKs stand in for the watch check once they come
// (src/sync/kube/bookmark-watchdog.ts, watch-liveness.ts): a stand-in apiserver that speaks only
// HTTP/1.1 over TLS, reached through a relay that can go silent (test/e2e/fault-proxy.ts), sends
// BOOKMARKs when the test says; the bookmark period is shortened (the apiserver's is a minute). The
// client code is the watcher's.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import type { ApiProblem } from '../../src/sync/kube/api-problem.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import type { KubeConnection } from '../../src/sync/kube/connection.js';
import { apiProtocolFlag, DEFAULT_API_PROTOCOL } from '../../src/cli/watch.js';
import { createTestCA, type IssuedCert, type TestCA } from '../helpers/tls.js';
import { TcpFaultProxy } from '../e2e/fault-proxy.js';

let dir: string;
let ca: TestCA;
let serving: IssuedCert;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envoy-xds-bookmarks-'));
  ca = await createTestCA(join(dir, 'ca'));
  serving = await ca.issue('apiserver', { ips: ['127.0.0.1'] });
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const configMap = (rv: string): object => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: rv }, data: { 'lds.yaml': `v: ${rv}` } });
const bookmark = (rv: string): object => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: rv } });

/** An HTTP/1.1-only apiserver for one ConfigMap: lists (checks too) at `rv`; open watches get what `send` writes. */
class Http1Apiserver {
  /** `at`: performance.now() when the request came. */
  readonly requests: { kind: 'readyz' | 'list' | 'check' | 'watch'; resourceVersion: string | null; socket: number; at: number }[] = [];
  rv = '10';
  private sockets = 0;
  private readonly ids = new WeakMap<object, number>();
  private readonly watches = new Set<ServerResponse>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Http1Apiserver> {
    const server = createServer({ cert: serving.cert, key: serving.key });
    const api = new Http1Apiserver(server);
    server.on('secureConnection', (socket) => { api.ids.set(socket, ++api.sockets); });
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x');
      const resourceVersion = url.searchParams.get('resourceVersion');
      const kind = url.pathname === '/readyz' ? 'readyz' : url.searchParams.get('watch') === 'true' ? 'watch' : resourceVersion === '0' ? 'check' : 'list';
      api.requests.push({ kind, resourceVersion, socket: api.ids.get(req.socket) ?? 0, at: performance.now() });
      res.writeHead(200, { 'content-type': 'application/json' });
      if (kind === 'readyz') {
        res.end('ok');
        return;
      }
      if (kind === 'watch') {
        api.watches.add(res);
        res.on('close', () => api.watches.delete(res));
        return;
      }
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: api.rv }, items: [configMap(api.rv)] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `https://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  /** A line to every open watch. */
  send(type: string, object: object): void {
    for (const w of this.watches) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Requests of `kind` that came before `before` (performance.now(); default: all so far). */
  count(kind: 'list' | 'check' | 'watch', before = Infinity): number {
    return this.requests.filter((r) => r.kind === kind && r.at < before).length;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
  }
}

async function connectionTo(url: string): Promise<KubeConnection> {
  const kubeconfig = join(dir, `kubeconfig-${String(Math.random()).slice(2)}`);
  await writeFile(kubeconfig, JSON.stringify({
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.cert).toString('base64') } }],
    users: [{ name: 'u', user: { token: 't' } }],
  }));
  return kubeconfigConnection(kubeconfig);
}

/** The watcher's watch with a 200 ms check, a 300 ms bookmark period and a 300 ms margin (--api-timeout). */
function watchOf(connection: KubeConnection): { watch: ConfigMapWatch; delivered: string[]; problems: (ApiProblem & { at: number })[] } {
  const delivered: string[] = [];
  const problems: (ApiProblem & { at: number })[] = [];
  const watch = new ConfigMapWatch({
    connection, namespace: 'ns', name: 'envoy-xds', logger: pino({ level: 'silent' }), checkMs: 200, checkTimeoutMs: 300, bookmarkEveryMs: 300,
    backoff: { initialMs: 50, maxMs: 100 },
    onEvent: (e) => { delivered.push(e.type === 'object' ? (e.configMap.metadata.resourceVersion ?? '') : 'absent'); },
    onAvailability: (available, problem) => { if (!available && problem !== undefined) problems.push({ ...problem, at: performance.now() }); },
  });
  return { watch, delivered, problems };
}

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`not within ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('over HTTP/1.1 the check runs until a BOOKMARK comes, and none is sent while BOOKMARKs come; a BOOKMARK moves the resume point and is never delivered as content', { timeout: 20_000 }, async () => {
  const api = await Http1Apiserver.start();
  const connection = await connectionTo(api.url);
  const { watch, delivered, problems } = watchOf(connection);
  try {
    watch.start();
    await until('checks before any BOOKMARK', () => api.count('check') >= 2);
    const bookmarks = setInterval(() => { api.send('BOOKMARK', bookmark('20')); }, 100);
    try {
      await until('a BOOKMARK heard', () => watch.stats.bookmarks >= 1);
      await sleep(100); // a check sent just before the BOOKMARK is answered
      const checks = api.count('check');
      await sleep(1_200); // six check periods, four bookmark periods
      assert.equal(api.count('check'), checks, 'no check while BOOKMARKs come');
    } finally {
      clearInterval(bookmarks);
    }
    assert.deepEqual(delivered, ['10'], 'a BOOKMARK is not content');
    assert.equal(watch.stats.silent, 0);
    assert.deepEqual(problems, []);
    // The next watch resumes from the BOOKMARK's resourceVersion (as client-go's reflector does).
    api.send('MODIFIED', configMap('21'));
    await until('the edit delivered', () => delivered.includes('21'));
    for (const w of (api as unknown as { watches: Set<ServerResponse> }).watches) w.end(); // the apiserver ends the watch (timeoutSeconds)
    await until('a new watch', () => api.count('watch') >= 2);
    assert.equal(api.requests.filter((r) => r.kind === 'watch').at(-1)?.resourceVersion, '21');
  } finally {
    await watch.stop();
    connection.close();
    await api.close();
  }
});

test('over HTTP/1.1, BOOKMARKs came and then nothing (the connection silent): the watch ends as unreachable within the period and the margin, and the watcher lists again on a new connection', { timeout: 20_000 }, async () => {
  const api = await Http1Apiserver.start();
  const relay = await TcpFaultProxy.start(api.url);
  const connection = await connectionTo(relay.url);
  const { watch, delivered, problems } = watchOf(connection);
  try {
    watch.start();
    await until('the watch is open', () => api.count('watch') >= 1);
    api.send('BOOKMARK', bookmark('11'));
    await until('a BOOKMARK heard', () => watch.stats.bookmarks >= 1);
    await sleep(100); // a check sent just before the BOOKMARK is answered
    const checks = api.count('check');
    const lists = api.count('list');
    relay.setOpenConnections('stall');
    api.rv = '12';
    api.send('MODIFIED', configMap('12')); // into the silence: delivered only by the list on a new connection
    await until('the silence noticed', () => watch.stats.silent === 1);
    await until('the change delivered', () => delivered.includes('12'));
    // Counted up to the silence: the new watch's own checks (no BOOKMARK on it yet) may start at once.
    assert.equal(api.count('check', problems[0]?.at), checks, 'no check found it: the BOOKMARKs\' silence did');
    assert.equal(api.count('list'), lists + 1, `listed again: ${JSON.stringify(api.requests)}`);
    const relist = api.requests.filter((r) => r.kind === 'list').at(-1);
    const silenced = api.requests.find((r) => r.kind === 'watch')?.socket;
    assert.ok(relist !== undefined && silenced !== undefined && relist.socket > silenced, 'on a new connection, not the silenced one');
    const [first] = problems;
    assert.equal(first?.kind, 'unreachable');
    assert.match(first.message, /nothing heard for \d+s after the apiserver's BOOKMARKs/);
  } finally {
    await watch.stop();
    connection.close();
    await relay.close();
    await api.close();
  }
});

test('--api-protocol: HTTP/2 or HTTP/1.1, spelt as operators spell them; anything else is a usage error', () => {
  for (const [text, http2] of [['HTTP/2', true], ['http2', true], ['h2', true], ['2', true], ['HTTP/1.1', false], ['http1.1', false], ['http/1.1', false], ['1.1', false]] as const) {
    assert.equal(apiProtocolFlag(text), http2, text);
  }
  for (const bad of ['HTTP/3', 'http1', '', 'spdy']) assert.throws(() => apiProtocolFlag(bad), /--api-protocol: expected HTTP\/2 or HTTP\/1\.1/);
  assert.equal(typeof apiProtocolFlag(DEFAULT_API_PROTOCOL), 'boolean');
});
