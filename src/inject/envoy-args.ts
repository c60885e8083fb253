// Reads Envoy's bootstrap path (`-c` / `--config-path`) from the container's command and args, to
// tell the watcher which file is the bootstrap and to warn when it is not where the copy goes.
import { posix } from 'node:path';
import { Annotation } from './annotations.js';
import { isObject, type JsonObject } from './json.js';

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

export function checkBootstrap(container: JsonObject, containerName: string, mountPath: string, configMap: string): BootstrapCheck {
  const raw = envoyConfigPath(container);
  // Not found, or `$(VAR)` expanded by the kubelet: we cannot tell, so we stay quiet.
  if (raw === undefined || raw.includes('$(')) return { bootstrap: undefined, warning: undefined };
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
