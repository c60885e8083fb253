// The schema check in a worker thread: loading Envoy's schema (about a second of CPU) and checking
// a large ConfigMap (tens of milliseconds) never block the webhook's event loop, so Pod admission
// latency does not change. Messages: out { ready: ms } once the schema is loaded (ms: the load's
// duration), then in { id, configMap, options } → out { id, checks } | { id, error }.
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { checkConfigMap, type ConfigMapCheckOptions, type ConfigMapLike } from './configmap.js';
import { loadEnvoySchema } from './schema.js';

const port = parentPort;
if (port) {
  const start = performance.now();
  const schema = loadEnvoySchema();
  port.postMessage({ ready: performance.now() - start });
  port.on('message', (message: { id: number; configMap: ConfigMapLike; options?: ConfigMapCheckOptions }) => {
    checkConfigMap(schema, message.configMap, message.options).then(
      (checks) => {
        port.postMessage({ id: message.id, checks });
      },
      (err: unknown) => {
        port.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) });
      },
    );
  });
}
