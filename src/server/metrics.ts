// Prometheus metrics, registered on a Registry handed in by the caller (no prom-client global
// registry: tests build many apps in one process).
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { AdmissionDecision } from '../admission/index.js';

export const ADMISSION_RESULTS: readonly AdmissionDecision[] = ['injected', 'skipped', 'denied', 'error'];

export interface AdmissionMetrics {
  requests: Counter<'result'>;
  duration: Histogram<'result'>;
}

export function createAdmissionMetrics(registry: Registry): AdmissionMetrics {
  const requests = new Counter({
    name: 'envoy_xds_injector_admission_requests_total',
    help: 'Admission reviews answered on /mutate, by result (injected, skipped, denied, or error for requests that got no review answer).',
    labelNames: ['result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'envoy_xds_injector_admission_duration_seconds',
    help: 'Time from request start to response sent on /mutate, by result.',
    labelNames: ['result'],
    // The apiserver's timeout is at most 10 s; a review normally takes well under a millisecond.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Export every series from the start so rate() and absent() queries work before the first review.
  for (const result of ADMISSION_RESULTS) {
    requests.inc({ result }, 0);
    duration.zero({ result });
  }
  return { requests, duration };
}

export interface TlsMetrics {
  reloads: Counter<'result'>;
  notAfter: Gauge;
}

export function createTlsMetrics(registry: Registry): TlsMetrics {
  const reloads = new Counter({
    name: 'envoy_xds_injector_tls_reloads_total',
    help: 'Serving certificate reloads after a change of the certificate files, by result (success or failure).',
    labelNames: ['result'],
    registers: [registry],
  });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  const notAfter = new Gauge({
    name: 'envoy_xds_injector_tls_certificate_not_after_timestamp_seconds',
    help: 'Expiry (notAfter, Unix seconds) of the serving certificate in use: alert before it passes.',
    registers: [registry],
  });
  return { reloads, notAfter };
}

export function createBuildInfo(registry: Registry, version: string): Gauge<'version'> {
  const info = new Gauge({
    name: 'envoy_xds_injector_build_info',
    help: 'Always 1; the version label says which injector build serves.',
    labelNames: ['version'],
    registers: [registry],
  });
  info.set({ version }, 1);
  return info;
}
