// The embedded default for `serve` without --tls-cert/--tls-key: a self-signed certificate for
// localhost, made once with the openssl CLI and reused while it is valid. Development only; in a
// cluster the certificate comes from a Secret (cert-manager or certs/generate.sh).
import { execFile } from 'node:child_process';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { KeyPair, KeyPairFiles } from '../server/tls-reloader.js';
import { readKeyPair } from '../server/tls-reloader.js';

const execFileP = promisify(execFile);

export const DEV_CERT_DIR = '.dev-certs';
const DAYS = 90;
/** Regenerate when less than this is left, so a long-running dev server never hits expiry. */
const MIN_REMAINING_MS = 7 * 24 * 3600 * 1000;

function usable(pair: KeyPair, now: number): boolean {
  const { x509 } = pair;
  return (
    x509.checkHost('localhost') !== undefined &&
    x509.checkIP('127.0.0.1') !== undefined &&
    Date.parse(x509.validTo) - now > MIN_REMAINING_MS
  );
}

export interface DevCertificate extends KeyPairFiles {
  pair: KeyPair;
  created: boolean;
}

/** Reuse `<dir>/tls.crt` + `tls.key` when valid for localhost, else (re)generate them. */
export async function ensureDevCertificate(dir: string, logger: Logger, now = Date.now()): Promise<DevCertificate> {
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  try {
    const pair = await readKeyPair(files);
    if (usable(pair, now)) return { ...files, pair, created: false };
    logger.info({ certFile: files.certFile }, 'development certificate expires soon or lacks localhost; regenerating it');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn({ err, certFile: files.certFile }, 'development certificate unreadable; regenerating it');
    }
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write beside the final names and rename, so a concurrent start never reads half a pair.
  const tmp = { certFile: `${files.certFile}.${String(process.pid)}.tmp`, keyFile: `${files.keyFile}.${String(process.pid)}.tmp` };
  try {
    await execFileP('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', String(DAYS), '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
      '-keyout', tmp.keyFile, '-out', tmp.certFile,
    ]);
    await chmod(tmp.keyFile, 0o600);
    await rename(tmp.keyFile, files.keyFile);
    await rename(tmp.certFile, files.certFile);
  } catch (err) {
    await Promise.all([rm(tmp.certFile, { force: true }), rm(tmp.keyFile, { force: true })]);
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('generating the development certificate needs the openssl CLI: install openssl, or pass --tls-cert and --tls-key', { cause: err });
    }
    throw new Error(`generating the development certificate with openssl failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  const pair = await readKeyPair(files);
  logger.info({ certFile: files.certFile, notAfter: new Date(pair.x509.validTo).toISOString() }, 'generated a self-signed development certificate');
  return { ...files, pair, created: true };
}
