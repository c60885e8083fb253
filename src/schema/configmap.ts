// A ConfigMap's files checked as Envoy would read them once mounted: every `data` key that is a
// `.yaml`/`.yml`/`.json` file with top-level `resources` (xDS) or bootstrap fields. Used by
// `validate` on manifests and by the ConfigMap admission check.
import { checkFile, type FileCheck } from './check.js';
import type { Finding } from './findings.js';
import type { EnvoySchema } from './schema.js';

/** The apiserver's limit on a ConfigMap's data + binaryData (k8s.io/api core/v1 MaxSecretSize/ConfigMap). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

export interface ConfigMapLike {
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, unknown> | null;
  binaryData?: Record<string, unknown> | null;
}

/** `ConfigMap/NAME` (with the namespace when known): the prefix of each file's name in findings. */
export function configMapLabel(configMap: ConfigMapLike): string {
  const { name = '(unnamed)', namespace } = configMap.metadata ?? {};
  return namespace ? `ConfigMap/${namespace}/${name}` : `ConfigMap/${name}`;
}

export interface ConfigMapCheckOptions {
  /** The key that is Envoy's bootstrap. */
  bootstrapKey?: string;
  /** `data` keys not to check (an UPDATE's files whose text did not change): counted in the size only. */
  unchanged?: readonly string[];
  /** As checkFile's (`validate --strict`). */
  rejectUnknownDynamicFields?: boolean;
}

/**
 * Checks every file of `configMap`. Findings name the file `ConfigMap/NAME/KEY`, with lines
 * counted inside that key's value. binaryData is not read (a warning says so); a ConfigMap over
 * 1 MiB is an error (the apiserver refuses it).
 */
export async function checkConfigMap(schema: EnvoySchema, configMap: ConfigMapLike, options: ConfigMapCheckOptions = {}): Promise<FileCheck[]> {
  const label = configMapLabel(configMap);
  const checks: FileCheck[] = [];
  const own: Finding[] = [];
  const unchanged = new Set(options.unchanged);
  let size = 0;
  for (const [key, value] of Object.entries(configMap.data ?? {})) {
    const text = typeof value === 'string' ? value : String(value);
    size += Buffer.byteLength(key) + Buffer.byteLength(text);
    if (unchanged.has(key)) continue;
    const check = await checkFile(schema, `${label}/${key}`, text, { bootstrap: key === options.bootstrapKey, ...(options.rejectUnknownDynamicFields === true ? { rejectUnknownDynamicFields: true } : {}) });
    // A ConfigMap holds other files too (Lua, certificates, other YAML): only xDS and bootstrap count.
    if (check.kind !== 'data') checks.push(check);
  }
  for (const [key, value] of Object.entries(configMap.binaryData ?? {})) {
    size += Buffer.byteLength(key) + (typeof value === 'string' ? Math.floor((value.length * 3) / 4) : 0);
    own.push({ severity: 'warning', file: `${label}/${key}`, message: 'binaryData is not checked (put xDS and bootstrap files in data)' });
  }
  if (size > CONFIGMAP_MAX_BYTES) {
    own.push({ severity: 'error', file: label, message: `the ConfigMap holds ${size} bytes, over the 1 MiB (${CONFIGMAP_MAX_BYTES} bytes) the apiserver accepts` });
  }
  if (own.length > 0) checks.unshift({ file: label, kind: 'data', findings: own });
  return checks;
}
