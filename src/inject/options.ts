// Turns the Pod's annotations and the injector's config into the settings of one injection,
// denying values Kubernetes would reject later with a less helpful message (or not at all).
import { adminAnnotation } from './admin.js';
import { Annotation, readAnnotation } from './annotations.js';
import { sourceMode } from './api-source.js';
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
  /** Envoy's admin address for the watcher (`admin` annotation, validated), when set. */
  admin: string | undefined;
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
      `annotation ${Annotation.sidecar} "${mode}" is not supported: use "native" (a native sidecar, on by default in Kubernetes >= 1.30) or "container"`,
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

/**
 * Runs `read`; a Denial it throws is added to `denials` (undefined is returned) so the caller can
 * go on and report every bad annotation of the Pod at once, as a bad config file is reported.
 */
function collect<T>(denials: string[], read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof Denial)) throw err;
    denials.push(err.message);
    return undefined;
  }
}

function resources(annotations: JsonObject, config: InjectorConfig, denials: string[]): InjectionOptions['resources'] {
  const defaults = config.resources;
  const read = (key: string, fallback: string | undefined): Quantity | undefined =>
    collect(denials, () => quantity(annotations, key, fallback));
  const cpuRequest = read(Annotation.cpuRequest, defaults.cpuRequest);
  const memoryRequest = read(Annotation.memoryRequest, defaults.memoryRequest);
  const memoryLimit = read(Annotation.memoryLimit, defaults.memoryLimit);
  const cpuLimit = read(Annotation.cpuLimit, defaults.cpuLimit);
  collect(denials, () => { checkRequestWithinLimit(cpuRequest, cpuLimit); });
  collect(denials, () => { checkRequestWithinLimit(memoryRequest, memoryLimit); });

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (cpuRequest) requests.cpu = cpuRequest.text;
  if (memoryRequest) requests.memory = memoryRequest.text;
  if (cpuLimit) limits.cpu = cpuLimit.text;
  if (memoryLimit) limits.memory = memoryLimit.text;
  return { requests, limits };
}

/**
 * The injection's settings from the Pod's annotations over `config`. Throws one Denial naming every
 * bad annotation (messages joined by "; "), so an operator fixes them in one round.
 */
export function resolveOptions(annotations: JsonObject, spec: JsonObject, config: InjectorConfig): InjectionOptions {
  const denials: string[] = [];
  const configMap = collect(denials, () => configMapName(annotations));
  const container = collect(denials, () => readAnnotation(annotations, Annotation.container));
  const mountPath = collect(denials, () => {
    const fromAnnotation = readAnnotation(annotations, Annotation.mountPath);
    return normalizeMountPath(
      fromAnnotation ?? config.mountPath,
      fromAnnotation !== undefined ? `annotation ${Annotation.mountPath}` : `the injector's default mountPath`,
    );
  });
  const admin = collect(denials, () => adminAnnotation(annotations));
  const sidecar = collect(denials, () => sidecarMode(annotations, config));
  const imageRef = collect(denials, () => image(annotations, config));
  const resourceSettings = resources(annotations, config, denials);
  // Read again when the Pod is injected; checked here so its mistake is reported with the others.
  collect(denials, () => sourceMode(annotations));
  if (denials.length > 0 || configMap === undefined || mountPath === undefined || sidecar === undefined || imageRef === undefined) {
    throw new Denial(denials.join('; '));
  }
  return {
    configMap,
    container,
    mountPath,
    admin,
    sidecar,
    image: imageRef,
    resources: resourceSettings,
    podRunsAsRoot: isObject(spec.securityContext) && spec.securityContext.runAsUser === 0,
  };
}
