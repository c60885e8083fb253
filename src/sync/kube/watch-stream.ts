// One watch request (NDJSON events over a long-lived GET): a stream on the connection's HTTP/2
// connection when the server speaks HTTP/2 (h2-client.ts), else through client-node's Watch, with an
// abort that holds even when it comes before client-node hands out its AbortController (a silent
// connection can keep the request waiting for headers).
import { constants, type ClientHttp2Stream } from 'node:http2';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeConnection } from './connection.js';

export interface WatchStream {
  /** Resolves when the request has ended: undefined when it ended cleanly, else the error it ended with (an AbortError after abort()). */
  readonly ended: Promise<unknown>;
  /** Ends the request (now, or as soon as it has started). Idempotent. */
  abort(): void;
}

/**
 * Starts `GET path?watch=true&params` and calls `onEvent(type, object)` per event (ADDED, MODIFIED,
 * DELETED, BOOKMARK, ERROR with a Status object), in order, and `onOpen()` once the apiserver
 * answered 200 (the watch is open).
 */
export function openWatch(
  connection: KubeConnection,
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  onEvent: (type: string, object: unknown) => void,
  onOpen: () => void = () => undefined,
): WatchStream {
  const query = new URLSearchParams({ watch: 'true' });
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, String(value));
  const h2 = connection.stream?.(`${path}?${query.toString()}`);
  if (h2 !== undefined) return streamedWatch(h2.stream, (err) => h2.explain(err), onEvent, onOpen);
  const watch = new Watch(connection.watchConfig as unknown as KubeConfig);
  let controller: AbortController | undefined;
  let aborted = false;
  let finished = false;
  const ended = new Promise<unknown>((resolve) => {
    void watch
      .watch(path, params, onEvent, (err: unknown) => {
        finished = true;
        resolve(err === null ? undefined : err);
      })
      .then((started) => {
        controller = started;
        if (aborted) started.abort();
        // client-node's Watch returns once a 200 answer is streaming, or after it reported the failure.
        else if (!finished) onOpen();
      });
  });
  return {
    ended,
    abort: () => {
      aborted = true;
      controller?.abort();
    },
  };
}

/** An Error as client-node's Watch reports an abort (configmap-watch.ts reads its name). */
function abortError(): Error {
  const err = new Error('the watch was ended');
  err.name = 'AbortError';
  return err;
}

/**
 * The watch on an HTTP/2 stream: each line an event; a status other than 200 ends it with an Error
 * carrying `statusCode`, the Status message (as client-node's Watch reports it, api-problem.ts) and
 * the `retryAfter` header (a 429's).
 */
function streamedWatch(stream: ClientHttp2Stream, explain: (err: Error) => Error, onEvent: (type: string, object: unknown) => void, onOpen: () => void): WatchStream {
  let aborted = false;
  let status = 0;
  let retryAfter: string | string[] | undefined;
  let pending = '';
  const ended = new Promise<unknown>((resolve) => {
    stream.setEncoding('utf8');
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      retryAfter = headers['retry-after'];
      if (status === 200) onOpen();
    });
    stream.on('data', (chunk: string) => {
      pending += chunk;
      if (status !== 200) return;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() === '' || aborted) continue;
        let event: { type: string; object: unknown };
        try {
          event = JSON.parse(line) as typeof event;
        } catch (err) {
          resolve(err);
          aborted = true;
          stream.close(constants.NGHTTP2_CANCEL);
          return;
        }
        onEvent(event.type, event.object);
      }
    });
    stream.on('end', () => {
      if (status === 200 || aborted) { resolve(aborted ? abortError() : undefined); return; }
      let message = pending.slice(0, 300);
      try {
        message = (JSON.parse(pending) as { message?: string }).message ?? message;
      } catch {
        // not a Status: the text says it
      }
      resolve(Object.assign(new Error(message), { statusCode: status, retryAfter }));
    });
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
