// The `serve` command as a user starts it: the embedded development default (`npm start` on a fresh
// clone), and refusals to start with a clear message for bad config, flags or certificates.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { AdmissionReviewResponse } from '../../src/admission/index.js';
import type { IssuedCert, TestCA } from '../helpers/tls.js';
import { createTestCA } from '../helpers/tls.js';
import { postReview } from './https-client.js';
import { spawnServe, startServeProcess } from './serve-harness.js';

const execFileP = promisify(execFile);
const fixturePath = new URL('../fixtures/admission-review.json', import.meta.url).pathname;

let dir: string;
let ca: TestCA;
let serving: IssuedCert;
let other: IssuedCert;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'exi-serve-'));
  ca = await createTestCA(join(dir, 'ca'));
  [serving, other] = await Promise.all([ca.issue('webhook'), ca.issue('other')]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = startServeProcess(args, { cwd: dir });
  const { code } = await proc.exit;
  return { code, stderr: proc.stderr(), stdout: proc.logs.lines.map((l) => JSON.stringify(l)).join('\n') };
}

describe('serve with no certificate flags (the embedded default)', () => {
  test('Ctrl-C stops it without the drain delay (no endpoints to drain in development); --drain-delay still applies', async () => {
    const cwd = await mkdtemp(join(dir, 'ctrl-c-'));
    const dev = await spawnServe(['--port', '0'], { cwd });
    dev.kill('SIGINT');
    assert.equal((await dev.exit).code, 0);
    assert.equal(dev.logs.byMessage(/^shutting down/)[0]?.drainDelayMs, 0);
    const asked = await spawnServe(['--port', '0', '--drain-delay', '50ms'], { cwd });
    asked.kill('SIGINT');
    assert.equal((await asked.exit).code, 0);
    assert.equal(asked.logs.byMessage(/^shutting down/)[0]?.drainDelayMs, 50);
  });


  test('creates a self-signed localhost certificate in ./.dev-certs, serves on 127.0.0.1, logs a working curl line, reuses it', async () => {
    const cwd = await mkdtemp(join(dir, 'clone-'));
    const first = await spawnServe(['--port', '0', '--drain-delay', '0s'], { cwd });
    let serialOfFirst: string;
    try {
      const generated = first.logs.byMessage('generated a self-signed development certificate');
      assert.equal(generated.length, 1);
      const listening = first.logs.byMessage(/^serving admission reviews at https:\/\/127\.0\.0\.1:\d+\/mutate$/);
      assert.equal(listening.length, 1, 'development mode binds 127.0.0.1 only');
      const keyMode = (await stat(join(cwd, '.dev-certs', 'tls.key'))).mode & 0o777;
      assert.equal(keyMode, 0o600);

      // The logged curl line names the certificate (relative to where serve started), the shipped
      // sample review and the address; the same request made from those pieces is injected.
      const hint = first.logs.byMessage(/^try it: curl /)[0];
      assert.ok(hint, 'a curl example is logged');
      const command = (hint.msg ?? '').replace(/^try it: /, '');
      const parts = /^curl --cacert (\S+) -H 'Content-Type: application\/json' --data-binary @(\S+) (https:\/\/\S+)$/.exec(command);
      assert.ok(parts, command);
      const [, cacert = '', dataFile = '', url = ''] = parts;
      assert.equal(cacert, '.dev-certs/tls.crt');
      assert.equal(dataFile, fixturePath);
      assert.equal(url, `https://127.0.0.1:${String(first.port)}/mutate`);
      const viaNode = await postReview(url, await readFile(dataFile, 'utf8'), { ca: await readFile(join(cwd, cacert), 'utf8') });
      const answers = [JSON.parse(viaNode.body) as AdmissionReviewResponse];
      // And run as printed when curl is installed (CI images may lack it).
      const hasCurl = await execFileP('sh', ['-c', 'command -v curl']).then(() => true, () => false);
      if (hasCurl) {
        const { stdout } = await execFileP('sh', ['-c', `${command} --silent --show-error`], { cwd });
        answers.push(JSON.parse(stdout) as AdmissionReviewResponse);
      }
      for (const answer of answers) {
        assert.equal(answer.response.uid, '7f0c6a52-3b1e-4d8f-9a44-2d5e1c9b8a01');
        assert.equal(answer.response.allowed, true);
        assert.equal(answer.response.patchType, 'JSONPatch');
      }
      serialOfFirst = (listening[0]?.certificate as { serialNumber: string }).serialNumber;
    } finally {
      first.kill('SIGTERM');
    }
    assert.deepEqual(await first.exit, { code: 0, signal: null });

    const second = await spawnServe(['--port', '0', '--drain-delay', '0s'], { cwd });
    try {
      assert.equal(second.logs.byMessage('generated a self-signed development certificate').length, 0, 'the valid certificate is reused');
      const listening = second.logs.byMessage(/^serving admission reviews at /)[0];
      assert.equal((listening?.certificate as { serialNumber: string }).serialNumber, serialOfFirst);
      const devCa = await readFile(join(cwd, '.dev-certs', 'tls.crt'), 'utf8');
      const res = await postReview(`https://127.0.0.1:${String(second.port)}/mutate`, await readFile(fixturePath, 'utf8'), { ca: devCa });
      assert.equal(res.status, 200);
    } finally {
      second.kill('SIGTERM');
    }
    assert.deepEqual(await second.exit, { code: 0, signal: null });
  });
});

describe('serve preloads the ConfigMap check', () => {
  test("loads Envoy's schema in its worker once it serves /mutate, and logs the load; a ConfigMap review after that is answered", async () => {
    const cwd = await mkdtemp(join(dir, 'preload-'));
    const proc = await spawnServe(['--port', '0', '--drain-delay', '0s'], { cwd });
    try {
      const loaded = await proc.logs.waitFor((l) => l.msg === 'Envoy schema loaded for /validate-configmap', 'schema loaded');
      assert.ok(typeof loaded.loadMs === 'number' && loaded.loadMs > 0, JSON.stringify(loaded));
      const order = proc.logs.lines.map((l) => String(l.msg));
      assert.ok(order.findIndex((m) => m.startsWith('serving admission reviews at ')) < order.indexOf('Envoy schema loaded for /validate-configmap'), 'ready before the schema loads');
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'cm-preload', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' },
          name: 'envoy-xds', namespace: 'shop', operation: 'CREATE',
          object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'envoy-xds', namespace: 'shop' }, data: { 'lds.yaml': 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n  address: {socket_address: {address: 0.0.0.0, port_value: 70000}}\n' } },
        },
      };
      const res = await postReview(`https://127.0.0.1:${String(proc.port)}/validate-configmap`, JSON.stringify(review), { ca: await readFile(join(cwd, '.dev-certs', 'tls.crt'), 'utf8') });
      const answer = JSON.parse(res.body) as AdmissionReviewResponse;
      assert.equal(answer.response.allowed, false);
      assert.match(answer.response.status?.message ?? '', /lds\.yaml:4:\d+: error: resources\[0\]\.address\.socket_address\.port_value/);
    } finally {
      proc.kill('SIGTERM');
    }
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });
});

describe('serve refuses to start', () => {
  test('with an invalid config file, naming the file and the key', async () => {
    const config = join(dir, 'injector.yaml');
    await writeFile(config, 'image: registry.local/exi:v1\nresources:\n  memoryLimit: 64MB\n');
    const { code, stderr } = await refusal(['--port', '0', '--tls-cert', serving.certFile, '--tls-key', serving.keyFile, '--config', config]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `envoy-xds-injector serve: refusing to start: config file ${config}: key "resources.memoryLimit" is "64MB" but must be a Kubernetes quantity such as 10m, 0.5, 64Mi or 1Gi\n`,
    );
  });

  test('with an invalid flag value for the injector config (a usage error, exit 2 like any bad flag)', async () => {
    const { code, stderr } = await refusal(['--port', '0', '--tls-cert', serving.certFile, '--tls-key', serving.keyFile, '--sidecar', 'pod']);
    assert.equal(code, 2);
    assert.match(stderr, /^error: invalid flag: --sidecar is "pod" but must be native or container\nrun '.* serve --help' for usage\n$/);
    const overLimit = await refusal(['--port', '0', '--tls-cert', serving.certFile, '--tls-key', serving.keyFile, '--memory-request', '1Gi']);
    assert.equal(overLimit.code, 2);
    assert.match(overLimit.stderr, /^error: flags: resources\.memoryRequest 1Gi is larger than resources\.memoryLimit/);
  });

  test('with a key that does not belong to the certificate', async () => {
    const { code, stderr } = await refusal(['--port', '0', '--tls-cert', serving.certFile, '--tls-key', other.keyFile]);
    assert.equal(code, 1);
    assert.match(stderr, /refusing to start: the private key in .*other\.key does not belong to the certificate in .*webhook\.crt/);
  });

  test('on a port that is taken, saying so', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const address = taken.address();
      assert.ok(address !== null && typeof address === 'object');
      const { code, stderr } = await refusal(['--port', String(address.port), '--host', '127.0.0.1', '--tls-cert', serving.certFile, '--tls-key', serving.keyFile]);
      assert.equal(code, 1);
      assert.equal(stderr, `envoy-xds-injector serve: cannot listen on 127.0.0.1:${String(address.port)} (EADDRINUSE): another process uses that port; pick one with --port\n`);
    } finally {
      taken.close();
    }
  });

  test('with --tls-cert but no --tls-key, or a bad duration (usage error, exit 2)', async () => {
    const onlyCert = await refusal(['--tls-cert', serving.certFile]);
    assert.equal(onlyCert.code, 2);
    assert.match(onlyCert.stderr, /--tls-cert and --tls-key go together/);
    const badDelay = await refusal(['--drain-delay', 'soon']);
    assert.equal(badDelay.code, 2);
    assert.match(badDelay.stderr, /--drain-delay: expected a duration/);
    const unknown = await refusal(['--tls-crt', 'x']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown flag '--tls-crt'\n/);
  });
});
