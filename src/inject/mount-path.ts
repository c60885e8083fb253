// Where the writable copy appears in the Envoy container, and why it must not overlap the
// container's other mounts.
import { posix } from 'node:path';
import { Annotation } from './annotations.js';
import { Denial } from './denial.js';
import { isObject, listAt, type JsonObject } from './json.js';

/**
 * An absolute path in normal form (`/etc/envoy/` → `/etc/envoy`). `..` is refused rather than
 * resolved, as Kubernetes refuses it in a volumeMount.
 */
export function normalizeMountPath(raw: string, source: string): string {
  const fix = `set annotation ${Annotation.mountPath} to an absolute directory such as /etc/envoy`;
  if (!posix.isAbsolute(raw)) throw new Denial(`${source} "${raw}" is not an absolute path: ${fix}`);
  if (raw.split('/').includes('..')) throw new Denial(`${source} "${raw}" must not contain "..": ${fix}`);
  const normalized = posix.normalize(raw).replace(/\/+$/, '');
  if (normalized === '') throw new Denial(`${source} "${raw}" would mount over the container's root: ${fix}`);
  return normalized;
}

function isInside(path: string, dir: string): boolean {
  return dir === '/' || path.startsWith(`${dir}/`);
}

// The kubelet creates nested mount points inside these volumes itself (kubernetes#60342); in other
// read-only volumes the runtime's mkdir fails with EROFS (kubernetes#121294).
const API_DATA_VOLUMES = ['configMap', 'secret', 'downwardAPI', 'projected'];

/**
 * Our emptyDir must own mountPath. The same path would replace the user's volume. A mount below
 * it cannot start (our mount is read-only and not an API data volume, kubernetes#121294) and would
 * put a mount point into the directory the watcher manages. A mount above it is fine (e.g. the
 * bootstrap from its own ConfigMap at /etc/envoy, xDS at /etc/envoy/xds), except inside another
 * read-only volume: returns a warning then, since the directory may already exist in it.
 */
export function checkMountPathIsFree(envoy: JsonObject, envoyName: string, mountPath: string, volumes: unknown[]): string[] {
  const setMountPath = `set annotation ${Annotation.mountPath} to`;
  const warnings: string[] = [];
  for (const mount of listAt(envoy, 'volumeMounts', `volumeMounts of container ${envoyName}`)) {
    if (!isObject(mount) || typeof mount.mountPath !== 'string') continue;
    // resolve() normalizes and drops a trailing slash: `/etc/envoy/` and `/etc//envoy` are `/etc/envoy`.
    const existing = posix.resolve('/', mount.mountPath);
    const volume = typeof mount.name === 'string' ? `volume ${mount.name}` : 'a volume';
    if (existing === mountPath) {
      throw new Denial(
        `container ${envoyName} already mounts ${volume} at ${mountPath}, where the injector mounts the xDS files: remove that mount (the injector provides the ConfigMap's files there) or ${setMountPath} another directory`,
      );
    }
    if (isInside(existing, mountPath)) {
      throw new Denial(
        `container ${envoyName} mounts ${volume} at ${existing}, inside the injector's mount-path ${mountPath}, which is read-only, so the container could not start: move that mount out of ${mountPath} or ${setMountPath} a directory of its own`,
      );
    }
    const source = volumes.find((v) => isObject(v) && v.name === mount.name);
    const isApiData = isObject(source) && API_DATA_VOLUMES.some((type) => type in source);
    if (isInside(mountPath, existing) && mount.readOnly === true && !isApiData) {
      warnings.push(
        `the injector's mount-path ${mountPath} is inside the read-only mount of ${volume} at ${existing} in container ${envoyName}: unless ${mountPath} already exists in that volume, the container fails to start with "read-only file system"; ${setMountPath} a directory outside ${existing} if so`,
      );
    }
  }
  return warnings;
}
