// `envoy-xds-injector.io/admin`: Envoy's admin API as the watcher reaches it inside the Pod
// (`HOST:PORT` or a unix socket path), passed to the watch container as `--admin`. The watcher
// otherwise reads the address from the bootstrap in the ConfigMap (`--bootstrap`); with the
// bootstrap in the image it has neither, so it cannot ask Envoy whether a file was accepted.
import { parseAdminAddress } from '../sync/envoy/admin-address.js';
import { Annotation, readAnnotation } from './annotations.js';
import { Denial } from './denial.js';
import type { JsonObject } from './json.js';

/** The annotation's value as given (the watch CLI parses the same grammar), or undefined when unset. */
export function adminAnnotation(annotations: JsonObject): string | undefined {
  const value = readAnnotation(annotations, Annotation.admin);
  if (value === undefined) return undefined;
  try {
    parseAdminAddress(value);
  } catch {
    throw new Denial(
      `annotation ${Annotation.admin} "${value}" is not an address: set it to Envoy's admin address as the watcher reaches it inside the Pod, HOST:PORT (e.g. 127.0.0.1:9901) or a unix socket path (e.g. /var/run/envoy/admin.sock)`,
    );
  }
  return value;
}

/** `--admin VALUE` for the watch container, or nothing (it then reads the bootstrap's admin address). */
export const adminArgs = (admin: string | undefined): string[] => (admin === undefined ? [] : ['--admin', admin]);

/**
 * Warning for a watcher that can find no admin API: Envoy's bootstrap is not a file of the
 * ConfigMap (`bootstrap` undefined, see envoy-args.ts checkBootstrap) and no `admin` annotation.
 */
export function missingAdminWarning(bootstrap: string | undefined, admin: string | undefined, containerName: string, configMap: string): string | undefined {
  if (bootstrap !== undefined || admin !== undefined) return undefined;
  return `the injector does not find the bootstrap of container ${containerName} among the files of ConfigMap ${configMap} (it is in the image, elsewhere, or inline), so the watcher gets no --bootstrap, cannot find Envoy's admin API and gives no verdict: a file Envoy refuses stays in place and is not rolled back to the last accepted one; set annotation ${Annotation.admin} to Envoy's admin address as the watcher reaches it inside the Pod (e.g. 127.0.0.1:9901, or a unix socket path)`;
}
