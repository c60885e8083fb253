// Serving-certificate hot reload. In a Pod the key pair is a Secret volume, which kubelet updates
// by writing a new hidden directory and renaming a `..data` symlink over the old one: the files we
// were given never change in place, so we watch their directories and re-read both files on any
// event there. A half-updated or mismatched pair is refused and the current certificate kept.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsMetrics } from './metrics.js';

export interface KeyPairFiles {
  certFile: string;
  keyFile: string;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate (first in the chain). */
  x509: X509Certificate;
}

/** Read and check a certificate/key pair; the error says which file is wrong and how. */
export async function readKeyPair(files: KeyPairFiles): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${files.certFile} does not hold a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${files.keyFile} does not hold a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Error(`the private key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`);
  }
  // Whatever else OpenSSL would refuse (e.g. a broken chain) surfaces here rather than per handshake.
  createSecureContext({ cert, key });
  return { cert, key, x509 };
}

export function describeCertificate(x509: X509Certificate): Record<string, string> {
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    serialNumber: x509.serialNumber,
    notAfter: new Date(x509.validTo).toISOString(),
    fingerprint256: x509.fingerprint256,
  };
}

export interface CertificateReloaderOptions extends KeyPairFiles {
  logger: Logger;
  /** Install the new pair, e.g. `(pair) => server.setSecureContext({ ...tlsOptions, ...pair })`. */
  apply: (pair: { cert: Buffer; key: Buffer }) => void;
  /** The pair the server started with, so an unchanged rewrite is not reported as a reload. */
  current: KeyPair;
  metrics?: TlsMetrics;
  /** Events come in bursts (new dir, symlink, rename, old dir removed): wait this long for quiet. */
  debounceMs?: number;
  /** Re-read even without events, in case a watch broke (e.g. the directory was replaced). 0: never. */
  pollIntervalMs?: number;
}

export class CertificateReloader {
  readonly #opts: Required<Omit<CertificateReloaderOptions, 'metrics'>> & { metrics?: TlsMetrics };
  #current: KeyPair;
  #watchers: FSWatcher[] = [];
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(opts: CertificateReloaderOptions) {
    this.#opts = { debounceMs: 200, pollIntervalMs: 60_000, ...opts };
    this.#current = opts.current;
    opts.metrics?.notAfter.set(Date.parse(opts.current.x509.validTo) / 1000);
  }

  get certificate(): X509Certificate {
    return this.#current.x509;
  }

  start(): void {
    const dirs = new Set([this.#opts.certFile, this.#opts.keyFile].map((f) => dirname(resolve(f))));
    for (const dir of dirs) {
      const onError = (err: unknown): void => {
        // The poll below keeps reloads working (later); say why events stopped.
        this.#opts.logger.error({ err, dir }, 'watching the TLS certificate directory failed; falling back to polling');
      };
      try {
        const watcher = watch(dir, { persistent: false }, () => {
          this.#schedule();
        });
        watcher.on('error', onError);
        this.#watchers.push(watcher);
      } catch (err) {
        onError(err); // e.g. ENOSPC: the inotify watch limit is reached
      }
    }
    if (this.#opts.pollIntervalMs > 0) {
      this.#poll = setInterval(() => {
        this.#schedule();
      }, this.#opts.pollIntervalMs);
      this.#poll.unref();
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
  }

  /** Re-read now (serialized with any reload in progress). Resolves once done; never rejects. */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reloadOnce());
    return this.#reloading;
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      void this.reload();
    }, this.#opts.debounceMs);
    this.#debounce.unref();
  }

  async #reloadOnce(): Promise<void> {
    if (this.#stopped) return;
    const { logger, metrics } = this.#opts;
    let next: KeyPair;
    try {
      next = await readKeyPair(this.#opts);
    } catch (err) {
      // Often transient (files replaced one by one by a non-atomic writer): the next event retries.
      metrics?.reloads.inc({ result: 'failure' });
      logger.error(
        { err, certFile: this.#opts.certFile, keyFile: this.#opts.keyFile, serving: describeCertificate(this.#current.x509) },
        'new TLS certificate/key pair is invalid; still serving the current certificate',
      );
      return;
    }
    if (next.cert.equals(this.#current.cert) && next.key.equals(this.#current.key)) return;
    try {
      this.#opts.apply({ cert: next.cert, key: next.key });
    } catch (err) {
      metrics?.reloads.inc({ result: 'failure' });
      logger.error({ err }, 'installing the new TLS certificate failed; still serving the current certificate');
      return;
    }
    const previous = this.#current;
    this.#current = next;
    metrics?.reloads.inc({ result: 'success' });
    metrics?.notAfter.set(Date.parse(next.x509.validTo) / 1000);
    logger.info(
      { certificate: describeCertificate(next.x509), previousSerialNumber: previous.x509.serialNumber },
      'TLS certificate reloaded; new connections use it',
    );
  }
}
