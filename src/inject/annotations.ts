// The annotations operators put on a pod template, and how they are read.
import { Denial } from './denial.js';
import { isObject, type JsonObject } from './json.js';

export const ANNOTATION_PREFIX = 'envoy-xds-injector.io/';

export const Annotation = {
  inject: `${ANNOTATION_PREFIX}inject`,
  configMap: `${ANNOTATION_PREFIX}configmap`,
  container: `${ANNOTATION_PREFIX}container`,
  mountPath: `${ANNOTATION_PREFIX}mount-path`,
  sidecar: `${ANNOTATION_PREFIX}sidecar`,
  image: `${ANNOTATION_PREFIX}image`,
  cpuRequest: `${ANNOTATION_PREFIX}cpu-request`,
  memoryRequest: `${ANNOTATION_PREFIX}memory-request`,
  memoryLimit: `${ANNOTATION_PREFIX}memory-limit`,
  cpuLimit: `${ANNOTATION_PREFIX}cpu-limit`,
  /** `volume` (default) or `api`: how the watcher learns of ConfigMap changes. */
  source: `${ANNOTATION_PREFIX}source`,
  /**
   * Envoy's admin API as the watcher reaches it inside the Pod: `HOST:PORT` or a unix socket path
   * (admin.ts). Needed when the bootstrap is not in the ConfigMap; otherwise overrides its address.
   */
  admin: `${ANNOTATION_PREFIX}admin`,
  /** Written by the injector: JSON of what was injected and by which version. */
  status: `${ANNOTATION_PREFIX}status`,
} as const;

const KNOWN_ANNOTATIONS = new Set<string>(Object.values(Annotation));

/** metadata.annotations of a Pod or pod template of any shape; `{}` when there are none. */
export function annotationsOf(pod: unknown): JsonObject {
  const metadata = isObject(pod) ? pod.metadata : undefined;
  const annotations = isObject(metadata) ? metadata.annotations : undefined;
  return isObject(annotations) ? annotations : {};
}

/**
 * One of our annotations. Absent, null and "" all mean "not set" (a templating tool that renders
 * an empty value meant the default). A non-string value only happens in a local YAML file
 * (`inject: true` unquoted, which the apiserver would reject), so say how to quote it.
 */
export function readAnnotation(annotations: JsonObject, key: string): string | undefined {
  const value = Object.hasOwn(annotations, key) ? annotations[key] : undefined;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new Denial(
      `annotation ${key} must be a string, got the ${typeof value} ${JSON.stringify(value)}: annotation values are strings, quote it in YAML (e.g. "true", not true)`,
    );
  }
  return value;
}

/** A misspelt annotation is silently ignored by Kubernetes; we can at least say so. */
export function unknownAnnotationWarnings(annotations: JsonObject): string[] {
  return Object.keys(annotations)
    .filter((key) => key.startsWith(ANNOTATION_PREFIX) && !KNOWN_ANNOTATIONS.has(key))
    .map(
      (key) =>
        `unknown annotation ${key} is ignored; known annotations: ${[...KNOWN_ANNOTATIONS]
          .filter((known) => known !== Annotation.status)
          .join(', ')}`,
    );
}
