// Reads Envoy's bootstrap path (`-c` / `--config-path`) from the container's command and args, or
// assumes the image's (IMAGE_BOOTSTRAP) when they do not name one, to tell copy and watch which file
// is the bootstrap and to warn when it is not where the copy goes or the mount hides it.
import { posix } from 'node:path';
import { Annotation } from './annotations.js';
import { isObject, type JsonObject } from './json.js';
import { COPY_CONTAINER } from './names.js';

const WHITESPACE = /\s/;
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/**
 * Words of command + args. A shell script (`sh -c "exec envoy -c /x"`) is split on whitespace and
 * the shell's own `-c` before it dropped, so only Envoy's flags remain.
 */
function words(container: JsonObject): string[] {
  const given = [...listOf(container.command), ...listOf(container.args)].filter((word): word is string => typeof word === 'string');
  const out: string[] = [];
  given.forEach((word, i) => {
    if (word === '-c' && WHITESPACE.test(given[i + 1] ?? '')) return;
    // Most words are a single flag or path: split and unquote only what needs it.
    for (const part of WHITESPACE.test(word) ? word.split(/\s+/) : [word]) {
      const unquoted = /^["']|["';]$/.test(part) ? part.replace(/^["']|["';]$/g, '') : part;
      if (unquoted !== '') out.push(unquoted);
    }
  });
  return out;
}

/** The path of the last `-c X`, `--config-path X` or `--config-path=X`. */
export function envoyConfigPath(container: JsonObject): string | undefined {
  let path: string | undefined;
  const all = words(container);
  all.forEach((word, i) => {
    if (word === '-c' || word === '--config-path') path = all[i + 1] ?? path;
    else if (word.startsWith('--config-path=')) path = word.slice('--config-path='.length);
  });
  return path;
}

export interface BootstrapCheck {
  /** Base name of the bootstrap when it is a file directly in mount-path (a ConfigMap key). */
  bootstrap: string | undefined;
  warning: string | undefined;
}

/**
 * The bootstrap the official images load when the Pod spec does not say: envoyproxy/envoy's
 * Dockerfile has `ENTRYPOINT ["/docker-entrypoint.sh"]` and `CMD ["envoy", "-c",
 * "/etc/envoy/envoy.yaml"]` and ships a demo bootstrap there; envoy-distroless has `ENTRYPOINT
 * ["/usr/local/bin/envoy"]`, `CMD ["-c", "/etc/envoy/envoy.yaml"]` (envoyproxy/envoy,
 * distribution/docker/Dockerfile-envoy). Derived images usually `COPY envoy.yaml` to that path.
 */
export const IMAGE_BOOTSTRAP = '/etc/envoy/envoy.yaml';

const isInside = (path: string, dir: string): boolean => dir === '/' || path.startsWith(`${dir}/`);
const given = (list: unknown): boolean => Array.isArray(list) && list.length > 0;

/**
 * No `-c`/`--config-path` in the spec: Envoy's bootstrap comes from the image. With neither
 * command nor args the image's default command runs (Kubernetes: args without command replace only
 * the image's CMD, a command replaces its ENTRYPOINT and CMD), so we assume IMAGE_BOOTSTRAP and
 * treat it as the bootstrap when it is a file directly in mount-path. With a command or args of
 * their own, an entrypoint script or the image's ENTRYPOINT may still read it: we only warn.
 */
function imageBootstrap(container: JsonObject, containerName: string, mountPath: string, configMap: string): BootstrapCheck {
  if (!isInside(IMAGE_BOOTSTRAP, mountPath)) return { bootstrap: undefined, warning: undefined };
  const isDefault = !given(container.command) && !given(container.args);
  const inMount = posix.dirname(IMAGE_BOOTSTRAP) === mountPath;
  const hidden = posix.dirname(IMAGE_BOOTSTRAP);
  const why = isDefault
    ? `has no command or args, so it runs its image's default command, which for envoyproxy/envoy images is "envoy -c ${IMAGE_BOOTSTRAP}"`
    : `names no bootstrap (-c or --config-path) in its command or args, so its image or entrypoint script decides (envoyproxy/envoy images use ${IMAGE_BOOTSTRAP})`;
  const fix = inMount
    ? `if the bootstrap is in ConfigMap ${configMap} as key ${posix.basename(IMAGE_BOOTSTRAP)}, say so with args ["-c", "${IMAGE_BOOTSTRAP}"]; if the image has it, set annotation ${Annotation.mountPath} to a directory the image does not use (e.g. ${hidden}/xds), point path_config_source there, and set annotation ${Annotation.admin} to Envoy's admin address so that the watcher can give a verdict`
    : `set annotation ${Annotation.mountPath} to a directory outside ${hidden} (e.g. ${hidden}/xds) or start Envoy with -c pointing into ${mountPath}`;
  const bootstrap = isDefault && inMount ? posix.basename(IMAGE_BOOTSTRAP) : undefined;
  const key = IMAGE_BOOTSTRAP.slice(mountPath.length + 1);
  // With --bootstrap, `copy` stops first (the key is missing), so Envoy never runs to fail.
  const outcome = bootstrap === undefined
    ? `Envoy fails with "unable to read file" unless ConfigMap ${configMap} provides ${key}`
    : `the Pod does not start unless ConfigMap ${configMap} has key ${key} (init container ${COPY_CONTAINER} exits: the bootstrap is not in the ConfigMap)`;
  return {
    bootstrap,
    warning: `container ${containerName} ${why}; mount-path ${mountPath} hides everything the image has in ${hidden}, so ${outcome}: ${fix}`,
  };
}

export function checkBootstrap(container: JsonObject, containerName: string, mountPath: string, configMap: string): BootstrapCheck {
  const raw = envoyConfigPath(container);
  if (raw === undefined) {
    // --config-yaml alone is a complete bootstrap: no file is read.
    if (words(container).some((word) => word === '--config-yaml' || word.startsWith('--config-yaml='))) {
      return { bootstrap: undefined, warning: undefined };
    }
    return imageBootstrap(container, containerName, mountPath, configMap);
  }
  // `$(VAR)` expanded by the kubelet: we cannot tell, so we stay quiet.
  if (raw.includes('$(')) return { bootstrap: undefined, warning: undefined };
  const workingDir = typeof container.workingDir === 'string' && posix.isAbsolute(container.workingDir) ? container.workingDir : undefined;
  if (!posix.isAbsolute(raw) && workingDir === undefined) return { bootstrap: undefined, warning: undefined };
  const path = posix.resolve(workingDir ?? '/', raw);
  if (posix.dirname(path) === mountPath) return { bootstrap: posix.basename(path), warning: undefined };
  const where = path.startsWith(`${mountPath}/`)
    ? `is in a subdirectory of mount-path ${mountPath}, but ConfigMap keys become files directly in ${mountPath}`
    : `is outside mount-path ${mountPath}, where the files of ConfigMap ${configMap} appear`;
  return {
    bootstrap: undefined,
    warning: `container ${containerName} starts Envoy with -c ${raw}, which ${where}; if that is not intended, point -c into ${mountPath} or set annotation ${Annotation.mountPath}, and make sure the bootstrap's path_config_source paths are in ${mountPath}`,
  };
}

/** subPath mounts of the same ConfigMap never receive updates: the very problem this injector solves. */
export function subPathWarnings(volumes: unknown[], containerLists: unknown[][], configMap: string): string[] {
  const sameConfigMap = new Set<unknown>();
  for (const v of volumes) {
    if (isObject(v) && isObject(v.configMap) && v.configMap.name === configMap) sameConfigMap.add(v.name);
  }
  const warnings: string[] = [];
  // Most Pods do not mount the ConfigMap themselves: nothing to look for in their containers.
  if (sameConfigMap.size === 0) return warnings;
  for (const container of containerLists.flat()) {
    if (!isObject(container) || !Array.isArray(container.volumeMounts)) continue;
    for (const mount of container.volumeMounts as unknown[]) {
      if (isObject(mount) && sameConfigMap.has(mount.name) && typeof mount.subPath === 'string' && mount.subPath !== '') {
        warnings.push(
          `container ${String(container.name)} mounts ConfigMap ${configMap} with subPath ${mount.subPath}; subPath mounts never receive ConfigMap updates, read the file from the injected copy instead`,
        );
      }
    }
  }
  return warnings;
}
