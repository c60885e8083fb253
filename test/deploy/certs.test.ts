// certs/generate.sh for real: openssl makes the CA and serving certificate, a real TLS handshake
// checks them the way the apiserver does (caBundle as trust roots, the Service DNS name as server
// name), and the CA rotation keeps every certificate a replica may still serve trusted.
import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import { promisify } from 'node:util';
import type { V1Deployment, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Kustomization } from './manifests.js';
import { loadObjects, loadYaml, manifests, onlyWire, repo } from './manifests.js';

const run = promisify(execFile);
const script = join(repo, 'certs', 'generate.sh');
const HOST = 'envoy-xds-injector.envoy-xds-injector.svc';

interface Pems {
  cert: string;
  key: string;
}

/** A TLS server with `served` and a client trusting only `bundle`, as the apiserver dials a webhook. */
async function handshake(served: Pems, bundle: string, servername: string): Promise<void> {
  const server = createServer({ cert: served.cert, key: served.key }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: bundle, minVersion: 'TLSv1.2' }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('certs/generate.sh', () => {
  let out = '';
  const generate = (...args: string[]) => run('bash', [script, '--out', out, ...args]);
  const read = (name: string) => readFile(join(out, name), 'utf8');
  const pems = async (): Promise<Pems> => ({ cert: await read('tls.crt'), key: await read('tls.key') });

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'envoy-xds-certs-'));
  });
  after(async () => {
    if (out !== '') await rm(out, { recursive: true, force: true });
  });

  test('issues a serving certificate that a client trusting only the caBundle accepts for the Service names', async () => {
    await generate();
    const served = await pems();
    const bundle = await read('ca-bundle.crt');
    await handshake(served, bundle, HOST);
    await handshake(served, bundle, `${HOST}.cluster.local`);
    await assert.rejects(handshake(served, bundle, 'other.envoy-xds-injector.svc'), /does not match|altnames/i);
    await run('bash', [script, '--out', join(out, 'other')]);
    const otherCa = await readFile(join(out, 'other', 'ca.crt'), 'utf8');
    await assert.rejects(handshake(served, otherCa, HOST), /unable to verify|self.signed/i, 'another CA does not vouch for it');

    const leaf = new X509Certificate(served.cert);
    assert.equal(leaf.ca, false);
    assert.equal(leaf.subjectAltName, `DNS:${HOST}, DNS:${HOST}.cluster.local`);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only');
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 365) <= 1, `valid ${days} days`);
    assert.ok(new X509Certificate(await read('ca.crt')).ca);
  });

  test('private keys are mode 0600; nothing kustomize reads besides tls.key holds key material', async () => {
    for (const key of ['tls.key', 'ca.key']) assert.equal((await stat(join(out, key))).mode & 0o777, 0o600, key);
    for (const file of ['kustomization.yaml', 'ca-bundle-patch.yaml', 'ca-bundle.crt', 'tls.crt']) {
      assert.doesNotMatch(await read(file), /PRIVATE KEY/, file);
    }
  });

  test('writes a kustomize Component: the TLS Secret the Deployment mounts, the caBundle on our webhook', async () => {
    const component = loadYaml(join(out, 'kustomization.yaml'))[0] as Kustomization;
    assert.equal(component.kind, 'Component');
    const base = join(manifests, 'base');
    const deployment = onlyWire(loadObjects(join(base, 'deployment.yaml')), 'Deployment') as V1Deployment;
    const secretName = deployment.spec?.template.spec?.volumes?.find((v) => v.secret !== undefined)?.secret?.secretName;
    assert.deepEqual(component.secretGenerator, [
      {
        name: secretName,
        namespace: deployment.metadata?.namespace,
        type: 'kubernetes.io/tls',
        files: ['tls.crt', 'tls.key'],
        options: { disableNameSuffixHash: true },
      },
    ]);
    assert.deepEqual(component.patches, [{ path: 'ca-bundle-patch.yaml' }, { path: 'ca-bundle-validating-patch.yaml' }]);
    const validating = loadYaml(join(out, 'ca-bundle-validating-patch.yaml'))[0] as { kind: string; webhooks: { name: string; clientConfig: { caBundle: string } }[] };
    assert.equal(validating.kind, 'ValidatingWebhookConfiguration');
    assert.equal(validating.webhooks[0]?.name, 'validate-configmap.envoy-xds-injector.io');
    const mwc = onlyWire(loadObjects(join(base, 'mutatingwebhookconfiguration.yaml')), 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration;
    const patch = loadYaml(join(out, 'ca-bundle-patch.yaml'))[0] as V1MutatingWebhookConfiguration;
    assert.equal(patch.metadata?.name, mwc.metadata?.name);
    const [webhook = assert.fail('no webhook in the patch'), ...others] = patch.webhooks ?? [];
    assert.deepEqual(others, []);
    assert.equal(webhook.name, mwc.webhooks?.[0]?.name);
    assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString(), await read('ca-bundle.crt'));
  });

  test('renewal: a new serving certificate from the same CA leaves the caBundle unchanged', async () => {
    const before = { cert: await read('tls.crt'), patch: await read('ca-bundle-patch.yaml'), bundle: await read('ca-bundle.crt') };
    await generate('issue');
    assert.notEqual(await read('tls.crt'), before.cert);
    assert.equal(await read('ca-bundle.crt'), before.bundle);
    assert.equal((await read('ca-bundle-patch.yaml')).split('\n').find((l) => l.includes('caBundle:')), before.patch.split('\n').find((l) => l.includes('caBundle:')));
    await handshake(await pems(), before.bundle, HOST);
  });

  test('CA rotation: stage, promote, retire; at every step each certificate a replica may serve is trusted', async () => {
    const old = await pems();
    await generate('stage-ca');
    assert.equal((await read('ca-bundle.crt')).match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.deepEqual(await pems(), old, 'staging a CA does not touch the serving certificate');
    await handshake(old, await read('ca-bundle.crt'), HOST);
    await assert.rejects(generate('stage-ca'), /already staged/);

    await generate('promote-ca');
    const current = await pems();
    assert.notEqual(current.cert, old.cert);
    const bundle = await read('ca-bundle.crt');
    await handshake(current, bundle, HOST); // replicas that reloaded
    await handshake(old, bundle, HOST); // replicas whose Secret volume has not refreshed yet
    assert.ok(new X509Certificate(current.cert).checkIssued(new X509Certificate(await read('ca.crt'))));

    await generate('retire-ca');
    const final = await read('ca-bundle.crt');
    assert.equal(final, await read('ca.crt'));
    await handshake(current, final, HOST);
    await assert.rejects(handshake(old, final, HOST));
    await assert.rejects(generate('retire-ca'), /nothing to retire/);
  });

  test('bad arguments exit 2 with a message and write nothing', async () => {
    await assert.rejects(generate('--frobnicate'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /unknown argument '--frobnicate'/);
      return true;
    });
    await assert.rejects(run('bash', [script, '--out', join(out, 'bad'), '--service', 'Not_A_Label']), /not a DNS-1123 label/);
    await assert.rejects(stat(join(out, 'bad')));
  });
});
