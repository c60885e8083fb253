// The one place src/schema imports from src/sync: Envoy's YAML rules the sync gate already follows.
export { loadAsEnvoyReads, yamlErrorReason } from '../sync/envoy/yaml.js';
