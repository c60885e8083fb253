// What a `source: api` watcher sends at rest (src/sync/kube/configmap-watch.ts's --api-check and
// src/sync/last-accepted/writer.ts's --store-check), against a loopback HTTP stand-in for the
// apiserver that records each request with the connection it came on: the watch holds the only
// connection kept open; each check asks for metadata only, on a connection of its own that is
// closed once answered; the store's read rides on the check's connection when due (one connection
// per period, never a pooled one); the store is read whole only when its metadata changed; and what
// the checks detect is unchanged (a change the watch missed, a store re-created empty).
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import { type KubeConnection } from '../../src/sync/kube/connection.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import { LastAcceptedWriter } from '../../src/sync/last-accepted/writer.js';
import { loopbackKubeconfig } from './loopback-kubeconfig.js';

interface Seen { method: string; path: string; query: URLSearchParams; accept: string; connection: string; socket: Socket; closedBeforeNext?: boolean }

const STORE = 'envoy-xds-envoy-xds-accepted';

class StandIn {
  readonly seen: Seen[] = [];
  readonly open = new Set<Socket>();
  connections = 0;
  /** The ConfigMap's resourceVersion as lists and checks report it. */
  rv = '10';
  store: { metadata: Record<string, unknown>; data?: Record<string, string> } | undefined;
  private storeRv = 100;
  private server: Server | undefined;
  port = 0;

  async up(): Promise<void> {
    const server = createServer((req, res) => { this.handle(req, res); });
    server.on('connection', (socket) => {
      this.connections++;
      this.open.add(socket);
      socket.on('close', () => this.open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  replaceStore(data: Record<string, string>): void {
    this.store = { metadata: { name: STORE, namespace: 'ns', uid: `u${String(++this.storeRv)}`, resourceVersion: String(this.storeRv), labels: { 'app.kubernetes.io/managed-by': 'envoy-xds-injector' } }, data };
  }

  checks(): Seen[] {
    return this.seen.filter((s) => s.path.endsWith('/configmaps') && s.query.get('resourceVersion') === '0' && s.query.get('watch') === null);
  }

  storeReads(): Seen[] {
    return this.seen.filter((s) => s.method === 'GET' && s.path.endsWith(`/${STORE}`) && s.query.get('resourceVersion') === '0');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const seen: Seen = { method: req.method ?? '', path: url.pathname, query: url.searchParams, accept: req.headers.accept ?? '', connection: req.headers.connection ?? '', socket: req.socket };
    this.seen.push(seen);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const metadataOnly = seen.accept.startsWith('application/json;as=PartialObjectMetadata');
    if (url.pathname === '/readyz') {
      res.end('ok');
      return;
    }
    if (url.pathname.endsWith(`/${STORE}`) || (req.method === 'POST' && url.pathname.endsWith('/configmaps'))) {
      if (req.method === 'GET') {
        if (this.store === undefined) json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' });
        else json(200, metadataOnly ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: this.store.metadata } : { kind: 'ConfigMap', apiVersion: 'v1', ...this.store });
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: Record<string, string> };
        const uid = req.method === 'POST' || this.store === undefined ? `u${String(this.storeRv + 1)}` : String(this.store.metadata.uid);
        this.storeRv++;
        this.store = { metadata: { name: STORE, namespace: 'ns', uid, resourceVersion: String(this.storeRv), labels: { 'app.kubernetes.io/managed-by': 'envoy-xds-injector' } }, ...(body.data === undefined ? {} : { data: body.data }) };
        json(req.method === 'POST' ? 201 : 200, { kind: 'ConfigMap', ...this.store });
      });
      return;
    }
    const metadata = { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: this.rv };
    if (url.searchParams.get('watch') !== null) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(''); // an open, idle watch
      return;
    }
    const item = metadataOnly ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata } : { metadata, data: { 'lds.yaml': 'resources: []\n' } };
    json(200, { kind: metadataOnly ? 'PartialObjectMetadataList' : 'ConfigMapList', metadata: { resourceVersion: this.rv }, items: [item] });
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withConnection(api: StandIn, run: (connection: KubeConnection) => Promise<void>): Promise<void> {
  const { dir, kubeconfig } = await loopbackKubeconfig(api.port, 'api-checks-at-rest-');
  const connection = kubeconfigConnection(kubeconfig);
  try {
    await run(connection);
  } finally {
    connection.close();
    await api.down();
    await rm(dir, { recursive: true, force: true });
  }
}

const quiet = pino({ level: 'silent' });

const ACCEPTED = Buffer.from('resources: []\n');

/** This Pod's last-accepted store writer, reading the store every `storeCheckMs`. */
function storeWriter(connection: KubeConnection, storeCheckMs: number): LastAcceptedWriter {
  return new LastAcceptedWriter({
    connection, namespace: 'ns', configMap: 'envoy-xds', pod: 'p1', logger: quiet, fixCommand: 'rbac',
    acceptedCopy: () => Promise.resolve(ACCEPTED), storeCheckMs,
  });
}

/** Records an accepted lds.yaml and waits until the store holds it; returns the requests seen by then. */
async function recordAccepted(api: StandIn, writer: LastAcceptedWriter): Promise<number> {
  writer.record({ file: 'lds.yaml', outcome: 'accepted', sha256: createHash('sha256').update(ACCEPTED).digest('hex'), version: 'v1' });
  await until('the store written', () => api.store?.data?.['lds.yaml'] === 'resources: []\n');
  return api.seen.length;
}

const REFUSED_SHA = 'f'.repeat(64);

/** recordAccepted, then a refusal of the next version (the store matters from then on: --store-check reads it); returns the requests seen by then. */
async function holdRefusal(api: StandIn, writer: LastAcceptedWriter): Promise<number> {
  await recordAccepted(api, writer);
  await new Promise((resolve) => setTimeout(resolve, 5)); // a later mark
  writer.record({ file: 'lds.yaml', outcome: 'rejected', sha256: REFUSED_SHA, version: 'v2' });
  await until('the refusal kept', () => api.store?.data?.['envoy-xds-injector.record.json']?.includes(REFUSED_SHA) === true);
  return api.seen.length;
}

test('--api-check at rest: metadata only, each on a connection of its own closed once answered; the watch holds the only open one; a missed change still means listing again', { timeout: 60_000 }, async () => {
  const api = new StandIn();
  await api.up();
  await withConnection(api, async (connection) => {
    const watch = new ConfigMapWatch({ connection, namespace: 'ns', name: 'envoy-xds', logger: quiet, checkMs: 300, checkTimeoutMs: 2_000, onEvent: () => undefined, onAvailability: () => undefined });
    watch.start();
    try {
      await until('4 checks', () => api.checks().length >= 4);
      const checks = api.checks();
      const watchSocket = api.seen.find((s) => s.query.get('watch') !== null)?.socket;
      assert.ok(watchSocket !== undefined);
      for (const check of checks) {
        assert.match(check.accept, /^application\/json;as=PartialObjectMetadataList;g=meta\.k8s\.io;v=v1\b/, 'metadata only');
        assert.notEqual(check.socket, watchSocket);
      }
      assert.equal(new Set(checks.map((c) => c.socket)).size, checks.length, 'one connection per check');
      // Between checks (each answered within milliseconds here) the watch's is the only connection.
      await until('the last check answered and its connection closed', () => api.open.size === 1 && checks.every((c) => c.socket.destroyed));
      assert.ok(api.open.has(watchSocket));
      assert.equal(watch.stats.missed, 0, 'metadata-only answers are compared like full objects');
      assert.equal(watch.stats.lists, 1);

      api.rv = '11'; // the cache has a change the (idle) watch never delivered
      await until('a re-list', () => watch.stats.lists >= 2);
      assert.equal(watch.stats.missed, 1);
    } finally {
      await watch.stop();
    }
  });
});

test('--store-check at rest, while Envoy holds a refusal: the store\'s metadata only, read whole once after it changed; a store re-created empty is still refilled', { timeout: 60_000 }, async () => {
  const api = new StandIn();
  await api.up();
  await withConnection(api, async (connection) => {
    const writer = storeWriter(connection, 100);
    try {
      const written = await holdRefusal(api, writer);
      await until('8 store checks', () => api.storeReads().filter((s) => api.seen.indexOf(s) >= written).length >= 8);
      const reads = api.storeReads().filter((s) => api.seen.indexOf(s) >= written);
      const whole = reads.filter((s) => !s.accept.includes('PartialObjectMetadata'));
      assert.equal(whole.length, 1, `read whole ${String(whole.length)} times in ${String(reads.length)} reads: once after the write, then metadata only`);
      // No watch carries it here: each check on a connection of its own, the whole read on its metadata read's.
      const metadataReads = reads.filter((s) => s.accept.includes('PartialObjectMetadata'));
      assert.equal(new Set(metadataReads.map((s) => s.socket)).size, metadataReads.length, 'one connection per store check');
      const wholeRead = whole[0];
      assert.ok(wholeRead !== undefined);
      assert.equal(api.seen[api.seen.indexOf(wholeRead) - 1]?.socket, wholeRead.socket, 'the whole read on the metadata read\'s connection');
      assert.ok(!api.seen.slice(0, written).some((s) => s.socket === wholeRead.socket), 'not on the write\'s pooled connection');

      api.replaceStore({}); // re-created empty: a new uid
      await until('refilled', () => api.store?.data?.['lds.yaml'] === 'resources: []\n', 10_000);
    } finally {
      await writer.close();
    }
  });
});

test('the store check rides on the --api-check\'s connection: one connection per period for both reads, never a pooled one, closed once both are answered', { timeout: 60_000 }, async () => {
  const api = new StandIn();
  await api.up();
  await withConnection(api, async (connection) => {
    // --store-check and --api-check 800 ms: every check carries the store's read once 400 ms passed
    // since the last (store-check.ts storeReadRides), and a check may come 400 ms late before the
    // store's own timer (1.5 x --store-check after the last) reads it alone. At 300 ms both margins
    // were 150 ms, which a CI run at load 9 exceeded.
    const writer = storeWriter(connection, 800);
    const watch = new ConfigMapWatch({
      connection, namespace: 'ns', name: 'envoy-xds', logger: quiet, checkMs: 800, checkTimeoutMs: 2_000,
      companion: writer.storeCheck.carry(), onEvent: () => undefined, onAvailability: () => undefined,
    });
    watch.start();
    try {
      const written = await holdRefusal(api, writer);
      const writeSocket = api.seen.at(-1)?.socket;
      const opened = connection.counts?.opened ?? 0;
      const alone = writer.storeCheck.stats.alone;
      const after = (): Seen[] => api.seen.slice(written);
      await until('6 checks after the write', () => api.checks().filter((c) => api.seen.indexOf(c) >= written).length >= 6);
      await until('the last period\'s connection closed', () => api.open.size <= 2 && after().every((s) => s.socket.destroyed || s.query.get('watch') !== null));
      const checks = api.checks().filter((c) => api.seen.indexOf(c) >= written);
      const reads = api.storeReads().filter((s) => api.seen.indexOf(s) >= written);
      // The store's read on every check's connection.
      for (const check of checks.slice(1)) {
        const next = api.seen[api.seen.indexOf(check) + 1];
        assert.ok(next !== undefined && reads.includes(next), 'the store read follows the check');
        assert.equal(next.socket, check.socket, 'on the check\'s connection');
      }
      const sockets = new Set(after().filter((s) => s.query.get('watch') === null).map((s) => s.socket));
      assert.equal(sockets.size, checks.length, `${String(sockets.size)} connections for ${String(checks.length)} periods`);
      assert.equal((connection.counts?.opened ?? 0) - opened, checks.length, 'the client opened one connection per period');
      assert.ok(writeSocket !== undefined && !sockets.has(writeSocket), 'never the write\'s pooled connection');
      assert.equal(writer.storeCheck.stats.alone, alone, 'none on a connection of its own');
      assert.ok(writer.storeCheck.stats.carried >= checks.length - 1);

      api.replaceStore({}); // re-created empty: refilled through a carried check
      await until('refilled', () => api.store?.data?.['lds.yaml'] === 'resources: []\n', 10_000);
    } finally {
      await watch.stop();
      await writer.close();
    }
  });
});

test('--store-check while Envoy accepted every last version: no read of the store at rest', { timeout: 60_000 }, async () => {
  const api = new StandIn();
  await api.up();
  await withConnection(api, async (connection) => {
    const writer = storeWriter(connection, 100);
    try {
      const written = await recordAccepted(api, writer);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // ten --store-check periods
      assert.deepEqual(api.seen.slice(written).map((s) => `${s.method} ${s.path}`), [], 'no request at rest');
    } finally {
      await writer.close();
    }
  });
});

test('a store lost while Envoy accepted every last version gets what it lacks with the next write (no --store-check needed)', { timeout: 60_000 }, async () => {
  const api = new StandIn();
  await api.up();
  await withConnection(api, async (connection) => {
    const writer = storeWriter(connection, 0);
    try {
      await recordAccepted(api, writer);
      api.replaceStore({}); // re-created empty: nothing a new Pod needs is lost (the ConfigMap's content is accepted)
      writer.record({ file: 'lds.yaml', outcome: 'rejected', sha256: REFUSED_SHA, version: 'v2' });
      await until('refilled with the refusal', () => api.store?.data?.['lds.yaml'] === 'resources: []\n' && api.store.data['envoy-xds-injector.record.json']?.includes(REFUSED_SHA) === true, 10_000);
    } finally {
      await writer.close();
    }
  });
});
