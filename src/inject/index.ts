// Public surface of the pure injection rules. The webhook and the offline `inject` CLI call these
// and nothing else; all rules live below this folder.
import type { V1Pod } from '@kubernetes/client-node';
import type { Operation } from 'fast-json-patch';

export type { InjectorConfig, SidecarMode, SyncResources } from './config.js';
export { defaultConfig } from './config.js';
export { Annotation, ANNOTATION_PREFIX } from './annotations.js';
export { QUANTITY_PATTERN, parseQuantity } from './quantity.js';
export { isDns1123Subdomain } from './options.js';
export { injectPod } from './inject-pod.js';
export { injectManifest, type ManifestResult } from './manifest.js';

export type InjectResult =
  /** Not ours to touch (no opt-in annotation) or already injected: no patch. */
  | { decision: 'skipped'; reason: string; warnings: string[] }
  /**
   * `pod` is the mutated Pod in wire format (plain JSON, as received); `patch` turns the original
   * into it (RFC 6902, from fast-json-patch `compare`; its values are copies).
   *
   * `pod` is a copy-on-write update of the input: new objects along the paths injection changed
   * (metadata, its annotations, spec, spec's volumes/initContainers/containers, the Envoy
   * container and its volumeMounts, everything injected), the rest shared with the input. Neither
   * is written to by injectPod; a caller that mutates one while still using the other must
   * structuredClone first. No object appears twice within `pod` unless it did in the input.
   */
  | { decision: 'injected'; pod: V1Pod; patch: Operation[]; warnings: string[] }
  /** The Pod asked for injection but cannot get it; `message` names the annotation and the fix. */
  | { decision: 'denied'; message: string; warnings: string[] };
