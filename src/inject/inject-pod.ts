// injectPod: the whole decision for one Pod (or pod template), pure and total.
// fast-json-patch is CommonJS: Node's ESM loader only offers its module.exports as the default import.
import type { V1Pod } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { missingAdminWarning } from './admin.js';
import { Annotation, annotationsOf, readAnnotation, unknownAnnotationWarnings } from './annotations.js';
import type { InjectorConfig } from './config.js';
import { sourceMode, withApiSource, withLastAccepted } from './api-source.js';
import { copyContainer, injectedVolumes, selectEnvoyContainer, watchContainer } from './containers.js';
import { Denial } from './denial.js';
import { checkBootstrap, subPathWarnings } from './envoy-args.js';
import { isObject, listAt, nameOf, type JsonObject } from './json.js';
import { checkMountPathIsFree } from './mount-path.js';
import { CONFIG_VOLUME, INJECTED_CONTAINERS, INJECTED_VOLUMES, RESERVED_VOLUMES } from './names.js';
import { resolveOptions } from './options.js';
import { serviceAccountTokenMounts } from './service-account.js';
import { missingInjectedObjects, statusAnnotation } from './status.js';
import type { InjectResult } from './index.js';

/** Names of the objects in a list that may not be a list (skipped Pods are never denied for their shape). */
function namesIn(...lists: unknown[]): Set<string> {
  const names = new Set<string>();
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const name = nameOf(entry);
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

function alreadyInjectedWarnings(spec: unknown): string[] {
  const s = isObject(spec) ? spec : {};
  const missing = missingInjectedObjects(namesIn(s.volumes), namesIn(s.containers, s.initContainers));
  return missing.length === 0
    ? []
    : [
        `annotation ${Annotation.status} marks this Pod as injected but it lacks ${missing.join(', ')}; remove that annotation to inject again`,
      ];
}

/** Our names are reserved: a Pod that already uses one (without our status annotation) is not ours to merge into. */
function checkNoNameClash(volumes: unknown[], containers: unknown[], initContainers: unknown[]): void {
  const volumeNames = namesIn(volumes);
  const containerNames = namesIn(containers, initContainers);
  const clashes = [
    ...RESERVED_VOLUMES.filter((name) => volumeNames.has(name)).map((name) => `volume ${name}`),
    ...INJECTED_CONTAINERS.filter((name) => containerNames.has(name)).map((name) => `container ${name}`),
  ];
  if (clashes.length > 0) {
    throw new Denial(
      `the Pod already has ${clashes.join(', ')}, which the injector did not add (no ${Annotation.status} annotation): rename them, names starting with envoy-xds- are reserved for the injector`,
    );
  }
}

function decide(pod: unknown, config: InjectorConfig, warnings: string[]): InjectResult {
  const annotations = annotationsOf(pod);
  const optIn = readAnnotation(annotations, Annotation.inject);
  if (optIn !== 'true') {
    if (optIn !== undefined && optIn !== 'false') {
      warnings.push(`annotation ${Annotation.inject} is "${optIn}", not "true": the Pod is not injected`);
    }
    return { decision: 'skipped', reason: `annotation ${Annotation.inject} is not "true"`, warnings };
  }
  warnings.push(...unknownAnnotationWarnings(annotations));
  const spec = (pod as JsonObject).spec;
  if (Object.hasOwn(annotations, Annotation.status)) {
    warnings.push(...alreadyInjectedWarnings(spec));
    return { decision: 'skipped', reason: `already injected (annotation ${Annotation.status} is set)`, warnings };
  }

  if (!isObject(spec)) throw new Denial('the Pod has no spec');
  const options = resolveOptions(annotations, spec, config);
  const containers = listAt(spec, 'containers', 'spec.containers');
  const initContainers = listAt(spec, 'initContainers', 'spec.initContainers');
  const volumes = listAt(spec, 'volumes', 'spec.volumes');
  if (containers.length === 0) throw new Denial('the Pod has no containers in spec.containers');
  checkNoNameClash(volumes, containers, initContainers);

  const envoy = selectEnvoyContainer(containers, initContainers, options.container);
  warnings.push(...checkMountPathIsFree(envoy.container, envoy.name, options.mountPath, volumes));
  const bootstrap = checkBootstrap(envoy.container, envoy.name, options.mountPath, options.configMap);
  if (bootstrap.warning !== undefined) warnings.push(bootstrap.warning);
  const noAdmin = missingAdminWarning(bootstrap.bootstrap, options.admin, envoy.name, options.configMap);
  if (noAdmin !== undefined) warnings.push(noAdmin);
  warnings.push(...subPathWarnings(volumes, [initContainers, containers], options.configMap));
  const restartPolicy = spec.restartPolicy;
  if (options.sidecar === 'container' && (restartPolicy === 'Never' || restartPolicy === 'OnFailure')) {
    warnings.push(
      `annotation ${Annotation.sidecar} is "container" but the Pod's restartPolicy is ${restartPolicy}: the watcher never exits, so the Pod (and its Job) never completes; use "native"`,
    );
  }

  // Copy-on-write: new objects along the paths injection changes (metadata.annotations, spec's
  // three lists, the Envoy container and its volumeMounts), everything else shared with the input.
  // The input is never written to, and compare() skips shared subtrees (obj === mirror) instead
  // of walking a deep clone of the whole Pod.
  //
  // Envoy gets the writable copy, read-only: only the watcher writes it, by atomic rename.
  const envoyContainer: JsonObject = {
    ...envoy.container,
    volumeMounts: [
      ...listAt(envoy.container, 'volumeMounts', `volumeMounts of container ${envoy.name}`),
      { name: CONFIG_VOLUME, mountPath: options.mountPath, readOnly: true },
    ],
  };
  let copy = copyContainer(options, config, bootstrap.bootstrap);
  let watch = watchContainer(options, config, bootstrap.bootstrap);
  // So that the apiserver's re-run of the ServiceAccount plugin changes nothing (one call per Pod).
  for (const container of [copy, watch]) container.volumeMounts.push(...serviceAccountTokenMounts(spec));
  const extraVolumes: JsonObject[] = [];
  if (sourceMode(annotations) === 'api') {
    const api = withApiSource(watch, spec, volumes, options.configMap);
    watch = api.container;
    warnings.push(...api.warnings);
    const lastAccepted = withLastAccepted(copy, options.configMap);
    copy = lastAccepted.container;
    extraVolumes.push(lastAccepted.volume);
  }
  // A native sidecar is an init container; a `container` sidecar joins the regular containers.
  const ourInitContainers = options.sidecar === 'native' ? [copy, watch] : [copy];
  const ourContainers = options.sidecar === 'native' ? [] : [watch];
  const newInitContainers = envoy.isInitContainer ? initContainers.with(envoy.index, envoyContainer) : initContainers;
  const newContainers = envoy.isInitContainer ? containers : containers.with(envoy.index, envoyContainer);
  // Init containers run in order: ours go last, or right before Envoy when Envoy is a native sidecar itself.
  const at = envoy.isInitContainer ? envoy.index : initContainers.length;
  // Keys keep their place, new ones are appended in this order: the same patch as assigning them.
  const mutatedSpec: JsonObject = {
    ...spec,
    volumes: [...volumes, ...injectedVolumes(options.configMap), ...extraVolumes],
    initContainers: [...newInitContainers.slice(0, at), ...ourInitContainers, ...newInitContainers.slice(at)],
    containers: ourContainers.length === 0 ? newContainers : [...newContainers, ...ourContainers],
  };
  // An object: the opt-in annotation was read from its annotations.
  const metadata = (pod as { metadata: JsonObject }).metadata;
  const names = (list: { name: string }[]): string[] => list.map((container) => container.name);
  const status = statusAnnotation(config.version, options, envoy.name, [...INJECTED_VOLUMES, ...extraVolumes.map((v) => String(v.name))], names(ourInitContainers), names(ourContainers));
  const mutated: JsonObject = {
    ...(pod as JsonObject),
    metadata: { ...metadata, annotations: { ...annotations, [Annotation.status]: status } },
    spec: mutatedSpec,
  };
  return { decision: 'injected', pod: mutated, patch: jsonPatch.compare(pod as object, mutated), warnings };
}

/** Never throws: a Pod of any shape gets a decision. */
export function injectPod(pod: V1Pod, config: InjectorConfig): InjectResult {
  const warnings: string[] = [];
  try {
    return decide(pod, config, warnings);
  } catch (err) {
    const message = err instanceof Denial ? err.message : `envoy-xds-injector cannot process this Pod: ${String(err)}`;
    return { decision: 'denied', message, warnings };
  }
}
