// The fault proxies on their own, against a local HTTPS server that streams like a watch:
// what each mode does to a stream in flight and to new connections, and the StatusProxy's answers.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, Agent, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { StatusProxy, TcpFaultProxy } from './fault-proxy.js';
import { createCA, type CertAuthority } from './pki.js';

let dir: string;
let ca: CertAuthority;
let server: Server;
let upstream: string;
/** Writers of the open /stream responses: the test pushes lines on demand. */
const streams = new Set<(line: string) => void>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fault-proxy-'));
  ca = await createCA(join(dir, 'pki'));
  const pair = await ca.issue('upstream', { commonName: 'upstream', ipAddresses: ['127.0.0.1'], usages: ['server'] });
  server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    if (req.url?.startsWith('/stream') === true) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const write = (line: string): void => { res.write(`${line}\n`); };
      streams.add(write);
      res.on('close', () => streams.delete(write));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() })); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

type Outcome = { status: number; body: string } | { error: string };

function get(base: string, path: string, options: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${base}${path}`, { method: options.method ?? 'GET', ca: ca.cert, agent: new Agent({ ca: ca.cert }) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
      res.on('error', (err) => { resolve({ error: err.message }); });
    });
    req.setTimeout(options.timeoutMs ?? 5_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => { resolve({ error: err.code ?? err.message }); });
    req.end(options.body);
  });
}

/** A streaming GET: the lines received so far, and how it ended. */
function stream(base: string): { lines: string[]; ended: Promise<string> } {
  const lines: string[] = [];
  const ended = new Promise<string>((resolve) => {
    const req = request(`${base}/stream`, { ca: ca.cert, agent: new Agent({ ca: ca.cert }) }, (res) => {
      res.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
      res.on('end', () => { resolve('end'); });
      res.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message); });
    });
    req.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message); });
    req.end();
  });
  return { lines, ended };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('TcpFaultProxy pass: TLS to the upstream passes through (its certificate verified), streams flow', async () => {
  const proxy = await TcpFaultProxy.start(upstream);
  try {
    assert.deepEqual(await get(proxy.url, '/a'), { status: 200, body: '{"method":"GET","url":"/a","body":""}' });
    const s = stream(proxy.url);
    await until('the stream to open', () => streams.size === 1);
    for (const w of streams) w('one');
    await until('a line through the proxy', () => s.lines.includes('one'));
  } finally {
    await proxy.close();
    await until('the stream to close', () => streams.size === 0);
  }
});

test('TcpFaultProxy stall of the open connections: the stream stays open and silent, new connections pass; stall of all: new requests hang', async () => {
  const proxy = await TcpFaultProxy.start(upstream);
  try {
    const s = stream(proxy.url);
    await until('the stream to open', () => streams.size === 1);
    proxy.setOpenConnections('stall');
    for (const w of streams) w('lost');
    await sleep(300);
    assert.deepEqual(s.lines, [], 'nothing forwarded');
    assert.equal(proxy.open, 1, 'the stalled connection stays open');
    assert.deepEqual(await get(proxy.url, '/new'), { status: 200, body: '{"method":"GET","url":"/new","body":""}' });
    proxy.setMode('stall');
    assert.deepEqual(await get(proxy.url, '/hangs', { timeoutMs: 500 }), { error: 'timeout' }, 'the client gave up (its own timeout): nothing came back');
  } finally {
    await proxy.close();
  }
});

test('TcpFaultProxy drop: nothing is read or forwarded, the connection stays open; reset: RST for open and new connections', async () => {
  const proxy = await TcpFaultProxy.start(upstream);
  try {
    const s = stream(proxy.url);
    await until('the stream to open', () => streams.size === 1);
    proxy.setMode('drop');
    for (const w of streams) w('dropped');
    await sleep(300);
    assert.deepEqual(s.lines, []);
    assert.equal(proxy.open, 1);
    proxy.setOpenConnections('reset');
    assert.equal(await s.ended, 'ECONNRESET');
    proxy.setMode('reset');
    assert.deepEqual(await get(proxy.url, '/x'), { error: 'ECONNRESET' });
    proxy.setMode('pass');
    assert.equal((await get(proxy.url, '/y') as { status: number }).status, 200);
  } finally {
    await proxy.close();
  }
});

test('StatusProxy: chosen requests get chosen statuses (Retry-After, a v1 Status body, N times), the rest is relayed, streams included', async () => {
  const proxy = await StatusProxy.start(upstream, ca);
  try {
    proxy.answer({ method: 'POST', path: /^\/api\/v1\/namespaces\/[^/]+\/events/, status: 429, retryAfter: 2, times: 2 });
    proxy.answer({ method: 'PUT', path: /configmaps\/store$/, status: 422, message: 'ConfigMap "store" is invalid: []: Too long: must have at most 1048576 bytes' });
    const first = await get(proxy.url, '/api/v1/namespaces/ns/events', { method: 'POST', body: '{}' });
    assert.equal((first as { status: number }).status, 429);
    assert.deepEqual(JSON.parse((first as { body: string }).body), {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'fault proxy: TooManyRequests', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 2 },
    });
    assert.equal((await get(proxy.url, '/api/v1/namespaces/ns/events', { method: 'POST', body: '{}' }) as { status: number }).status, 429);
    assert.deepEqual(await get(proxy.url, '/api/v1/namespaces/ns/events', { method: 'POST', body: '{"a":1}' }), { status: 200, body: '{"method":"POST","url":"/api/v1/namespaces/ns/events","body":"{\\"a\\":1}"}' }, 'spent after 2: relayed with its body');
    const invalid = await get(proxy.url, '/api/v1/namespaces/ns/configmaps/store', { method: 'PUT', body: '{}' });
    assert.equal((invalid as { status: number }).status, 422);
    assert.match((invalid as { body: string }).body, /Too long: must have at most 1048576 bytes/);
    assert.deepEqual(proxy.seen.map((r) => [r.method, r.answered ?? r.relayed]), [['POST', 429], ['POST', 429], ['POST', 200], ['PUT', 422]]);
    const s = stream(proxy.url);
    await until('the stream to open', () => streams.size === 1);
    for (const w of streams) w('watched');
    await until('a streamed line through the proxy', () => s.lines.includes('watched'));
    proxy.endOpen();
    assert.notEqual(await s.ended, undefined);
  } finally {
    await proxy.close();
  }
});
