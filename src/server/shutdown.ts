// Graceful stop of the webhook, in the order that loses no review and resets no connection: fail
// readiness and keep serving (keep-alive as before) while the endpoint is removed from the Service;
// then stop listening; then answer what still arrives on open connections with `Connection: close`
// and close connections only once they have been idle for a while.
//
// Why this order: closing a listening socket makes the kernel reset every connection still in its
// accept queue (completed handshakes the server has not accepted yet). Asking keep-alive clients to
// reconnect (`Connection: close`) while still listening fills that queue with fresh connections,
// and some are reset when the listener closes. Keeping their connections until the listener is
// closed means no fresh connections to reset; clients that reconnect afterwards are refused
// (ECONNREFUSED), a clean failure they retry elsewhere.
import { Server as NetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WebhookApp } from './app.js';
import type { ConnectionTracker } from './connections.js';
import type { Readiness } from './readiness.js';

/** A connection idle this long after the listener closed is closed by the server. */
const IDLE_GRACE_MS = 1000;

export interface ShutdownOptions {
  readiness: Readiness;
  logger: Logger;
  /** The app's connections, tracked since before it listened. */
  connections: ConnectionTracker;
  /**
   * How long to keep serving after readiness fails: the time for the endpoint removal to reach
   * kube-proxy and the apiserver, during which new connections still arrive here.
   */
  drainDelayMs: number;
  /** After this long, connections still open are cut (stay below terminationGracePeriodSeconds). */
  timeoutMs: number;
}

export async function shutdownGracefully(app: WebhookApp, opts: ShutdownOptions): Promise<void> {
  const { readiness, logger, connections } = opts;
  const started = Date.now();
  readiness.markShuttingDown();
  logger.info({ drainDelayMs: opts.drainDelayMs }, 'shutting down: /readyz fails, still serving while endpoints update');
  if (opts.drainDelayMs > 0) await sleep(opts.drainDelayMs);

  logger.info('no longer accepting connections; finishing in-flight reviews');
  const server = app.server;
  // From here on every response says `Connection: close`.
  readiness.markClosingConnections();
  // net.Server#close, not http.Server#close: the latter first closes every connection idle at this
  // instant, resetting requests their clients are sending right now. Resolves once all are closed.
  const drained = new Promise<void>((resolve) => {
    NetServer.prototype.close.call(server, () => {
      resolve();
    });
  });
  const reaper = setInterval(() => {
    connections.destroyIdle(IDLE_GRACE_MS);
  }, 100);
  const deadline = setTimeout(() => {
    logger.warn({ timeoutMs: opts.timeoutMs }, 'shutdown timeout: closing the connections still open');
    server.closeAllConnections();
  }, opts.timeoutMs);
  try {
    await drained;
    await app.close(); // onClose hooks; the server is already closed
  } finally {
    clearInterval(reaper);
    clearTimeout(deadline);
  }
  logger.info({ ms: Date.now() - started }, 'shut down');
}
