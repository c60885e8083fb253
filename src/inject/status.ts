// The `status` annotation: what the injector added and which version did it. Its presence marks
// a Pod as injected, which makes injection idempotent (webhooks are reinvoked; `inject` may run
// twice over the same manifest). Deterministic (no timestamp) so re-applying an injected
// Deployment does not roll it.
import { INJECTED_CONTAINERS, INJECTED_VOLUMES } from './names.js';
import type { InjectionOptions } from './options.js';

export interface InjectionStatus {
  version: string;
  configmap: string;
  container: string;
  mountPath: string;
  sidecar: InjectionOptions['sidecar'];
  image: string;
  volumes: string[];
  initContainers: string[];
  containers: string[];
}

export function statusAnnotation(
  version: string,
  options: InjectionOptions,
  envoyName: string,
  volumes: string[],
  initContainers: string[],
  containers: string[],
): string {
  const status: InjectionStatus = {
    version,
    configmap: options.configMap,
    container: envoyName,
    mountPath: options.mountPath,
    sidecar: options.sidecar,
    image: options.image,
    volumes,
    initContainers,
    containers,
  };
  return JSON.stringify(status);
}

/** Names we inject that a Pod marked as injected no longer has (someone edited it, or copied the annotation). */
export function missingInjectedObjects(volumeNames: Set<string>, containerNames: Set<string>): string[] {
  return [
    ...INJECTED_VOLUMES.filter((name) => !volumeNames.has(name)).map((name) => `volume ${name}`),
    ...INJECTED_CONTAINERS.filter((name) => !containerNames.has(name)).map((name) => `container ${name}`),
  ];
}
