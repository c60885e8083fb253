// The watch over HTTP/1.1 (a server that does not speak HTTP/2: here plain HTTP on loopback), and the
// wait after a 410, as client-go does them: a watch refused with 429 keeps its Retry-After (client-go
// rest/request.go checkWait reads it for 429 and 5xx), and a watch ended by 410 Gone lists again only
// after the backoff (reflector.go: ListAndWatch returns, RunWithContext's delayHandler waits). A
// loopback stand-in apiserver answers each watch as the test says; the client code is the watcher's.
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ApiProblem } from '../../src/sync/kube/api-problem.js';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import { loopbackKubeconfig } from './loopback-kubeconfig.js';

const configMap = (rv: string): object => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: rv }, data: { 'lds.yaml': `v: ${rv}` } });
const line = (type: string, object: object): string => `${JSON.stringify({ type, object })}\n`;

/** How the stand-in answers one watch: a status (with a Retry-After), or 200 with these lines first, then open. */
type WatchAnswer = { status: number; retryAfter?: string } | { lines: string[]; end?: boolean };

class Http1Apiserver {
  readonly seen: { kind: 'readyz' | 'list' | 'watch'; status: number; resourceVersion: string | null }[] = [];
  readonly watchAnswers: WatchAnswer[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async up(): Promise<void> {
    const server = createServer((req, res) => { this.handle(req, res); });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  count(kind: 'readyz' | 'list' | 'watch'): number {
    return this.seen.filter((s) => s.kind === kind).length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = url.pathname === '/readyz' ? 'readyz' : url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
    const resourceVersion = url.searchParams.get('resourceVersion');
    if (kind === 'readyz') {
      this.seen.push({ kind, status: 200, resourceVersion });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (kind === 'list') {
      this.seen.push({ kind, status: 200, resourceVersion });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [configMap('10')] }));
      return;
    }
    const answer = this.watchAnswers.shift() ?? { lines: [] };
    if ('status' in answer) {
      this.seen.push({ kind, status: answer.status, resourceVersion });
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...(answer.retryAfter === undefined ? {} : { 'Retry-After': answer.retryAfter }) });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: answer.status, message: `answered ${String(answer.status)}` }));
      return;
    }
    this.seen.push({ kind, status: 200, resourceVersion });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (const l of answer.lines) res.write(l);
    if (answer.end === true) res.end();
    else res.write(''); // an open, idle watch
  }
}

interface Logged { msg?: string; retryInMs?: number }

async function withWatch(run: (api: Http1Apiserver, watch: ConfigMapWatch, problems: ApiProblem[], logs: Logged[]) => Promise<void>): Promise<void> {
  const api = new Http1Apiserver();
  await api.up();
  const { dir, kubeconfig } = await loopbackKubeconfig(api.port, 'api-watch-http1-');
  const logs: Logged[] = [];
  const problems: ApiProblem[] = [];
  const connection = kubeconfigConnection(kubeconfig);
  const watch = new ConfigMapWatch({
    connection, namespace: 'ns', name: 'envoy-xds',
    logger: pino({ level: 'info' }, { write: (l: string) => { logs.push(JSON.parse(l) as Logged); } }),
    // The defaults scaled down so that the test takes seconds; no jitter, so each wait is the step itself.
    backoff: { initialMs: 50, maxMs: 500, downFloorMs: 100, resetAfterMs: 1_000 },
    random: () => 0,
    checkMs: 0,
    onEvent: () => undefined,
    onAvailability: (available, problem) => { if (!available && problem !== undefined) problems.push(problem); },
  });
  watch.start();
  try {
    await run(api, watch, problems, logs);
  } finally {
    await watch.stop();
    connection.close();
    await api.down();
    await rm(dir, { recursive: true, force: true });
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`not within ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('over HTTP/1.1, a watch answered 429 keeps its Retry-After (as over HTTP/2): the wait is at least that, and the watch is tried again from the same resourceVersion', { timeout: 30_000 }, async () => {
  await withWatch(async (api, _watch, problems) => {
    // The first watch ends cleanly at once (its timeoutSeconds, say); the next is refused with 429.
    api.watchAnswers.push({ lines: [], end: true }, { status: 429, retryAfter: '1' });
    await until('the watch open again after the 429', () => api.seen.filter((s) => s.kind === 'watch' && s.status === 200).length === 2);
    const throttled = problems.find((p) => p.kind === 'throttled');
    assert.equal(throttled?.status, 429);
    assert.equal(throttled.retryAfterMs, 1_000, 'the watch\'s Retry-After is read over HTTP/1.1');
    assert.deepEqual(api.seen.filter((s) => s.kind === 'watch').map((s) => `${String(s.status)}@${String(s.resourceVersion)}`), ['200@10', '429@10', '200@10']);
    assert.equal(api.count('list'), 1, 'a list after a 429');
  });
});

test('a watch ended by 410 Gone lists again after the backoff\'s step, not at once (client-go\'s reflector), and says the wait', { timeout: 30_000 }, async () => {
  await withWatch(async (api, watch, _problems, logs) => {
    api.watchAnswers.push({ lines: [line('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' })] });
    await until('the list after the 410', () => api.count('list') === 2);
    assert.equal(watch.stats.gone, 1);
    const gone = logs.find((l) => l.msg?.startsWith('410 Gone') === true);
    assert.equal(gone?.retryInMs, 50, 'the wait before the list: the backoff\'s first step (no jitter here)');
  });
});
