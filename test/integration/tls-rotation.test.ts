// Certificate rotation the way it happens in a Pod: kubelet swaps the Secret volume's `..data`
// symlink. Clients keep sending reviews over fresh connections throughout; none may fail, and once
// the server has logged the reload, every new connection must get the new certificate.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AdmissionReviewResponse } from '../../src/admission/index.js';
import type { IssuedCert, TestCA } from '../helpers/tls.js';
import { AtomicWriterDir, createTestCA } from '../helpers/tls.js';
import { httpsRequest, postReview } from './https-client.js';
import type { InProcessServe } from './serve-harness.js';
import { startServeInProcess } from './serve-harness.js';

const fixture = JSON.parse(await readFile(new URL('../fixtures/admission-review.json', import.meta.url), 'utf8')) as {
  request: { uid: string };
};

let dir: string;
let ca: TestCA;
let first: IssuedCert;
let second: IssuedCert;
let stranger: IssuedCert;
let secret: AtomicWriterDir;
let server: InProcessServe;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'exi-rotation-'));
  ca = await createTestCA(join(dir, 'ca'));
  [first, second, stranger] = await Promise.all([ca.issue('first'), ca.issue('second'), ca.issue('stranger')]);
  secret = new AtomicWriterDir(join(dir, 'secret'));
  await secret.write({ 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': ca.cert });
  server = await startServeInProcess([
    '--port', '0', '--host', '127.0.0.1',
    '--tls-cert', secret.path('tls.crt'), '--tls-key', secret.path('tls.key'),
    '--drain-delay', '0s',
  ]);
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  /** Sequence number taken when the request started. */
  startedAt: number;
  serial?: string;
  error?: string;
}

test('rotating the Secret volume: 0 failed requests, new connections get the new certificate, a bad pair is refused', async () => {
  let sequence = 0;
  const outcomes: Outcome[] = [];
  let running = true;
  const client = async (worker: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const startedAt = ++sequence;
      const uid = `rotation-${String(worker)}-${String(i)}`;
      try {
        // agent: false → a fresh connection (and TLS handshake) per request.
        const res = await postReview(`${server.url}/mutate`, { ...fixture, request: { ...fixture.request, uid } }, { ca: ca.cert });
        const answer = JSON.parse(res.body) as AdmissionReviewResponse;
        if (res.status !== 200 || answer.response.uid !== uid || !answer.response.allowed) {
          outcomes.push({ startedAt, error: `status ${String(res.status)}: ${res.body.slice(0, 200)}` });
        } else {
          outcomes.push({ startedAt, serial: res.peerSerial });
        }
      } catch (err) {
        outcomes.push({ startedAt, error: String(err) });
      }
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  const waitForResponses = async (count: number): Promise<void> => {
    const target = outcomes.length + count;
    const deadline = Date.now() + 60_000;
    while (outcomes.length < target) {
      assert.ok(Date.now() < deadline, 'clients stopped making progress');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  try {
    await waitForResponses(20);

    // 1. A valid new pair: swapped in atomically, picked up without restart.
    await secret.write({ 'tls.crt': second.cert, 'tls.key': second.key, 'ca.crt': ca.cert });
    await server.logs.waitFor((l) => l.msg === 'TLS certificate reloaded; new connections use it', 'certificate reload');
    const reloadedAt = sequence;
    await waitForResponses(40);

    // 2. A certificate with somebody else's key: refused, the second certificate stays in use.
    await secret.write({ 'tls.crt': stranger.cert, 'tls.key': first.key, 'ca.crt': ca.cert });
    const refusal = await server.logs.waitFor(
      (l) => l.msg === 'new TLS certificate/key pair is invalid; still serving the current certificate',
      'refused reload',
    );
    assert.match(JSON.stringify(refusal.err), /does not belong to the certificate/);
    await waitForResponses(40);
    running = false;
    await Promise.all(clients);

    const failures = outcomes.filter((o) => o.error !== undefined);
    assert.deepEqual(failures, [], 'every request during rotation must succeed');
    const before = outcomes.filter((o) => o.startedAt < reloadedAt);
    const afterReload = outcomes.filter((o) => o.startedAt > reloadedAt);
    assert.ok(before.some((o) => o.serial === first.serialNumber), 'the first certificate was served before the rotation');
    assert.ok(afterReload.length >= 40);
    assert.deepEqual(
      [...new Set(afterReload.map((o) => o.serial))],
      [second.serialNumber],
      'every connection opened after the reload got the new certificate, also after the bad pair was refused',
    );

    // The reloaded context keeps the TLS settings: TLS 1.1 is still refused.
    await assert.rejects(
      httpsRequest(`${server.url}/healthz`, { ca: ca.cert, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      /alert protocol version/,
    );

    const metrics = await httpsRequest(`${server.url}/metrics`, { ca: ca.cert });
    assert.match(metrics.body, /^envoy_xds_injector_tls_reloads_total\{result="success"\} 1$/m);
    assert.match(metrics.body, /^envoy_xds_injector_tls_reloads_total\{result="failure"\} [1-9]\d*$/m);
  } finally {
    running = false;
    await Promise.all(clients);
  }
});

test('files replaced in place one after the other (no ..data swap): the half-written state is refused, the complete pair is picked up', async () => {
  const plainDir = join(dir, 'plain');
  await mkdir(plainDir);
  const certFile = join(plainDir, 'tls.crt');
  const keyFile = join(plainDir, 'tls.key');
  await Promise.all([writeFile(certFile, first.cert), writeFile(keyFile, first.key)]);
  const plain = await startServeInProcess([
    '--port', '0', '--host', '127.0.0.1', '--tls-cert', certFile, '--tls-key', keyFile, '--drain-delay', '0s',
  ]);
  try {
    assert.equal((await httpsRequest(`${plain.url}/healthz`, { ca: ca.cert })).peerSerial, first.serialNumber);
    await writeFile(certFile, second.cert);
    // The certificate alone does not match the old key: refused, the first certificate stays.
    await plain.logs.waitFor((l) => l.msg === 'new TLS certificate/key pair is invalid; still serving the current certificate', 'refusal');
    assert.equal((await httpsRequest(`${plain.url}/healthz`, { ca: ca.cert })).peerSerial, first.serialNumber);
    await writeFile(keyFile, second.key);
    await plain.logs.waitFor((l) => l.msg === 'TLS certificate reloaded; new connections use it', 'reload');
    assert.equal((await httpsRequest(`${plain.url}/healthz`, { ca: ca.cert })).peerSerial, second.serialNumber);
  } finally {
    assert.equal(await plain.stop(), 0);
  }
});
