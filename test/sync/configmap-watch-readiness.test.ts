// ConfigMapWatch through an apiserver restart as kube-apiserver v1.33 goes through one (measured on
// the e2e control plane): the port refuses connections, then opens with an authorizer that has not
// synced (everything 403, /readyz included), then lists succeed while /readyz still answers 500,
// then /readyz answers 200. The watcher must list once, after /readyz says ready; the 403 and 500
// answers it gets meanwhile are probes, not lists. The apiserver here is a loopback HTTP stand-in
// that answers in those phases and counts requests; the client code is the watcher's own.
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { pino } from 'pino';
import { ConfigMapWatch } from '../../src/sync/kube/configmap-watch.js';
import { kubeconfigConnection } from '../../src/sync/kube/kubeconfig.js';
import { loopbackKubeconfig } from './loopback-kubeconfig.js';

type Phase = 'ready' | 'unsynced' | 'starting' | 'unavailable';

interface Seen { at: number; phase: Phase; kind: 'readyz' | 'list' | 'watch'; status: number }

class FakeApiserver {
  phase: Phase = 'ready';
  /** /readyz is forbidden to ServiceAccounts in this cluster (no system:public-info-viewer binding). */
  readyzForbidden = false;
  /** Lists and watches are forbidden (no Role), /readyz is not. */
  listForbidden = false;
  readonly seen: Seen[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly t0 = performance.now();
  port = 0;

  async up(phase: Phase): Promise<void> {
    this.phase = phase;
    const server = createServer((req, res) => { this.handle(req, res); });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** The process is gone: connections end, new ones are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => server?.close(resolve));
  }

  count(kind: Seen['kind'], from = 0, to = Infinity): number {
    return this.seen.filter((s) => s.kind === kind && s.at >= from && s.at < to).length;
  }

  now(): number {
    return performance.now() - this.t0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind: Seen['kind'] = url.pathname === '/readyz' ? 'readyz' : url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
    const forbidden = (what: string): void => {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `forbidden: User "system:serviceaccount:ns:envoy" cannot ${what}`, reason: 'Forbidden', code: 403 }));
    };
    let status = 200;
    if (this.phase === 'unsynced' || (kind === 'readyz' && this.readyzForbidden) || (kind !== 'readyz' && this.listForbidden)) status = 403;
    else if (kind === 'readyz' && this.phase === 'starting') status = 500;
    else if (this.phase === 'unavailable') status = 503;
    this.seen.push({ at: this.now(), phase: this.phase, kind, status });
    if (status === 403) {
      forbidden(kind === 'readyz' ? 'get path "/readyz"' : `${kind} resource "configmaps"`);
      return;
    }
    if (status === 503) {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('no healthy upstream');
      return;
    }
    if (kind === 'readyz') {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 200 ? 'ok' : '[+]ping ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\nreadyz check failed\n');
      return;
    }
    const cm = { metadata: { name: 'envoy-xds', namespace: 'ns', uid: 'u1', resourceVersion: '10' }, data: { 'lds.yaml': 'resources: []\n' } };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (kind === 'list') res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [cm] }));
    else res.write(''); // an open, idle watch
  }
}

/** `reported`: the kind and status of each problem the watch reported (onAvailability false). */
async function withWatch(api: FakeApiserver, run: (watch: ConfigMapWatch, logs: string[], reported: string[]) => Promise<void>): Promise<void> {
  const { dir, kubeconfig } = await loopbackKubeconfig(api.port, 'cm-watch-readiness-');
  const logs: string[] = [];
  const reported: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(String((JSON.parse(line) as { msg?: string }).msg)); } });
  const watch = new ConfigMapWatch({
    connection: kubeconfigConnection(kubeconfig),
    namespace: 'ns',
    name: 'envoy-xds',
    logger,
    // The defaults, scaled down 10x so that the test takes seconds.
    backoff: { initialMs: 50, maxMs: 3_000, downFloorMs: 200, resetAfterMs: 1_000 },
    onEvent: () => undefined,
    onAvailability: (available, problem) => { if (!available && problem !== undefined) reported.push(`${problem.kind} ${String(problem.status ?? 0)}`); },
  });
  watch.start();
  try {
    await run(watch, logs, reported);
  } finally {
    await watch.stop();
    await api.down().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a restart (refused, 403 while the authorizer syncs, /readyz 500, then 200): one list, after /readyz says ready', { timeout: 60_000 }, async () => {
  const api = new FakeApiserver();
  await api.up('ready');
  await withWatch(api, async (watch, logs) => {
    await until('the first watch', () => api.count('watch') === 1);
    assert.equal(api.count('readyz'), 0, 'the first list after the start is sent without /readyz');
    assert.equal(api.count('list'), 1);

    await api.down();
    await sleep(1_000);
    const opened = api.now();
    await api.up('unsynced');
    await sleep(1_000);
    api.phase = 'starting';
    await sleep(1_000);
    const readyAt = api.now();
    api.phase = 'ready';
    await until('the watch again', () => api.count('watch', readyAt) >= 1);

    assert.equal(api.count('list', opened, readyAt), 0, 'a list before /readyz said ready');
    assert.equal(api.count('watch', opened, readyAt), 0, 'a watch before /readyz said ready');
    assert.ok(api.count('readyz', opened, readyAt) >= 2, `probes while not ready: ${String(api.count('readyz', opened, readyAt))}`);
    assert.equal(api.count('list', readyAt), 1, 'one list after the restart');
    assert.ok(watch.stats.notReady >= 2);
    assert.equal(logs.filter((l) => l === 'the apiserver is not ready yet (/readyz): listing once it is').length, 1, 'said once per outage');
    // Back within the down schedule's bound (the floor, 200 ms here, x2 jitter), not a grown backoff.
    const firstList = api.seen.find((s) => s.kind === 'list' && s.at >= readyAt)?.at ?? Infinity;
    assert.ok(firstList - readyAt < 1_000, `listed ${String(Math.round(firstList - readyAt))} ms after ready`);
  });
});

test('a cluster that does not let the ServiceAccount see /readyz: after the first failure /readyz (403) holds the list at most the retry cap, the list succeeds, then no more probes', { timeout: 60_000 }, async () => {
  const api = new FakeApiserver();
  api.readyzForbidden = true;
  await api.up('ready');
  await withWatch(api, async () => {
    await until('the first watch', () => api.count('watch') === 1);
    assert.equal(api.count('readyz'), 0);
    for (const restart of [1, 2]) {
      await api.down();
      await sleep(500);
      const back = api.now();
      await api.up('ready');
      await until('the watch again', () => api.count('watch', back) >= 1, 15_000);
      if (restart === 1) assert.ok(api.count('readyz', back) >= 1, 'asked after the first failure');
      else assert.equal(api.count('readyz', back), 0, '/readyz asked again although it says nothing here');
      assert.equal(api.count('list', back), 1);
    }
  });
});

test('a Pod started while its apiserver cannot serve (503 to everything: no ready apiserver behind the load balancer): one list, then /readyz holds the next until ready, and the 503 is not reported', { timeout: 60_000 }, async () => {
  const api = new FakeApiserver();
  await api.up('unavailable');
  await withWatch(api, async (watch, logs, reported) => {
    await until('the probes after the first list', () => api.count('readyz') >= 2);
    const readyAt = api.now();
    api.phase = 'ready';
    await until('the first watch', () => api.count('watch') === 1);
    assert.equal(api.count('list', 0, readyAt), 1, 'lists into the 503s');
    assert.deepEqual(reported, [], 'a not-ready apiserver reported as a failure');
    assert.equal(logs.filter((l) => l === 'the apiserver is not ready yet (/readyz): listing once it is').length, 1);
    assert.equal(api.count('list', readyAt), 1);
    assert.ok(watch.stats.notReady >= 2);
  });
});

test('a Pod started without its Role (403, /readyz 200): the 403 is reported after /readyz said ready, once per outage', { timeout: 60_000 }, async () => {
  const api = new FakeApiserver();
  await api.up('ready');
  api.listForbidden = true;
  await withWatch(api, async (watch, _logs, reported) => {
    await until('the refusal reported', () => reported.length >= 1);
    assert.equal(reported[0], 'forbidden 403');
    assert.equal(api.count('readyz'), 1, '/readyz asked after the first refused list, before the report');
    assert.ok(api.seen.findIndex((s) => s.kind === 'readyz') > api.seen.findIndex((s) => s.kind === 'list'), '/readyz before the first list');
    api.listForbidden = false;
    await until('the first watch', () => api.count('watch') === 1, 15_000);
    assert.equal(watch.stats.lists, api.count('list'));
  });
});

test('/readyz failing for longer than the retry cap: the watcher lists anyway, so the outage is still tried and reported', { timeout: 60_000 }, async () => {
  const api = new FakeApiserver();
  await api.up('ready');
  await withWatch(api, async () => {
    await until('the first watch', () => api.count('watch') === 1);
    await api.down();
    const t = api.now();
    await api.up('starting'); // lists succeed, /readyz keeps answering 500
    await until('a list despite /readyz', () => api.count('list', t) >= 1, 15_000);
    const listedAfter = (api.seen.find((s) => s.kind === 'list' && s.at >= t)?.at ?? 0) - t;
    assert.ok(listedAfter >= 3_000, `listed after ${String(Math.round(listedAfter))} ms, before the 3 s cap`);
  });
});
