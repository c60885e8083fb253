// One watch request (NDJSON events over a long-lived GET): a stream on the connection's HTTP/2
// connection when the server speaks HTTP/2 (h2-client.ts), else a request on its HTTP/1.1 keep-alive
// pool, with an abort that holds even when it comes before the request is sent. Either way a refusal
// keeps its status and Retry-After (a 429's: client-go reads it, rest/request.go checkWait).
import { constants, type ClientHttp2Stream } from 'node:http2';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConnection } from './connection.js';

export interface WatchStream {
  /** Resolves when the request has ended: undefined when it ended cleanly, else the error it ended with (an AbortError after abort()). */
  readonly ended: Promise<unknown>;
  /** Ends the request (now, or as soon as it has started). Idempotent. */
  abort(): void;
}

type OnEvent = (type: string, object: unknown) => void;

/** TCP keep-alive probes on the HTTP/1.1 watch's socket after this long idle (client-node's Watch did the same). */
const KEEPALIVE_MS = 30_000;

/**
 * Starts `GET path?watch=true&params` and calls `onEvent(type, object)` per event (ADDED, MODIFIED,
 * DELETED, BOOKMARK, ERROR with a Status object), in order, and `onOpen()` once the apiserver
 * answered 200 (the watch is open). A status other than 200 ends it with an Error carrying
 * `statusCode`, the Status message and `retryAfter` (the header), as api-problem.ts watchError reads.
 */
export function openWatch(
  connection: KubeConnection,
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  onEvent: OnEvent,
  onOpen: () => void = () => undefined,
): WatchStream {
  const query = new URLSearchParams({ watch: 'true' });
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, String(value));
  const h2 = connection.stream?.(`${path}?${query.toString()}`);
  if (h2 !== undefined) return streamedWatch(h2.stream, (err) => h2.explain(err), onEvent, onOpen);
  return http1Watch(connection, new URL(`${path}?${query.toString()}`, connection.watchConfig.getCurrentCluster().server), onEvent, onOpen);
}

/** An Error as configmap-watch.ts recognises an abort (its name). */
function abortError(): Error {
  const err = new Error('the watch was ended');
  err.name = 'AbortError';
  return err;
}

/** One watch answer as it streams in: its status and headers, then its body in chunks. */
class WatchAnswer {
  private status = 0;
  private retryAfter: string | string[] | undefined;
  /** The body's text after the last newline, as received (joined once its line ends: a 1 MiB event comes in 64 or more chunks). */
  private partial: string[] = [];

  constructor(private readonly onEvent: OnEvent, private readonly onOpen: () => void) {}

  answered(status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.retryAfter = headers['retry-after'];
    if (status === 200) this.onOpen();
  }

  get open(): boolean {
    return this.status === 200;
  }

  /** A chunk of the body: its whole lines are events; returns the error when a line is not JSON (the watch must end). */
  data(chunk: string): unknown {
    if (this.status !== 200) {
      this.partial.push(chunk);
      return undefined;
    }
    // Only the new chunk is searched for the line's end: the body so far holds none.
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      this.partial.push(chunk.slice(start, nl));
      const line = this.partial.join('');
      this.partial = [];
      start = nl + 1;
      if (line.trim() === '') continue;
      let event: { type: string; object: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch (err) {
        return err;
      }
      this.onEvent(event.type, event.object);
    }
    if (start < chunk.length) this.partial.push(chunk.slice(start));
    return undefined;
  }

  /** The body ended: undefined for an open watch (a clean end), else the refusal as an Error. */
  end(): unknown {
    if (this.status === 200) return undefined;
    const text = this.partial.join('');
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not a Status: the text says it
    }
    return Object.assign(new Error(message), { statusCode: this.status, retryAfter: this.retryAfter });
  }
}

/** The watch on an HTTP/2 stream. */
function streamedWatch(stream: ClientHttp2Stream, explain: (err: Error) => Error, onEvent: OnEvent, onOpen: () => void): WatchStream {
  let aborted = false;
  const answer = new WatchAnswer((type, object) => { if (!aborted) onEvent(type, object); }, onOpen);
  const ended = new Promise<unknown>((resolve) => {
    stream.setEncoding('utf8');
    stream.on('response', (headers) => { answer.answered(Number(headers[':status']), headers); });
    stream.on('data', (chunk: string) => {
      if (aborted) return;
      const bad = answer.data(chunk);
      if (bad === undefined) return;
      resolve(bad);
      aborted = true;
      stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.on('end', () => { resolve(aborted ? abortError() : answer.end()); });
    stream.on('error', (err: Error) => { resolve(aborted ? abortError() : explain(err)); });
    stream.on('close', () => { resolve(aborted ? abortError() : explain(new Error(`the watch stream closed (HTTP/2 code ${String(stream.rstCode)})`))); });
  });
  return {
    ended,
    abort: () => {
      aborted = true;
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    },
  };
}

/** The watch as an HTTP/1.1 request on the connection's keep-alive pool (a server without HTTP/2). */
function http1Watch(connection: KubeConnection, url: URL, onEvent: OnEvent, onOpen: () => void): WatchStream {
  let aborted = false;
  let req: ClientRequest | undefined;
  const answer = new WatchAnswer((type, object) => { if (!aborted) onEvent(type, object); }, onOpen);
  const ended = new Promise<unknown>((resolve) => {
    const done = (err: unknown): void => { resolve(aborted ? abortError() : err); };
    connection.watchConfig.applyToFetchOptions({}).then(({ agent, headers }) => {
      if (aborted) { done(undefined); return; }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(url, { method: 'GET', agent, headers }, (res) => {
        answer.answered(res.statusCode ?? 0, res.headers);
        if (answer.open) res.socket.setKeepAlive(true, KEEPALIVE_MS);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (aborted) return;
          const bad = answer.data(chunk);
          if (bad === undefined) return;
          done(bad);
          aborted = true;
          req?.destroy();
        });
        res.on('end', () => { done(answer.end()); });
        res.on('error', done);
        res.on('close', () => { done(new Error('the watch connection closed before the answer ended')); });
      });
      req.on('error', done);
      req.end();
    }, done);
  });
  return {
    ended,
    abort: () => {
      aborted = true;
      req?.destroy();
    },
  };
}
