// The floor for bench:pod-create, as its own process like `serve` (an in-process responder would share
// the bench client's event loop and heap): a bare node:https server answering every review on
// POST /mutate with test/e2e/peer-webhook.ts's answerReview(): `allowed`, no patch; after
// `PUT /rules/on`, with the patch of the injection rules (injectPod with --config) instead, so the
// bench can tell the rules from what `serve` adds around them. No fastify, no schema validation,
// no log line, no metrics. GET /stats: {"calls": N, "ms": total own time (request to response
// finished), "bodyMs": of which waiting for the request body, "patched": N}.
//
//   node --import tsx bench/floor-webhook.ts --port P --tls-cert F --tls-key F --config FILE
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';
import { loadInjectorConfig } from '../src/cli/config.js';
import { injectPod } from '../src/inject/index.js';
import { answerReview, type PatchOperation } from '../test/e2e/peer-webhook.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    config: { type: 'string' },
    version: { type: 'string', default: '0.1.0' },
  },
});
const { port, 'tls-cert': certFile, 'tls-key': keyFile, config: configFile } = values;
if (port === undefined || certFile === undefined || keyFile === undefined || configFile === undefined) {
  process.stderr.write('usage: floor-webhook.ts --port P --tls-cert F --tls-key F --config FILE\n');
  process.exit(2);
}
const config = await loadInjectorConfig(configFile, values.version);
const stats = { calls: 0, ms: 0, bodyMs: 0, patched: 0 };
let rules = false;
const mutate = (pod: Record<string, unknown>): PatchOperation[] => {
  if (!rules) return [];
  const result = injectPod(pod, config);
  return result.decision === 'injected' ? (result.patch as PatchOperation[]) : [];
};

const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/mutate') === true) {
    answerReview(req, res, mutate, (call) => {
      stats.calls++;
      stats.bodyMs += call.bodyMs;
      if (call.patch.length > 0) stats.patched++;
      res.once('finish', () => {
        stats.ms += call.ms;
      });
    });
    return;
  }
  if (req.method === 'PUT' && (req.url === '/rules/on' || req.url === '/rules/off')) rules = req.url === '/rules/on';
  res.writeHead(req.url === '/stats' || req.url?.startsWith('/rules/') === true ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...stats, rules }));
});
server.listen(Number(port), '0.0.0.0', () => {
  process.stdout.write(`floor webhook listening on ${port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
