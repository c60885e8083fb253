// A verifying HTTPS client for the integration tests: trusts only the test CA, reports the peer
// certificate each response came over.
import { request } from 'node:https';
import type { Agent } from 'node:https';
import { TLSSocket } from 'node:tls';
import type { SecureVersion } from 'node:tls';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Serial number of the server certificate of the connection (upper-case hex). */
  peerSerial: string;
}

export interface RequestOptions {
  ca: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Default: a fresh connection per request (no keep-alive). */
  agent?: Agent | false;
  timeoutMs?: number;
  /** TLS client settings, e.g. to try an old protocol version. */
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

export function httpsRequest(url: string, opts: RequestOptions): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        headers: opts.headers,
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 30_000,
        ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
        ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
        ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
      },
      (res) => {
        const socket = res.socket;
        if (!(socket instanceof TLSSocket)) {
          reject(new Error('response did not come over TLS'));
          return;
        }
        const peerSerial = socket.getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), peerSerial });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function postReview(url: string, review: unknown, opts: Omit<RequestOptions, 'body' | 'method'>): Promise<HttpsResponse> {
  return httpsRequest(url, {
    ...opts,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: typeof review === 'string' ? review : JSON.stringify(review),
  });
}
