// Envoy's schema in Node: load it (schema.ts), check files (check.ts) and ConfigMaps (configmap.ts).
export { loadEnvoySchema, type EnvoySchema } from './schema.js';
export { checkFile, type CheckOptions, type FileCheck, type FileKind } from './check.js';
export { checkConfigMap, configMapLabel, CONFIGMAP_MAX_BYTES, type ConfigMapCheckOptions, type ConfigMapLike } from './configmap.js';
export { formatFinding, type Finding, type Severity } from './findings.js';
