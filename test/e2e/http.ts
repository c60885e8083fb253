// Minimal HTTP(S) GET/POST for health checks and metrics scraping (custom CA / client certs,
// which global fetch cannot do without an extra dependency).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface HttpOptions {
  method?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** Skip server certificate verification (self-signed component certs). */
  insecure?: boolean;
  /** TLS SNI / certificate name to verify against, when it differs from the URL host. */
  servername?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  /** Extra node:https request options (e.g. from KubeConfig.applyToHTTPSOptions). */
  extra?: RequestOptions;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpGet(url: string, opts: HttpOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (isHttps ? httpsRequest : httpRequest)(
      u,
      {
        method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
        headers: opts.headers,
        timeout: opts.timeoutMs ?? 5_000,
        ...(isHttps
          ? {
              ca: opts.ca,
              cert: opts.cert,
              key: opts.key,
              rejectUnauthorized: opts.insecure !== true,
              servername: opts.servername,
            }
          : {}),
        ...opts.extra,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }); },
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
