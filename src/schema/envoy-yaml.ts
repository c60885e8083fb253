// The one place src/schema imports from src/sync: Envoy's YAML rules the sync gate already follows.
export { loadAsEnvoyReads } from '../sync/envoy/yaml.js';
