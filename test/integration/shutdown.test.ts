// Graceful shutdown of the real `serve` process: SIGTERM under keep-alive load (as the apiserver
// sends it) plus one review still being uploaded. Readiness must fail first, every review the server
// accepted must get its answer, and the process must exit 0.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import type { IssuedCert, TestCA } from '../helpers/tls.js';
import { createTestCA } from '../helpers/tls.js';
import { httpsRequest, postReview } from './https-client.js';
import type { ChildServe } from './serve-harness.js';
import { spawnServe } from './serve-harness.js';

const fixtureText = await readFile(new URL('../fixtures/admission-review.json', import.meta.url), 'utf8');
const fixture = JSON.parse(fixtureText) as { request: { uid: string } };

let dir: string;
let ca: TestCA;
let serving: IssuedCert;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'exi-shutdown-'));
  ca = await createTestCA(dir);
  serving = await ca.issue('webhook');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ECONNREFUSED');
    });
  });
}

/** Send a review's headers and the first half of its body, and hold the rest back. */
async function startSlowReview(port: number, uid: string): Promise<{ finish: () => Promise<string> }> {
  const body = JSON.stringify({ ...fixture, request: { ...fixture.request, uid } });
  const socket: TLSSocket = await new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: ca.cert }, () => {
      resolve(s);
    });
    s.on('error', reject);
  });
  let response = '';
  socket.setEncoding('utf8').on('data', (c: string) => (response += c));
  const closed = new Promise<void>((resolve) => socket.on('close', () => { resolve(); }));
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body.slice(0, half)}`,
  );
  return {
    finish: async () => {
      socket.write(body.slice(half));
      // The server answers with Connection: close (it is shutting down) and closes the socket.
      await closed;
      return response;
    },
  };
}

let server: ChildServe | undefined;
after(() => {
  server?.kill('SIGKILL');
});

test('SIGTERM under load: readiness fails first, every accepted review is answered, exit code 0', async () => {
  server = await spawnServe([
    '--port', '0', '--host', '127.0.0.1',
    '--tls-cert', serving.certFile, '--tls-key', serving.keyFile,
    '--drain-delay', '3s', '--shutdown-timeout', '30s',
  ]);
  const { port, url } = server;

  interface Result { uid: string; status?: number; connectionClose?: boolean; error?: string }
  const results: Result[] = [];
  let stop = false;
  const agents: Agent[] = [];
  const worker = async (w: number): Promise<void> => {
    // One keep-alive connection per worker, like the apiserver's client pool.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert });
    agents.push(agent);
    for (let i = 0; !stop; i++) {
      const uid = `shutdown-${String(w)}-${String(i)}`;
      try {
        const res = await postReview(`${url}/mutate`, { ...fixture, request: { ...fixture.request, uid } }, { ca: ca.cert, agent });
        const echoed = (JSON.parse(res.body) as { response?: { uid?: string } }).response?.uid;
        results.push({ uid, status: echoed === uid ? res.status : -1, connectionClose: res.headers.connection === 'close' });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        results.push({ uid, error: e.code ?? e.message });
        if (e.code === 'ECONNREFUSED') return; // the server stopped accepting: done
      }
    }
  };
  const workers = [0, 1, 2, 3, 4, 5].map(worker);

  try {
    while (results.length < 60) await new Promise((r) => setTimeout(r, 20));
    const slow = await startSlowReview(port, 'shutdown-slow');

    server.kill('SIGTERM');

    // Readiness fails first, while reviews are still being answered.
    let readyz = 0;
    for (let i = 0; i < 300 && readyz !== 503; i++) {
      readyz = (await httpsRequest(`${url}/readyz`, { ca: ca.cert })).status;
      if (readyz !== 503) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(readyz, 503, '/readyz must fail after SIGTERM');
    const readyzFailedAt = results.length;

    // After the drain delay it stops accepting connections; the slow review is still in flight.
    for (let i = 0; i < 600 && !(await refusesConnections(port)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await refusesConnections(port), true, 'the server must stop accepting connections');
    const slowResponse = await slow.finish();
    assert.match(slowResponse, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(slowResponse, /"uid":"shutdown-slow"/);

    stop = true;
    await Promise.all(workers);
    const exit = await server.exit;
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());

    // Every review the server logged as decided reached its client with a 200.
    const decided = new Set(server.logs.byMessage('admission review').map((l) => String(l.uid)));
    const answered = new Set(results.filter((r) => r.status === 200).map((r) => r.uid));
    const lost = [...decided].filter((uid) => uid !== 'shutdown-slow' && !answered.has(uid));
    assert.deepEqual(lost, [], 'accepted reviews without an answer');
    // Any client-side failure is a connection the server never took a review from.
    for (const r of results.filter((x) => x.status !== 200)) {
      assert.ok(r.error !== undefined && !decided.has(r.uid), `unexpected failure: ${JSON.stringify(r)}`);
    }
    assert.ok(results.slice(readyzFailedAt).some((r) => r.status === 200), 'reviews were still answered while draining');
    assert.ok(results.some((r) => r.connectionClose === true), 'keep-alive clients were asked to reconnect');
    const order = server.logs.lines.map((l) => l.msg);
    assert.ok(order.indexOf('shutting down: /readyz fails, still serving while endpoints update') < order.indexOf('no longer accepting connections; finishing in-flight reviews'));
    assert.equal(order.at(-1), 'shut down');
  } finally {
    stop = true;
    await Promise.all(workers);
    for (const a of agents) a.destroy();
  }
});

test('SIGTERM while 10 keep-alive connections send reviews, 10 runs: every request answered or cleanly refused, no connection reset', async () => {
  const RUNS = 10;
  const failures: string[] = [];
  let answered = 0;
  let refused = 0;
  for (let run = 0; run < RUNS; run++) {
    const child = await spawnServe([
      '--port', '0', '--host', '127.0.0.1',
      '--tls-cert', serving.certFile, '--tls-key', serving.keyFile,
      '--drain-delay', '1s', '--shutdown-timeout', '30s',
    ]);
    server = child;
    let sent = 0;
    const agents: Agent[] = [];
    // Like the apiserver's client pool: keep-alive, one connection per worker, each worker stops
    // only when the server refuses a connection (it no longer listens).
    const worker = async (w: number): Promise<void> => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert });
      agents.push(agent);
      for (let i = 0; ; i++) {
        const uid = `run${String(run)}-${String(w)}-${String(i)}`;
        sent++;
        try {
          const res = await postReview(`${child.url}/mutate`, { ...fixture, request: { ...fixture.request, uid } }, { ca: ca.cert, agent });
          const echoed = (JSON.parse(res.body) as { response?: { uid?: string } }).response?.uid;
          if (res.status !== 200 || echoed !== uid) failures.push(`${uid}: HTTP ${String(res.status)} uid ${String(echoed)}`);
          else answered++;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          if (code === 'ECONNREFUSED') {
            refused++;
            return;
          }
          failures.push(`${uid}: ${code}`);
          return;
        }
      }
    };
    const workers = Array.from({ length: 10 }, (_, w) => worker(w));
    try {
      while (sent < 50) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGTERM');
      await Promise.all(workers);
      assert.deepEqual(await child.exit, { code: 0, signal: null }, child.stderr());
    } finally {
      for (const a of agents) a.destroy();
    }
  }
  assert.deepEqual(failures, [], `requests without an answer or a refusal (answered ${String(answered)}, refused ${String(refused)})`);
  assert.ok(answered > RUNS * 50, `reviews were answered (${String(answered)})`);
});
