// Names and paths of everything the injector adds. All names start with `envoy-xds-` so they
// cannot clash with the user's; these strings are a contract with the copy/watch programs.

export const SOURCE_VOLUME = 'envoy-xds-source';
export const CONFIG_VOLUME = 'envoy-xds-config';
export const COPY_CONTAINER = 'envoy-xds-copy';
export const WATCH_CONTAINER = 'envoy-xds-watch';

/** With `source: api`: the ConfigMap where watchers keep what Envoy last accepted (last-accepted.ts). */
export const ACCEPTED_VOLUME = 'envoy-xds-accepted';

/** Injected into every Pod. */
export const INJECTED_VOLUMES = [SOURCE_VOLUME, CONFIG_VOLUME] as const;
/** Names a Pod may not bring itself (injected in some modes). */
export const RESERVED_VOLUMES = [...INJECTED_VOLUMES, ACCEPTED_VOLUME] as const;
export const INJECTED_CONTAINERS = [COPY_CONTAINER, WATCH_CONTAINER] as const;

/** Where the sync containers see the ConfigMap (read-only) and the emptyDir Envoy reads. */
export const SOURCE_DIR = '/var/run/envoy-xds-injector/source';
export const CONFIG_DIR = '/var/run/envoy-xds-injector/config';
/** Where `copy` sees the last-accepted ConfigMap (`source: api`), read-only. */
export const ACCEPTED_DIR = '/var/run/envoy-xds-injector/accepted';
/** A `..` name can never be a ConfigMap key, and copy/watch never publish or prune `..` names. */
export const READY_FILE = `${CONFIG_DIR}/..envoy-xds-watch.ready`;

/**
 * The xDS copy lives in memory (tmpfs), as Istio's istio-envoy volume does: it is derived from the
 * ConfigMap, dies with the Pod anyway, and a reload should not wait on node disk I/O (fsync before
 * each rename costs 1-20 ms on a disk, ~0 on tmpfs). A ConfigMap holds at most 1 MiB, and a publish
 * briefly needs a temp copy beside each file: 16Mi leaves room and caps what a runaway could use
 * (the kubelet sizes the tmpfs to it, so a write beyond fails with ENOSPC, named in the watcher's log).
 */
export const CONFIG_VOLUME_SIZE_LIMIT = '16Mi';

/** The numeric non-root USER of the injector image. */
export const IMAGE_UID = 10001;
