// After a list succeeded, the watcher retries as client-go's reflector does (src/sync/kube/watch-retry.ts):
// a watch refused at the TCP level or answered 429 is tried again from the last resourceVersion, with
// no list; a 410, a 403 (any other failure) lists again; a resumed watch's replay of versions already
// delivered is dropped. Against an HTTP/2 stand-in apiserver (TLS, one ConfigMap) that can go down
// (connections refused) and come back on the same port, and answers each watch as the test says.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSecureServer, type Http2SecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import type { ApiProblem } from '../../src/sync/kube/api-problem.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import type { KubeConnection } from '../../src/sync/kube/connection.js';
import { ApiSource } from '../../src/sync/sources/api-source.js';
import { createTestCA, type IssuedCert, type TestCA } from '../helpers/tls.js';
import { AtomicWriter } from './harness.js';

let dir: string;
let ca: TestCA;
let serving: IssuedCert;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envoy-xds-resume-'));
  ca = await createTestCA(join(dir, 'ca'));
  serving = await ca.issue('apiserver', { ips: ['127.0.0.1'] });
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const configMap = (rv: string): object => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: rv }, data: { 'lds.yaml': `v: ${rv}` } });
const line = (type: string, object: object): string => `${JSON.stringify({ type, object })}\n`;

/** How the stand-in answers one watch request: a status (with a Retry-After), or 200 with these lines first. */
type WatchAnswer = { status: number; retryAfter?: string } | { lines: string[] };

interface Seen { kind: 'list' | 'watch' | 'readyz'; resourceVersion: string | null; status: number; epoch: number }

class StandInApiserver {
  readonly seen: Seen[] = [];
  rv = '10';
  /** Answers for the next watch requests, in turn; then an open watch. */
  readonly watchAnswers: WatchAnswer[] = [];
  /** Bumped by each up(): which run of the server a request reached. */
  epoch = 0;
  port = 0;
  private server: Http2SecureServer | undefined;
  private readonly sessions = new Set<Http2Session>();
  private readonly watches = new Set<ServerHttp2Stream>();

  async up(): Promise<void> {
    const server = createSecureServer({ cert: serving.cert, key: serving.key });
    server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
    server.on('stream', (stream, headers) => { this.answer(stream, headers); });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.epoch++;
  }

  /** The process is gone: its connections end, new ones are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => { if (server === undefined) resolve(); else server.close(() => { resolve(); }); });
  }

  get url(): string {
    return `https://127.0.0.1:${String(this.port)}`;
  }

  /** A MODIFIED event at a new resourceVersion, to every open watch. */
  push(rv: string): void {
    this.rv = rv;
    for (const w of this.watches) w.write(line('MODIFIED', configMap(rv)));
  }

  /** Ends every open watch cleanly (as at its timeoutSeconds). */
  endWatches(): void {
    for (const w of this.watches) w.end();
  }

  count(kind: Seen['kind'], epoch?: number): number {
    return this.seen.filter((s) => s.kind === kind && (epoch === undefined || s.epoch === epoch)).length;
  }

  private answer(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const url = new URL(String(headers[':path']), 'https://x');
    const kind: Seen['kind'] = url.pathname === '/readyz' ? 'readyz' : url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
    const resourceVersion = url.searchParams.get('resourceVersion');
    if (kind === 'readyz') {
      this.seen.push({ kind, resourceVersion, status: 200, epoch: this.epoch });
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('ok');
      return;
    }
    if (kind === 'list') {
      this.seen.push({ kind, resourceVersion, status: 200, epoch: this.epoch });
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: this.rv }, items: [configMap(this.rv)] }));
      return;
    }
    const answer = this.watchAnswers.shift() ?? { lines: [] };
    if ('status' in answer) {
      this.seen.push({ kind, resourceVersion, status: answer.status, epoch: this.epoch });
      stream.respond({ ':status': answer.status, 'content-type': 'application/json', ...(answer.retryAfter === undefined ? {} : { 'retry-after': answer.retryAfter }) });
      stream.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: answer.status, message: `answered ${String(answer.status)}` }));
      return;
    }
    this.seen.push({ kind, resourceVersion, status: 200, epoch: this.epoch });
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    for (const l of answer.lines) stream.write(l);
    this.watches.add(stream);
    stream.on('close', () => this.watches.delete(stream));
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

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`not within ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function withWatch(run: (api: StandInApiserver, watch: ConfigMapWatch, events: string[], problems: ApiProblem[]) => Promise<void>, resumable?: () => boolean): Promise<void> {
  const api = new StandInApiserver();
  await api.up();
  const connection = await connectionTo(api.url);
  const events: string[] = [];
  const problems: ApiProblem[] = [];
  const watch = new ConfigMapWatch({
    connection, namespace: 'ns', name: 'envoy-xds', logger: pino({ level: 'silent' }),
    // The defaults scaled down, so that the test takes seconds.
    backoff: { initialMs: 50, maxMs: 500, downFloorMs: 100, resetAfterMs: 1_000 },
    onEvent: (e) => { events.push(e.type === 'object' ? e.configMap.metadata.resourceVersion ?? '' : 'absent'); },
    onAvailability: (available, problem) => { if (!available && problem !== undefined) problems.push(problem); },
    ...(resumable === undefined ? {} : { resumable }),
  });
  watch.start();
  try {
    await until('the first watch', () => api.count('watch') === 1);
    await run(api, watch, events, problems);
  } finally {
    await watch.stop();
    connection.close();
    await api.down();
  }
}

test('the apiserver restarted (its watch ended, connections refused, then back): the watch resumes from the last resourceVersion, no list, and versions it replays are not delivered again', { timeout: 30_000 }, async () => {
  await withWatch(async (api, watch, events, problems) => {
    api.push('11');
    await until('11 delivered', () => events.includes('11'));
    await api.down();
    await until('refused twice', () => problems.filter((p) => p.kind === 'unreachable').length >= 2);
    // Back, with an edit made meanwhile; the resumed watch replays from before what was delivered.
    api.rv = '12';
    api.watchAnswers.push({ lines: [line('MODIFIED', configMap('10')), line('MODIFIED', configMap('11')), line('MODIFIED', configMap('12'))] });
    await api.up();
    await until('12 delivered', () => events.includes('12'));
    assert.equal(api.count('list', 2), 0, 'a list after the restart');
    const resumed = api.seen.filter((s) => s.kind === 'watch' && s.epoch === 2);
    assert.deepEqual(resumed.map((s) => s.resourceVersion), ['11'], 'one watch, from the last resourceVersion');
    assert.deepEqual(events, ['10', '11', '12'], 'replayed versions delivered again');
    assert.equal(api.count('list'), 1);
    assert.ok(watch.stats.resumed >= 1);
  });
});

test('a watch answered 429 (Retry-After) is tried again from the same resourceVersion, not listed; a 403 or a 410 lists', { timeout: 30_000 }, async () => {
  await withWatch(async (api, _watch, events, problems) => {
    api.push('11');
    await until('11 delivered', () => events.includes('11'));
    api.watchAnswers.push({ status: 429, retryAfter: '1' }, { status: 429, retryAfter: '1' });
    api.endWatches();
    await until('the watch open again', () => api.seen.filter((s) => s.kind === 'watch' && s.status === 200).length === 2);
    assert.equal(api.count('list'), 1, 'a list after a 429');
    assert.deepEqual(api.seen.filter((s) => s.kind === 'watch').map((s) => `${String(s.status)}@${String(s.resourceVersion)}`), ['200@10', '429@11', '429@11', '200@11']);
    const throttled = problems.find((p) => p.kind === 'throttled');
    assert.equal(throttled?.retryAfterMs, 1_000, 'the watch\'s Retry-After is read');

    // client-go lists again after any other failure: a 403...
    api.watchAnswers.push({ status: 403 });
    api.endWatches();
    await until('the list after the 403', () => api.count('list') === 2);
    // ...and a 410 Gone (the resourceVersion compacted).
    await until('the watch open again', () => api.seen.filter((s) => s.kind === 'watch' && s.status === 200).length === 3);
    api.watchAnswers.push({ lines: [line('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' })] });
    api.endWatches();
    await until('the list after the 410', () => api.count('list') === 3);
  });
});

test('a watch that would resume after an outage lists instead when the caller says it is not resumable (the volume was published meanwhile)', { timeout: 30_000 }, async () => {
  let resumable = true;
  await withWatch(async (api, _watch, events, problems) => {
    api.push('11');
    await until('11 delivered', () => events.includes('11'));
    await api.down();
    await until('refused', () => problems.length >= 1);
    resumable = false;
    await api.up();
    await until('the list after the outage', () => api.count('list', 2) === 1);
    await until('the watch again', () => api.count('watch', 2) === 1);
    assert.deepEqual(events, ['10', '11', '11']);
  }, () => resumable);
});

/**
 * The API source (ConfigMap from the API, the volume as fallback) in front of the stand-in, with a
 * publisher that reads on every trigger and reports what it published, as the watch command's loop does.
 */
async function withApiSource(run: (api: StandInApiserver, volume: AtomicWriter, published: string[], source: ApiSource, volumeChanged: () => void) => Promise<void>): Promise<void> {
  const api = new StandInApiserver();
  await api.up();
  const volumeDir = await mkdtemp(join(dir, 'volume-'));
  const volume = new AtomicWriter(volumeDir);
  await volume.write({ 'lds.yaml': 'v: 10' });
  const source = new ApiSource({
    connection: await connectionTo(api.url), namespace: 'ns', configMap: 'envoy-xds', volumeDir, logger: pino({ level: 'silent' }),
    volumeLagMs: 0, checkMs: 0, backoff: { initialMs: 50, maxMs: 500, downFloorMs: 100, resetAfterMs: 1_000 },
  });
  const published: string[] = [];
  let passing = Promise.resolve();
  const pass = async (): Promise<void> => {
    const snapshot = await source.read();
    if (snapshot === undefined) return;
    const body = String(snapshot.files.get('lds.yaml') ?? '');
    if (published.at(-1) !== body) published.push(body);
    source.passed(snapshot);
  };
  const trigger = (): void => { passing = passing.then(pass); };
  source.start(trigger);
  try {
    await until('the first watch', () => api.count('watch') === 1);
    // What inotify on `..data` does in the watch command.
    await run(api, volume, published, source, () => { source.volumeChanged(); trigger(); });
  } finally {
    await passing;
    await source.stop();
    await api.down();
  }
}

test('API source: an outage in which the volume published nothing newer resumes the watch (no list)', { timeout: 30_000 }, async () => {
  await withApiSource(async (api, _volume, published, source) => {
    api.push('11');
    await until('11 published', () => published.includes('v: 11'));
    await api.down();
    await until('refused', () => source.stats.failures >= 2);
    await api.up();
    await until('the watch again', () => api.count('watch', 2) >= 1 && api.seen.some((s) => s.kind === 'watch' && s.epoch === 2 && s.status === 200));
    api.push('12');
    await until('12 published', () => published.includes('v: 12'));
    assert.equal(api.count('list', 2), 0);
    assert.deepEqual(published, ['v: 10', 'v: 11', 'v: 12'], 'the volume\'s older v: 10 was published again');
  });
});

test('API source: an outage in which the volume published a newer version lists when the API is back, so a resumed watch\'s replay never goes back on it', { timeout: 30_000 }, async () => {
  await withApiSource(async (api, volume, published, source, volumeChanged) => {
    api.push('11');
    await until('11 published', () => published.includes('v: 11'));
    await api.down();
    await until('refused', () => source.stats.failures >= 1);
    // Edits made meanwhile through another apiserver: the kubelet's volume has the newest.
    api.rv = '13';
    await volume.write({ 'lds.yaml': 'v: 13' });
    volumeChanged();
    await until('the volume\'s 13 published', () => published.includes('v: 13'));
    // A resumed watch would replay 12 first.
    api.watchAnswers.push({ lines: [line('MODIFIED', configMap('12')), line('MODIFIED', configMap('13'))] });
    await api.up();
    await until('the list', () => api.count('list', 2) === 1);
    await until('the watch again', () => api.count('watch', 2) >= 1);
    assert.ok(!published.includes('v: 12'), `published ${JSON.stringify(published)}`);
    assert.deepEqual(published, ['v: 10', 'v: 11', 'v: 13']);
  });
});
