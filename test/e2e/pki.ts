// Throw-away PKI for the e2e control plane and the webhook under test, generated with the
// `openssl` CLI (EC P-256 keys: fast to generate, accepted by kube-apiserver, etcd and Node TLS).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('the e2e suite needs the `openssl` CLI (apt-get install openssl)', { cause: err });
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

export interface KeyPair {
  certFile: string;
  keyFile: string;
  /** PEM text of the certificate. */
  cert: string;
  /** PEM text of the private key. */
  key: string;
}

export interface CertAuthority extends KeyPair {
  dir: string;
  /** Issue a leaf certificate signed by this CA. */
  issue(name: string, opts: IssueOptions): Promise<KeyPair>;
}

export interface IssueOptions {
  commonName: string;
  /** Subject O= entries, e.g. ['system:masters'] (Kubernetes groups for client certs). */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Extended key usages; default: server and client auth. */
  usages?: ('server' | 'client')[];
  days?: number;
}

function subject(cn: string, orgs: string[] = []): string {
  const esc = (s: string): string => s.replace(/[/\\]/g, (c) => `\\${c}`);
  return `${orgs.map((o) => `/O=${esc(o)}`).join('')}/CN=${esc(cn)}`;
}

async function readPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certFile, keyFile, cert, key };
}

/** Create a self-signed CA in `dir` (created if missing). */
export async function createCA(dir: string, commonName = 'envoy-xds-injector-e2e-ca'): Promise<CertAuthority> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  await openssl(
    [
      'req', '-x509', '-new', '-nodes',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-keyout', keyFile, '-out', certFile, '-days', '3',
      '-subj', subject(commonName),
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  const pair = await readPair(certFile, keyFile);
  const ca: CertAuthority = {
    ...pair,
    dir,
    issue: (name, opts) => issue(ca, name, opts),
  };
  return ca;
}

async function issue(ca: CertAuthority, name: string, opts: IssueOptions): Promise<KeyPair> {
  const base = join(ca.dir, name);
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  const certFile = `${base}.crt`;
  const extFile = `${base}.ext`;
  const usages = opts.usages ?? ['server', 'client'];
  const san = [
    ...(opts.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(opts.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usages.map((u) => (u === 'server' ? 'serverAuth' : 'clientAuth')).join(',')}`,
    ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
  ];
  await writeFile(extFile, `${ext.join('\n')}\n`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], ca.dir);
  await openssl(['req', '-new', '-key', keyFile, '-subj', subject(opts.commonName, opts.organizations), '-out', csrFile], ca.dir);
  await openssl(
    [
      'x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile,
      '-set_serial', `0x${randomBytes(12).toString('hex')}`,
      '-days', String(opts.days ?? 3), '-sha256', '-extfile', extFile, '-out', certFile,
    ],
    ca.dir,
  );
  return readPair(certFile, keyFile);
}

/** An EC key pair for signing service-account tokens (PEM private key + PEM public key). */
export async function createSigningKey(dir: string, name = 'sa'): Promise<{ keyFile: string; pubFile: string }> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, `${name}.key`);
  const pubFile = join(dir, `${name}.pub`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], dir);
  await openssl(['pkey', '-in', keyFile, '-pubout', '-out', pubFile], dir);
  return { keyFile, pubFile };
}
