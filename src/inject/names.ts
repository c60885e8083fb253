// Names and paths of everything the injector adds. All names start with `envoy-xds-` so they
// cannot clash with the user's; these strings are a contract with the copy/watch programs.

export const SOURCE_VOLUME = 'envoy-xds-source';
export const CONFIG_VOLUME = 'envoy-xds-config';
export const COPY_CONTAINER = 'envoy-xds-copy';
export const WATCH_CONTAINER = 'envoy-xds-watch';

export const INJECTED_VOLUMES = [SOURCE_VOLUME, CONFIG_VOLUME] as const;
export const INJECTED_CONTAINERS = [COPY_CONTAINER, WATCH_CONTAINER] as const;

/** Where the sync containers see the ConfigMap (read-only) and the emptyDir Envoy reads. */
export const SOURCE_DIR = '/var/run/envoy-xds-injector/source';
export const CONFIG_DIR = '/var/run/envoy-xds-injector/config';
/** A `..` name can never be a ConfigMap key, and copy/watch never publish or prune `..` names. */
export const READY_FILE = `${CONFIG_DIR}/..envoy-xds-watch.ready`;

/** The numeric non-root USER of the injector image. */
export const IMAGE_UID = 10001;
