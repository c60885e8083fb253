// Turns the Pod's annotations and the injector's config into the settings of one injection,
// denying values Kubernetes would reject later with a less helpful message (or not at all).
import { Annotation, readAnnotation } from './annotations.js';
import type { InjectorConfig, SidecarMode } from './config.js';
import { Denial } from './denial.js';
import { isObject, type JsonObject } from './json.js';
import { normalizeMountPath } from './mount-path.js';
import { parseQuantity } from './quantity.js';

export interface InjectionOptions {
  configMap: string;
  /** Set only when the Pod names its Envoy container. */
  container: string | undefined;
  mountPath: string;
  sidecar: SidecarMode;
  image: string;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  /** The Pod's securityContext sets runAsUser 0, which our containers would inherit. */
  podRunsAsRoot: boolean;
}

// Same as Kubernetes' IsDNS1123Subdomain, which ConfigMap names must satisfy.
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

function configMapName(annotations: JsonObject): string {
  const name = readAnnotation(annotations, Annotation.configMap);
  if (name === undefined) {
    throw new Denial(
      `annotation ${Annotation.configMap} is missing: set it to the name of the ConfigMap that holds Envoy's xDS files`,
    );
  }
  if (!isDns1123Subdomain(name)) {
    throw new Denial(
      `annotation ${Annotation.configMap} "${name}" is not a valid ConfigMap name: use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  }
  return name;
}

function sidecarMode(annotations: JsonObject, config: InjectorConfig): SidecarMode {
  const mode = readAnnotation(annotations, Annotation.sidecar) ?? config.sidecar;
  if (mode !== 'native' && mode !== 'container') {
    throw new Denial(
      `annotation ${Annotation.sidecar} "${mode}" is not supported: use "native" (Kubernetes >= 1.29) or "container"`,
    );
  }
  return mode;
}

function image(annotations: JsonObject, config: InjectorConfig): string {
  const value = readAnnotation(annotations, Annotation.image) ?? config.image;
  if (/\s/.test(value)) {
    throw new Denial(`annotation ${Annotation.image} "${value}" contains whitespace: set it to an image reference such as registry.example/envoy-xds-injector:v1`);
  }
  return value;
}

interface Quantity {
  text: string;
  value: number;
  /** Where the value came from, for messages: the annotation, or the injector config. */
  source: string;
}

function quantity(annotations: JsonObject, key: string, fallback: string | undefined): Quantity | undefined {
  const fromAnnotation = readAnnotation(annotations, key);
  const text = fromAnnotation ?? fallback;
  if (text === undefined) return undefined;
  const source = fromAnnotation !== undefined ? `annotation ${key}` : `the injector's default for ${key}`;
  const value = parseQuantity(text);
  if (value === undefined || value < 0) {
    throw new Denial(`${source} "${text}" is not a valid Kubernetes quantity: use e.g. "10m" or "0.5" for CPU, "64Mi" for memory`);
  }
  return { text, value, source };
}

/** The apiserver rejects a request above its limit; say which annotation to change. */
function checkRequestWithinLimit(request: Quantity | undefined, limit: Quantity | undefined): void {
  if (request === undefined || limit === undefined || request.value <= limit.value) return;
  throw new Denial(
    `${request.source} "${request.text}" is more than ${limit.source} "${limit.text}": a request must not exceed its limit, set both annotations consistently`,
  );
}

function resources(annotations: JsonObject, config: InjectorConfig): InjectionOptions['resources'] {
  const defaults = config.resources;
  const cpuRequest = quantity(annotations, Annotation.cpuRequest, defaults.cpuRequest);
  const memoryRequest = quantity(annotations, Annotation.memoryRequest, defaults.memoryRequest);
  const memoryLimit = quantity(annotations, Annotation.memoryLimit, defaults.memoryLimit);
  const cpuLimit = quantity(annotations, Annotation.cpuLimit, defaults.cpuLimit);
  checkRequestWithinLimit(cpuRequest, cpuLimit);
  checkRequestWithinLimit(memoryRequest, memoryLimit);

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (cpuRequest) requests.cpu = cpuRequest.text;
  if (memoryRequest) requests.memory = memoryRequest.text;
  if (cpuLimit) limits.cpu = cpuLimit.text;
  if (memoryLimit) limits.memory = memoryLimit.text;
  return { requests, limits };
}

export function resolveOptions(annotations: JsonObject, spec: JsonObject, config: InjectorConfig): InjectionOptions {
  const mountPathAnnotation = readAnnotation(annotations, Annotation.mountPath);
  return {
    configMap: configMapName(annotations),
    container: readAnnotation(annotations, Annotation.container),
    mountPath: normalizeMountPath(
      mountPathAnnotation ?? config.mountPath,
      mountPathAnnotation !== undefined ? `annotation ${Annotation.mountPath}` : `the injector's default mountPath`,
    ),
    sidecar: sidecarMode(annotations, config),
    image: image(annotations, config),
    resources: resources(annotations, config),
    podRunsAsRoot: isObject(spec.securityContext) && spec.securityContext.runAsUser === 0,
  };
}
