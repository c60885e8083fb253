// One watch request through client-node's Watch (NDJSON events over a long-lived GET), with an abort
// that holds even when it comes before client-node hands out its AbortController (a silent
// connection can keep the request waiting for headers).
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
 * DELETED, BOOKMARK, ERROR with a Status object), in order.
 */
export function openWatch(
  connection: KubeConnection,
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  onEvent: (type: string, object: unknown) => void,
): WatchStream {
  const watch = new Watch(connection.watchConfig as unknown as KubeConfig);
  let controller: AbortController | undefined;
  let aborted = false;
  const ended = new Promise<unknown>((resolve) => {
    void watch
      .watch(path, params, onEvent, (err: unknown) => {
        resolve(err === null ? undefined : err);
      })
      .then((started) => {
        controller = started;
        if (aborted) started.abort();
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
