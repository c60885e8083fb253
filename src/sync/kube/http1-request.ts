// One Kubernetes API request over HTTP/1.1 (node:http(s) on a given agent): the transport when the
// server does not speak HTTP/2, and for plain-http servers. connection.ts chooses.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Agent as HttpAgent, IncomingHttpHeaders } from 'node:http';

/** What came back: the status, the headers and the body's text. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * Sends `method url` with `headers` and `payload` on `agent`; resolves on any HTTP status, rejects
 * (an Error with the reason) when no answer came: nothing within `timeoutMs` of sending, or a silence
 * of `timeoutMs` while the answer streams.
 */
export function http1Request(url: URL, agent: HttpAgent, method: string, headers: Record<string, string>, payload: Buffer | undefined, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, agent, headers, timeout: timeoutMs }, (res) => {
      clearTimeout(deadline);
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }); });
    });
    const silent = (): Error => new Error(`no answer within ${String(Math.round(timeoutMs / 1000))}s`);
    // The socket's idle timeout bounds a silence once a socket is assigned; until the answer
    // starts, a deadline from the send bounds the whole wait too: for a queued request, and for a
    // new TLS connection whose handshake is never answered, where Node lets the socket's first
    // timeout pass (measured behind a silent proxy: twice the timeout).
    const deadline = setTimeout(() => req.destroy(silent()), timeoutMs);
    req.on('close', () => { clearTimeout(deadline); });
    req.on('timeout', () => req.destroy(silent()));
    req.on('error', reject);
    req.end(payload);
  });
}
