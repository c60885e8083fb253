// The webhook's HTTP surface: build a fastify instance (never listening; the CLI does that), with
// thin routes over the pure admission decision.
import type { ServerOptions } from 'node:https';
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdmissionDecision, AdmissionOutcome, AdmissionRequest, AdmissionReviewRequest } from '../admission/index.js';
import { admissionReviewResponseSchema, admissionReviewSchema, admit, podDisplayName } from '../admission/index.js';
import type { InjectorConfig, InjectResult } from '../inject/index.js';
import { injectPod } from '../inject/index.js';
import type { V1Pod } from '@kubernetes/client-node';
import { classifyError, errorBody, MAX_REVIEW_BYTES } from './errors.js';
import { createAdmissionMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { ConfigMapChecker } from '../schema/checker.js';
import { configMapValidation } from './validate-configmap.js';

export interface AppDeps {
  injectorConfig: InjectorConfig;
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  /** Key, certificate and TLS settings of the HTTPS server (later swapped with setSecureContext). */
  https: ServerOptions;
  /** The injection rules; the real ones unless a test needs a failing injector. */
  injectPod?: (pod: V1Pod, config: InjectorConfig) => InjectResult;
  /** The ConfigMap check behind /validate-configmap (its schema loads in a worker, on first use). */
  configMapChecker?: ConfigMapChecker;
}

/** The one log line per review: a child bound to the review's uid, namespace and Pod, with the decision. */
export function logReview(logger: FastifyBaseLogger, request: AdmissionRequest, outcome: AdmissionOutcome): void {
  const log = logger.child({ uid: request.uid, namespace: request.namespace, pod: podDisplayName(request) });
  const fields = {
    decision: outcome.decision,
    reason: outcome.reason,
    operation: request.operation,
    patchOperations: outcome.patchOperations,
    dryRun: request.dryRun === true,
  };
  if (outcome.decision === 'error') log.error(fields, 'admission review failed');
  else log.info(fields, 'admission review');
}

export function buildApp(deps: AppDeps) {
  const { injectorConfig, readiness, registry } = deps;
  const injectWith = deps.injectPod ?? injectPod;
  const inject = (pod: V1Pod): InjectResult => injectWith(pod, injectorConfig);
  const metrics = createAdmissionMetrics(registry);

  const app = fastify({
    https: deps.https,
    loggerInstance: deps.logger,
    // We log one line per review with its uid and decision; fastify's two lines per request would
    // only repeat it without the admission context.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request `reqId` child: a review's log line gets a child bound to its uid (the id the
    // apiserver logs too), and other requests are logged with method and url.
    childLoggerFactory: (logger) => logger,
    bodyLimit: MAX_REVIEW_BYTES,
    // During shutdown, reviews that still arrive on open keep-alive connections are answered
    // (with Connection: close) rather than refused: the apiserver would fail the Pod on a 503.
    return503OnClosing: false,
    // Strict validation: coercion would turn `uid: 1` into "1" and hide a broken client.
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false } },
    // The apiserver gives up after timeoutSeconds (<= 30); a request still incomplete after that is dead.
    requestTimeout: 60_000,
  });

  // Only JSON is an AdmissionReview: drop fastify's text/plain parser so other types get 415.
  app.removeContentTypeParser('text/plain');

  // Once no longer listening (shutdown.ts), ask keep-alive clients (the apiserver) to reconnect,
  // which lands them on a replica that is still in the Service, instead of cutting their connection.
  app.addHook('onRequest', (_request, reply, done) => {
    if (readiness.closingConnections) void reply.header('connection', 'close');
    done();
  });

  // Result of each /mutate request, read by the onResponse hook for the metrics.
  const decisions = new WeakMap<FastifyRequest, AdmissionDecision>();

  app.setErrorHandler((err, request, reply) => {
    const body = classifyError(err);
    if (body.statusCode >= 500) {
      request.log.error({ err, method: request.method, url: request.url }, 'request failed');
    } else {
      request.log.info({ code: body.code, method: request.method, url: request.url, message: body.message }, 'rejected malformed request');
    }
    return reply.code(body.statusCode).send(body);
  });
  // The 404 lists the routes this app serves, as registered (/validate-configmap only with a
  // ConfigMap checker; fastify's automatic HEAD of each GET left out).
  const served: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') served.push(`${method} ${route.url}`);
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorBody('NOT_FOUND', `the webhook serves ${served.join(', ')}`)));

  app.post<{ Body: AdmissionReviewRequest }>(
    '/mutate',
    {
      schema: { body: admissionReviewSchema, response: { 200: admissionReviewResponseSchema } },
      onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        const result = decisions.get(request) ?? 'error';
        metrics.requests.inc({ result });
        metrics.duration.observe({ result }, reply.elapsedTime / 1000);
        done();
      },
    },
    (request, reply) => {
      const review = request.body;
      const outcome = admit(review, inject);
      decisions.set(request, outcome.decision);
      void reply.send(outcome.review);
      // The apiserver waits for the answer, not for our log line: write it once the answer is out
      // (send() has serialized and written it synchronously by now; the check phase comes after).
      setImmediate(() => {
        logReview(request.log, review.request, outcome);
      });
      return reply;
    },
  );

  if (deps.configMapChecker) void app.register(configMapValidation(deps.configMapChecker, registry));

  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', (_request, reply) => {
    if (readiness.ready) return reply.send({ status: 'ready' });
    return reply.code(503).send({ status: readiness.state });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  return app;
}

export type WebhookApp = ReturnType<typeof buildApp>;
