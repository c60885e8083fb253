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

/**
 * Our emptyDir must own mountPath alone. The same path would replace the user's volume; a mount
 * below it puts a mount point into the directory the watcher manages (it would prune it); a mount
 * above it makes the runtime create our mount point inside the user's volume, which fails on the
 * read-only ConfigMap and Secret volumes people mount at /etc.
 */
export function checkMountPathIsFree(envoy: JsonObject, envoyName: string, mountPath: string): void {
  const setMountPath = `set annotation ${Annotation.mountPath} to`;
  for (const mount of listAt(envoy, 'volumeMounts', `volumeMounts of container ${envoyName}`)) {
    if (!isObject(mount) || typeof mount.mountPath !== 'string') continue;
    const existing = posix.normalize(posix.resolve('/', mount.mountPath)).replace(/(.)\/+$/, '$1');
    const volume = typeof mount.name === 'string' ? `volume ${mount.name}` : 'a volume';
    if (existing === mountPath) {
      throw new Denial(
        `container ${envoyName} already mounts ${volume} at ${mountPath}, where the injector mounts the xDS files: remove that mount (the injector provides the ConfigMap's files there) or ${setMountPath} another directory`,
      );
    }
    if (isInside(existing, mountPath)) {
      throw new Denial(
        `container ${envoyName} mounts ${volume} at ${existing}, inside the injector's mount-path ${mountPath}: move that mount out of ${mountPath} or ${setMountPath} a directory of its own`,
      );
    }
    if (isInside(mountPath, existing)) {
      throw new Denial(
        `the injector's mount-path ${mountPath} is inside the mount of ${volume} at ${existing} in container ${envoyName}: ${setMountPath} a directory outside ${existing}`,
      );
    }
  }
}
