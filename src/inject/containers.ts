// Which container is Envoy, and the copy/watch containers injected next to it.
import { adminArgs } from './admin.js';
import { Annotation } from './annotations.js';
import type { InjectorConfig } from './config.js';
import { Denial } from './denial.js';
import { isObject, nameOf, type JsonObject } from './json.js';
import {
  CONFIG_DIR,
  CONFIG_VOLUME,
  CONFIG_VOLUME_SIZE_LIMIT,
  COPY_CONTAINER,
  IMAGE_UID,
  READY_FILE,
  SOURCE_DIR,
  SOURCE_VOLUME,
  WATCH_CONTAINER,
} from './names.js';
import type { InjectionOptions } from './options.js';

// Plain JSON shapes (what goes on the wire), not @kubernetes/client-node's model classes.
export interface SyncContainer {
  name: string;
  image: string;
  imagePullPolicy: string;
  args: string[];
  resources: InjectionOptions['resources'];
  securityContext: JsonObject;
  env: ({ name: string; value: string } | { name: string; valueFrom: JsonObject })[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  terminationMessagePolicy: string;
  restartPolicy?: 'Always';
  startupProbe?: JsonObject;
}

export interface EnvoyContainer {
  container: JsonObject;
  name: string;
  /** Envoy itself runs as a native sidecar: an init container with restartPolicy Always. */
  isInitContainer: boolean;
  index: number;
}

function find(list: unknown[], name: string, isInitContainer: boolean): EnvoyContainer | undefined {
  const index = list.findIndex((entry) => nameOf(entry) === name);
  const container = list[index];
  return isObject(container) ? { container, name, isInitContainer, index } : undefined;
}

const isNativeSidecar = (found: EnvoyContainer): boolean => found.container.restartPolicy === 'Always';

function describeNames(list: unknown[]): string {
  const names = list.map((entry, i) => nameOf(entry) ?? `#${i} (unnamed)`);
  return names.length === 0 ? 'none' : names.join(', ');
}

/**
 * The annotation's container, else the container named `envoy`, else the only container. Envoy may
 * also run as a native sidecar (an init container with restartPolicy Always), never as an init
 * container that runs to completion.
 */
export function selectEnvoyContainer(
  containers: unknown[],
  initContainers: unknown[],
  requested: string | undefined,
): EnvoyContainer {
  const fix = `set annotation ${Annotation.container} to the name of the Envoy container`;
  const name = requested ?? 'envoy';
  const found = find(containers, name, false) ?? find(initContainers, name, true);
  if (found !== undefined && found.isInitContainer && !isNativeSidecar(found)) {
    throw new Denial(
      `container ${name} is an init container that runs to completion, so it cannot be Envoy: ${fix} (a container, or an init container with restartPolicy: Always)`,
    );
  }
  if (found !== undefined) return found;
  if (requested !== undefined) {
    throw new Denial(
      `annotation ${Annotation.container} names container ${requested}, which this Pod does not have; its containers are: ${describeNames(containers)}`,
    );
  }
  const only = containers.length === 1 ? nameOf(containers[0]) : undefined;
  if (only !== undefined) return { container: containers[0] as JsonObject, name: only, isInitContainer: false, index: 0 };
  throw new Denial(
    `cannot tell which container is Envoy: none is named envoy and the Pod has ${containers.length} containers (${describeNames(containers)}); ${fix}`,
  );
}

/**
 * Passes PodSecurity `restricted`. No runAsUser by default: the image's numeric USER satisfies
 * runAsNonRoot, and a fixed uid would fight OpenShift-style uid ranges and a pod-level runAsUser.
 * Only when the Pod runs as root (pod-level runAsUser 0, e.g. for Envoy on port 80) do we set the
 * image's uid, or the kubelet would refuse to start our runAsNonRoot containers.
 */
function restrictedSecurityContext(podRunsAsRoot: boolean): JsonObject {
  return {
    runAsNonRoot: true,
    ...(podRunsAsRoot ? { runAsUser: IMAGE_UID } : {}),
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
    readOnlyRootFilesystem: true,
  };
}

export function injectedVolumes(configMap: string): JsonObject[] {
  return [
    // Never mounted with subPath anywhere: subPath mounts do not receive ConfigMap updates.
    { name: SOURCE_VOLUME, configMap: { name: configMap } },
    { name: CONFIG_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: CONFIG_VOLUME_SIZE_LIMIT } },
  ];
}

/**
 * Node's defaults size the heap and the allocator for a server; copy and watch run in every Envoy
 * Pod and handle at most 1 MiB of files. A small young generation, one V8 worker thread and one
 * glibc arena that returns freed pages keep the watcher near 12 MiB anonymous RSS at rest; 32 MiB
 * of old space still parses a 1 MiB ConfigMap (tested in test/sync). docs/sync.md has the figures.
 */
export const SYNC_ENV = [
  { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1' },
  { name: 'MALLOC_ARENA_MAX', value: '1' },
  { name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' },
  { name: 'MALLOC_TOP_PAD_', value: '0' },
] as const;

/** Downward API env of the watcher in every mode: the Pod it runs in (names are a contract with `watch`). */
export const POD_IDENTITY_ENV: readonly (readonly [string, string])[] = [
  ['POD_NAME', 'metadata.name'],
  ['POD_NAMESPACE', 'metadata.namespace'],
];

function syncContainer(name: string, args: string[], options: InjectionOptions, config: InjectorConfig): SyncContainer {
  return {
    name,
    image: options.image,
    imagePullPolicy: config.imagePullPolicy,
    // The image's ENTRYPOINT is the CLI, so only args.
    args,
    // Each container its own objects: a tree with a shared node would print as a YAML anchor.
    resources: { requests: { ...options.resources.requests }, limits: { ...options.resources.limits } },
    env: SYNC_ENV.map((variable) => ({ ...variable })),
    securityContext: restrictedSecurityContext(options.podRunsAsRoot),
    volumeMounts: [
      { name: SOURCE_VOLUME, mountPath: SOURCE_DIR, readOnly: true },
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR },
    ],
    // A failed copy shows its last log lines in `kubectl describe pod`.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** `bootstrap`: base name of Envoy's -c file when it lies in mount-path; copy and watch treat it as the bootstrap. */
const bootstrapArgs = (bootstrap: string | undefined): string[] => (bootstrap === undefined ? [] : ['--bootstrap', bootstrap]);

export function copyContainer(options: InjectionOptions, config: InjectorConfig, bootstrap: string | undefined): SyncContainer {
  return syncContainer(COPY_CONTAINER, ['copy', '--from', SOURCE_DIR, '--to', CONFIG_DIR, ...bootstrapArgs(bootstrap)], options, config);
}

export function watchContainer(options: InjectionOptions, config: InjectorConfig, bootstrap: string | undefined): SyncContainer {
  const args = ['watch', '--from', SOURCE_DIR, '--to', CONFIG_DIR, '--ready-file', READY_FILE];
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap);
  args.push(...adminArgs(options.admin));
  const watch = syncContainer(WATCH_CONTAINER, args, options, config);
  // The commands the watcher's messages suggest name this Pod (`kubectl exec -n NS POD -c
  // envoy-xds-watch -- ...`), so that an operator can run them as printed.
  watch.env.push(...POD_IDENTITY_ENV.map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } })));
  if (options.sidecar === 'native') watch.restartPolicy = 'Always';
  // For a native sidecar the kubelet starts the next containers (Envoy) only once this passes, i.e.
  // once the watcher is watching. Probed every second so Envoy is not held back by a 10 s default.
  watch.startupProbe = { exec: { command: ['test', '-e', READY_FILE] }, periodSeconds: 1, failureThreshold: 120 };
  return watch;
}
