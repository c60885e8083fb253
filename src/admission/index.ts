// Public surface of the AdmissionReview v1 envelope: schema, types, the pure decision and builders.
export * from './review.js';
export { admit, isPodCreate, podDisplayName } from './admit.js';
export type { AdmissionDecision, AdmissionOutcome, PodInjector } from './admit.js';
export { allowResponse, decodePatch, denyResponse, reviewResponse, sanitizeWarnings } from './response.js';
