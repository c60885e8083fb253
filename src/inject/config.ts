// What the injector puts into Pods, as the operator configured it. Pure data: the CLI reads it
// from flags and a mounted file and hands it to the pure injection functions.

export type SidecarMode = 'native' | 'container';

export interface SyncResources {
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  /** Optional: CPU limits throttle a reload burst, so none by default. */
  cpuLimit?: string;
}

export interface InjectorConfig {
  /** Image of the injected copy and watch containers (this project's image). */
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Where the writable xDS copy appears in the Envoy container unless the Pod says otherwise. */
  mountPath: string;
  sidecar: SidecarMode;
  resources: SyncResources;
  /** Injector version, written into the status annotation. */
  version: string;
}

export function defaultConfig(version: string): InjectorConfig {
  return {
    image: `ghcr.io/envoy-xds-injector/envoy-xds-injector:v${version}`,
    imagePullPolicy: 'IfNotPresent',
    mountPath: '/etc/envoy',
    sidecar: 'native',
    resources: { cpuRequest: '10m', memoryRequest: '32Mi', memoryLimit: '80Mi' },
    version,
  };
}
