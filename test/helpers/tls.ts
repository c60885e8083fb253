// Test PKI made with the real `openssl` CLI: a CA, serving certificates it signs, and a directory
// updated the way kubelet updates a Secret volume (AtomicWriter's `..data` symlink swap).
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('these tests need the `openssl` CLI (apt-get install openssl)', { cause: err });
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** As node reports it for a peer certificate (upper-case hex). */
  serialNumber: string;
  fingerprint256: string;
}

export interface TestCA extends IssuedCert {
  /** Issue a serving certificate for localhost, 127.0.0.1 and ::1 (or the given names). */
  issue(name: string, opts?: { dnsNames?: string[]; ips?: string[]; commonName?: string }): Promise<IssuedCert>;
}

async function load(certFile: string, keyFile: string): Promise<IssuedCert> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const x509 = new X509Certificate(cert);
  return { certFile, keyFile, cert, key, serialNumber: x509.serialNumber, fingerprint256: x509.fingerprint256 };
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createTestCA(dir: string): Promise<TestCA> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  await openssl([
    'req', '-x509', ...ecKey, '-keyout', keyFile, '-out', certFile, '-days', '2',
    '-subj', '/CN=envoy-xds-injector test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const ca = await load(certFile, keyFile);
  return {
    ...ca,
    async issue(name, opts = {}) {
      const leafCert = join(dir, `${name}.crt`);
      const leafKey = join(dir, `${name}.key`);
      const san = [
        ...(opts.dnsNames ?? ['localhost']).map((d) => `DNS:${d}`),
        ...(opts.ips ?? ['127.0.0.1', '::1']).map((ip) => `IP:${ip}`),
      ].join(',');
      // OpenSSL 3 `req -x509 -CA` signs a new key with the CA in one step.
      await openssl([
        'req', '-x509', ...ecKey, '-keyout', leafKey, '-out', leafCert, '-days', '2',
        '-CA', certFile, '-CAkey', keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-subj', `/CN=${opts.commonName ?? name}`,
        '-addext', 'basicConstraints=critical,CA:FALSE',
        '-addext', 'keyUsage=critical,digitalSignature',
        '-addext', 'extendedKeyUsage=serverAuth',
        '-addext', `subjectAltName=${san}`,
      ]);
      return load(leafCert, leafKey);
    },
  };
}

/**
 * A directory kept the way kubelet's AtomicWriter keeps a Secret/ConfigMap volume: the payload lives
 * in a hidden timestamped directory, `..data` is a symlink to it, and each visible file is a symlink
 * through `..data`. An update writes a new timestamped directory, points `..data_tmp` at it, renames
 * `..data_tmp` over `..data` (the one atomic step), then deletes the old directory.
 */
export class AtomicWriterDir {
  readonly dir: string;
  #generation = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async write(files: Record<string, string>): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const before = (await readdir(this.dir)).filter((e) => e.startsWith('..') && e !== '..data');
    const payload = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${String(++this.#generation)}`;
    await mkdir(join(this.dir, payload));
    for (const [name, content] of Object.entries(files)) await writeFile(join(this.dir, payload, name), content);
    await symlink(payload, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    const visible = new Set(await readdir(this.dir));
    for (const name of Object.keys(files)) {
      if (!visible.has(name)) await symlink(join('..data', name), join(this.dir, name));
    }
    for (const old of before) await rm(join(this.dir, old), { recursive: true, force: true });
  }
}
