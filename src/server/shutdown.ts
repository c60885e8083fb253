// Graceful stop of the webhook, in the order that loses no review: fail readiness, keep serving
// while the endpoint is removed from the Service, stop accepting, finish what was accepted.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WebhookApp } from './app.js';
import type { Readiness } from './readiness.js';

export interface ShutdownOptions {
  readiness: Readiness;
  logger: Logger;
  /**
   * How long to keep serving after readiness fails: the time for the endpoint removal to reach
   * kube-proxy and the apiserver, during which new connections still arrive here.
   */
  drainDelayMs: number;
  /** After this long, connections still open are cut (stay below terminationGracePeriodSeconds). */
  timeoutMs: number;
}

export async function shutdownGracefully(app: WebhookApp, opts: ShutdownOptions): Promise<void> {
  const { readiness, logger } = opts;
  const started = Date.now();
  // From here on every response says `Connection: close`, moving keep-alive clients elsewhere.
  readiness.markShuttingDown();
  logger.info({ drainDelayMs: opts.drainDelayMs }, 'shutting down: /readyz fails, still serving while endpoints update');
  if (opts.drainDelayMs > 0) await sleep(opts.drainDelayMs);

  logger.info('no longer accepting connections; finishing in-flight reviews');
  const server = app.server;
  // server.close() reaps connections idle at that moment; a request that was mid-flight leaves its
  // connection idle only once answered, so keep reaping until the server has closed.
  const reaper = setInterval(() => {
    server.closeIdleConnections();
  }, 100);
  const deadline = setTimeout(() => {
    logger.warn({ timeoutMs: opts.timeoutMs }, 'shutdown timeout: closing the connections still open');
    server.closeAllConnections();
  }, opts.timeoutMs);
  try {
    await app.close();
  } finally {
    clearInterval(reaper);
    clearTimeout(deadline);
  }
  logger.info({ ms: Date.now() - started }, 'shut down');
}
