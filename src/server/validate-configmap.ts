// POST /validate-configmap: the ValidatingWebhook for ConfigMaps labelled
// envoy-xds-injector.io/validate=true. Thin: the decision is src/admission/configmap.ts, the check
// runs in the schema worker (src/schema/checker.ts), off the event loop the Pod path uses.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { admitConfigMap, type ConfigMapDecision } from '../admission/configmap.js';
import type { AdmissionReviewRequest } from '../admission/index.js';
import { admissionReviewResponseSchema, admissionReviewSchema } from '../admission/index.js';
import type { ConfigMapChecker } from '../schema/checker.js';

/** A fastify plugin adding the route (registered by buildApp when it has a checker). */
export const configMapValidation = (checker: ConfigMapChecker, registry: Registry): FastifyPluginCallback => (app, _options, pluginDone) => {
  const requests = new Counter({
    name: 'envoy_xds_injector_configmap_reviews_total',
    help: 'ConfigMap reviews answered by /validate-configmap, by result (allowed, warned, denied, skipped, error)',
    labelNames: ['result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'envoy_xds_injector_configmap_review_duration_seconds',
    help: 'Time to answer a ConfigMap review (the first one includes loading the Envoy schema)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const decisions = new WeakMap<FastifyRequest, ConfigMapDecision>();
  app.post<{ Body: AdmissionReviewRequest }>(
    '/validate-configmap',
    {
      schema: { body: admissionReviewSchema, response: { 200: admissionReviewResponseSchema } },
      onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        const result = decisions.get(request) ?? 'error';
        requests.inc({ result });
        duration.observe(reply.elapsedTime / 1000);
        done();
      },
    },
    async (request) => {
      const { request: review } = request.body;
      const outcome = await admitConfigMap(review, (configMap, options) => checker.check(configMap, options));
      decisions.set(request, outcome.decision);
      request.log.info({ uid: review.uid, namespace: review.namespace, configmap: review.name, decision: outcome.decision, errors: outcome.errors, warnings: outcome.warnings, dryRun: review.dryRun === true }, 'configmap review');
      return outcome.review;
    },
  );
  pluginDone();
};
