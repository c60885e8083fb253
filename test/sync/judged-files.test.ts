// Which published files the verdict tracker judges (src/sync/verdict/judged-by.ts, one rule for
// every pass and for files an edit makes read): a certificate whose Secret is in a file nothing
// reads yet is not loaded by Envoy, so it gets no verdict (the tracker gave it one before, always
// `unknown`); a Lua script published with the listener reading it is judged with that listener.
// Through the real tracker, with no admin address (every verdict given is `unknown`, at once).
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PublishedFile } from '../../src/sync/publish/syncer.js';
import { Holds } from '../../src/sync/verdict/holds.js';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { VerdictTracker } from '../../src/sync/verdict/tracker.js';
import type { Verdict } from '../../src/sync/verdict/verdict.js';
import { makeTempDirs } from './harness.js';

const BOOTSTRAP = `node: { id: test, cluster: test }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
`;
const listener = (extra: string) => `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress
        route_config: {}
${extra}`;
const LUA = listener(`        http_filters:
        - name: envoy.filters.http.lua
          typed_config: { default_source_code: { filename: /etc/envoy/script.lua } }
`);
const SDS = `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server_cert
  tls_certificate:
    certificate_chain: { filename: /etc/envoy/cert.pem }
    private_key: { filename: /etc/envoy/key.pem }
`;

async function published(target: string, files: Record<string, string>): Promise<PublishedFile[]> {
  const out: PublishedFile[] = [];
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(target, name), text);
    const content = Buffer.from(text);
    out.push({ name, content, sha256: createHash('sha256').update(content).digest('hex'), version: undefined, kind: name.endsWith('.yaml') ? (name === 'envoy.yaml' ? 'bootstrap' : 'xds') : 'data', ino: (await stat(join(target, name))).ino, at: performance.now() });
  }
  return out;
}

test('a certificate whose Secret nothing reads yet gets no verdict; a script published with its listener is judged with it', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-judged-');
  const verdicts: Verdict[] = [];
  const tracker = new VerdictTracker({ sourceDir: source, targetDir: target, logger: pino({ level: 'silent' }), holds: new Holds(), bootstrapName: 'envoy.yaml', restore: () => Promise.resolve(undefined) });
  tracker.onVerdict((verdict) => { verdicts.push(verdict); });
  try {
    await tracker.start();
    // sds.yaml names the pair, and no listener names sds.yaml: Envoy reads none of the three.
    tracker.published(await published(target, { 'envoy.yaml': BOOTSTRAP, 'lds.yaml': listener(''), 'sds.yaml': SDS, 'cert.pem': 'c', 'key.pem': 'k' }));
    await tracker.settled();
    assert.deepEqual(verdicts.map((v) => v.file).sort(), ['lds.yaml']);
    verdicts.length = 0;
    tracker.published(await published(target, { 'script.lua': 'x', 'lds.yaml': LUA }));
    await tracker.settled();
    assert.deepEqual(verdicts.map((v) => [v.file, v.outcome]).sort(), [['lds.yaml', 'unknown'], ['script.lua', 'unknown']]);
    assert.match(verdicts.find((v) => v.file === 'script.lua')?.message ?? '', /judged with lds\.yaml/);
  } finally {
    await tracker.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('the state `status` reads is on disk once the tracker has started: a verdict line can come before the usual 50 ms write', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-judged-');
  await writeFile(join(target, 'envoy.yaml'), BOOTSTRAP);
  await writeFile(join(target, 'lds.yaml'), listener(''));
  const tracker = new VerdictTracker({ sourceDir: source, targetDir: target, logger: pino({ level: 'silent' }), holds: new Holds(), bootstrapName: 'envoy.yaml', restore: () => Promise.resolve(undefined) });
  try {
    await tracker.start();
    const status = await gatherStatus(target);
    assert.deepEqual(status.files.map((f) => f.file).sort(), ['envoy.yaml', 'lds.yaml']);
  } finally {
    await tracker.stop();
    await rm(root, { recursive: true, force: true });
  }
});
