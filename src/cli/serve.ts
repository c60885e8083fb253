// `serve`: the mutating admission webhook over HTTPS. Reads flags and files, then wires the pieces:
// injector config, certificate (+ hot reload), fastify app, metrics, graceful shutdown. See docs/webhook.md.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { SecureContextOptions } from 'node:tls';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildApp } from '../server/app.js';
import { createConfigMapChecker } from '../schema/checker.js';
import { createBuildInfo, createTlsMetrics } from '../server/metrics.js';
import { Readiness } from '../server/readiness.js';
import { ConnectionTracker } from '../server/connections.js';
import { shutdownGracefully } from '../server/shutdown.js';
import type { KeyPair, KeyPairFiles } from '../server/tls-reloader.js';
import { CertificateReloader, describeCertificate, readKeyPair } from '../server/tls-reloader.js';
import { configFromFlags, injectorConfigFlags, InvalidConfigError, InvalidConfigFlagError, loadInjectorConfig } from './config.js';
import type { Command } from './context.js';
import { durationFlag, parseFlags, UsageError } from './context.js';
import { DEV_CERT_DIR, ensureDevCertificate } from './devcert.js';

const USAGE = `Usage: envoy-xds-injector serve [flags]

Run the mutating admission webhook over HTTPS (TLS >= 1.2): POST /mutate, GET /healthz /readyz /metrics.
Without --tls-cert/--tls-key it creates a self-signed certificate for localhost in ./${DEV_CERT_DIR}/
and listens on 127.0.0.1 (development). The certificate files are reloaded when they change.

  --port N                 port to listen on (default 8443; 0 picks a free one)
  --host H                 address to bind (default 0.0.0.0 with --tls-cert, 127.0.0.1 without; '::' for IPv6)
  --tls-cert FILE          PEM certificate chain (e.g. a mounted Secret's tls.crt)
  --tls-key FILE           PEM private key (tls.key)
  --config FILE            injector config, YAML or JSON (keys: image, imagePullPolicy, mountPath,
                           sidecar, resources.{cpuRequest,memoryRequest,memoryLimit,cpuLimit})
  --drain-delay DURATION   keep serving this long after SIGTERM/SIGINT while endpoints update (default 5s)
                           (0s without --tls-cert: a development server has no endpoints, Ctrl-C stops it)
  --shutdown-timeout DURATION
                           then cut connections still open after this long (default 20s)

Injector config flags (override the file):
  --image REF  --image-pull-policy Always|IfNotPresent|Never  --mount-path DIR  --sidecar native|container
  --cpu-request Q  --memory-request Q  --memory-limit Q  --cpu-limit Q
`;

const options = {
  port: { type: 'string', default: '8443' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  config: { type: 'string' },
  'drain-delay': { type: 'string' },
  'shutdown-timeout': { type: 'string', default: '20s' },
  help: { type: 'boolean', short: 'h' },
  ...injectorConfigFlags,
} as const;


function portFlag(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--port: expected a port number 0-65535, got '${text}'`);
  return port;
}

/** The sample review for the curl hint, relative to the current directory when inside it. */
function sampleReviewPath(cwd: string): string | undefined {
  const file = fileURLToPath(new URL('../../test/fixtures/admission-review.json', import.meta.url));
  if (!existsSync(file)) return undefined;
  const rel = relative(cwd, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

export const serve: Command = async (args, ctx) => {
  const values = parseFlags(args, options);
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const port = portFlag(values.port);
  const shutdownTimeoutMs = durationFlag('shutdown-timeout', values['shutdown-timeout']);
  const certFlag = values['tls-cert'];
  const keyFlag = values['tls-key'];
  if ((certFlag === undefined) !== (keyFlag === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: pass both, or neither for a development certificate');
  }
  const development = certFlag === undefined || keyFlag === undefined;
  // The drain lets kube-proxy and the apiserver stop sending to a Pod that is going away; a
  // development server (Ctrl-C in a terminal) has no endpoints, so it stops at once.
  const drainDelayMs = durationFlag('drain-delay', values['drain-delay'] ?? (development ? '0s' : '5s'));
  const { logger } = ctx;

  let injectorConfig;
  try {
    injectorConfig = await loadInjectorConfig(values.config, ctx.version, configFromFlags(values));
  } catch (err) {
    if (err instanceof InvalidConfigFlagError) throw new UsageError(err.message);
    if (!(err instanceof InvalidConfigError)) throw err;
    ctx.stderr.write(`envoy-xds-injector serve: refusing to start: ${err.message}\n`);
    return 1;
  }

  const cwd = process.cwd();
  let files: KeyPairFiles;
  let pair: KeyPair;
  if (development) {
    const dev = await ensureDevCertificate(join(cwd, DEV_CERT_DIR), logger);
    ({ pair } = dev);
    files = { certFile: dev.certFile, keyFile: dev.keyFile };
  } else {
    files = { certFile: certFlag, keyFile: keyFlag };
    try {
      pair = await readKeyPair(files);
    } catch (err) {
      ctx.stderr.write(`envoy-xds-injector serve: refusing to start: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const host = values.host ?? (development ? '127.0.0.1' : '0.0.0.0');

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  createBuildInfo(registry, ctx.version);
  const tlsMetrics = createTlsMetrics(registry);
  const readiness = new Readiness();
  const tlsOptions: SecureContextOptions = { minVersion: 'TLSv1.2' };
  // The ConfigMap check (/validate-configmap) loads Envoy's schema in a worker thread, never on the
  // Pod path's event loop; preloaded below once /mutate is ready.
  const configMapChecker = createConfigMapChecker();
  const app = buildApp({
    injectorConfig,
    logger,
    registry,
    readiness,
    configMapChecker,
    https: { ...tlsOptions, cert: pair.cert, key: pair.key },
  });
  const reloader = new CertificateReloader({
    ...files,
    current: pair,
    logger,
    metrics: tlsMetrics,
    // setSecureContext replaces every TLS setting, so the fixed ones go in again with the new pair.
    apply: (next) => {
      app.server.setSecureContext({ ...tlsOptions, ...next });
    },
  });

  const connections = new ConnectionTracker(app.server);
  try {
    await app.listen({ port, host });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    ctx.stderr.write(`envoy-xds-injector serve: cannot listen on ${host}:${String(port)} (${code})${code === 'EADDRINUSE' ? ': another process uses that port; pick one with --port' : ''}\n`);
    await app.close();
    return 1;
  }
  reloader.start();
  readiness.markReady();
  // Load Envoy's schema now, in the worker, so the first ConfigMap review after a start does not pay
  // the load inside the apiserver's timeout (timeoutSeconds: 10; failurePolicy Ignore would let the
  // write through unchecked). After markReady: Pod reviews are served meanwhile.
  const preloadStart = performance.now();
  configMapChecker.preload().then(
    (loadMs) => {
      logger.info({ loadMs: Math.round(loadMs), sinceReadyMs: Math.round(performance.now() - preloadStart) }, 'Envoy schema loaded for /validate-configmap');
    },
    (err: unknown) => {
      logger.warn({ err }, 'Envoy schema not preloaded: the first ConfigMap review loads it');
    },
  );
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  logger.info(
    { host, port: boundPort, certificate: describeCertificate(pair.x509), config: injectorConfig },
    `serving admission reviews at https://${urlHost}:${String(boundPort)}/mutate`,
  );
  if (development) {
    const sample = sampleReviewPath(cwd) ?? 'review.json';
    const cert = relative(cwd, files.certFile);
    logger.info(
      `try it: curl --cacert ${cert} -H 'Content-Type: application/json' --data-binary @${sample} https://${urlHost}:${String(boundPort)}/mutate`,
    );
  }

  if (!ctx.shutdownSignal.aborted) {
    await new Promise<void>((resolve) => {
      ctx.shutdownSignal.addEventListener('abort', () => {
        resolve();
      }, { once: true });
    });
  }
  logger.info({ signal: String(ctx.shutdownSignal.reason) }, 'shutdown requested');
  reloader.stop();
  await shutdownGracefully(app, { readiness, logger, connections, drainDelayMs, timeoutMs: shutdownTimeoutMs });
  await configMapChecker.close();
  return 0;
};
