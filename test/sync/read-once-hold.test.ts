// A file Envoy reads once, when it builds the resource holding it (a Lua script), changed alone
// never reaches the running Envoy and a restarted one would run it: `watch` holds it back until
// the part of its reader that reads it changes in the same pass, then publishes it first; `copy`
// publishes everything (Envoy starts from it). Through the real Syncer, as `watch` and `copy` wire it.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Syncer } from '../../src/sync/publish/syncer.js';
import { AtomicWriter, makeTempDirs } from './harness.js';

const BOOTSTRAP = `node: { id: test, cluster: test }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
`;
const lds = (prefix: string) => `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ${prefix}
        http_filters:
        - name: envoy.filters.http.lua
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
            default_source_code: { filename: /etc/envoy/script.lua }
        - name: envoy.filters.http.router
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        route_config: {}
`;
const script = (v: string) => `function envoy_on_request(h) h:logInfo("${v}") end\n`;

test('watch holds back a script changed alone, says why once, and publishes it first with a change of its listener; copy publishes it', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-read-once-');
  const writer = new AtomicWriter(source);
  const warnings: { msg: string; file?: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => { const parsed = JSON.parse(line) as { msg: string; file?: string }; warnings.push(parsed); } });
  const watch = new Syncer({ sourceDir: source, targetDir: target, logger, bootstrapName: 'envoy.yaml', warnOnBootstrapChange: true });
  try {
    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('a'), 'script.lua': script('v0') });
    assert.deepEqual((await watch.syncOnce()).published.sort(), ['envoy.yaml', 'lds.yaml', 'script.lua']);

    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('a'), 'script.lua': script('v1') });
    const alone = await watch.syncOnce();
    assert.deepEqual(alone.published, []);
    assert.deepEqual(alone.heldBack.map((held) => [held.name, held.readers]), [['script.lua', [{ file: 'lds.yaml', resource: 'listener_0', holder: 'listener' }]]]);
    assert.equal(await readFile(join(target, 'script.lua'), 'utf8'), script('v0'), 'the published script is what Envoy runs');
    const said = warnings.filter((w) => w.file === 'script.lua');
    assert.equal(said.length, 1);
    assert.match(said[0]?.msg ?? '', /^script\.lua held back: Envoy reads it only when it builds listener listener_0 of lds\.yaml, .*change that resource in lds\.yaml with it .*restart the Pod/);
    assert.deepEqual((await watch.syncOnce()).heldBack.map((held) => held.name), ['script.lua'], 'a resync holds it still');
    assert.equal(warnings.filter((w) => w.file === 'script.lua').length, 1, 'said once per content');

    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('b'), 'script.lua': script('v1') });
    const together = await watch.syncOnce();
    assert.deepEqual(together.published, ['script.lua', 'lds.yaml'], 'the script first: Envoy reads it when it builds the listener');
    assert.deepEqual(together.heldBack, []);
    assert.equal(await readFile(join(target, 'script.lua'), 'utf8'), script('v1'));

    // copy (Envoy not started yet) publishes every key: Envoy starts from them.
    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('b'), 'script.lua': script('v2') });
    const copy = new Syncer({ sourceDir: source, targetDir: target, logger, bootstrapName: 'envoy.yaml', warnOnBootstrapChange: false });
    assert.deepEqual((await copy.syncOnce()).published, ['script.lua']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a script held back, then the ConfigMap back to the published script: nothing published, one info line says the hold is over (fresh-user trial: the revert logged nothing)', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-read-once-back-');
  const writer = new AtomicWriter(source);
  const lines: { msg: string; event?: string; file?: string; refusedBy?: string; level: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as (typeof lines)[number]); } });
  const watch = new Syncer({ sourceDir: source, targetDir: target, logger, bootstrapName: 'envoy.yaml', warnOnBootstrapChange: true });
  const back = () => lines.filter((l) => l.event === 'back-to-published');
  try {
    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('a'), 'script.lua': script('v0') });
    await watch.syncOnce();
    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('a'), 'script.lua': script('v1') });
    assert.deepEqual((await watch.syncOnce()).heldBack.map((held) => held.name), ['script.lua']);
    assert.deepEqual(back(), []);

    await writer.write({ 'envoy.yaml': BOOTSTRAP, 'lds.yaml': lds('a'), 'script.lua': script('v0') });
    const reverted = await watch.syncOnce();
    assert.deepEqual([reverted.published, reverted.heldBack], [[], []]);
    const [said, ...more] = back();
    assert.ok(said, JSON.stringify(lines.slice(-3)));
    assert.deepEqual(more, []);
    assert.deepEqual([said.file, said.refusedBy, said.level], ['script.lua', 'held-back', 30]);
    assert.match(said.msg, /^script\.lua: the ConfigMap is back to version sha256:[0-9a-f]{12}, which is published and what Envoy runs: nothing to publish; the version in between is no longer held back$/);
    await watch.syncOnce();
    assert.equal(back().length, 1, 'said once');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
