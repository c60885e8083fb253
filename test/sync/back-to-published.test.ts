// The ConfigMap put back to the content that is published, after a refusal: an edit Envoy refused
// (rolled back, held) is reverted to the accepted content, or an edit the gate refused (never
// published) is reverted. Nothing is renamed, and the watcher says so in one info line per file
// (before, it wrote no line at all), and the hold on the refused content ends. A resync with
// nothing refused says nothing. Through the real Syncer and Holds, wired as `watch` wires them.
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PublishedFile } from '../../src/sync/publish/syncer.js';
import { Syncer } from '../../src/sync/publish/syncer.js';
import { Holds } from '../../src/sync/verdict/holds.js';
import { AtomicWriter, BOOTSTRAP, makeTempDirs, xdsFile } from './harness.js';

test('reverting the ConfigMap to what is published after an Envoy refusal or a gate refusal: nothing published, one info line each, the hold ends', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-back-');
  const writer = new AtomicWriter(source);
  const holds = new Holds();
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  const syncer = new Syncer({
    sourceDir: source,
    targetDir: target,
    logger,
    bootstrapName: 'envoy.yaml',
    warnOnBootstrapChange: true,
    hold: (name, digest, configMap) => holds.isHeld(name, digest, configMap),
    holding: () => holds.any(),
    held: (name) => holds.has(name),
  });
  let last: PublishedFile[] = [];
  syncer.onPublished((files) => { last = files; });
  const files = (cds: string, lds: string) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': cds, 'lds.yaml': lds });
  const back = () => lines.filter((l) => l.event === 'back-to-published');
  const [cds0, lds0, lds1] = [xdsFile('cds', 0, 300), xdsFile('lds', 0, 300), xdsFile('lds', 1, 300)];
  try {
    await writer.write(files(cds0, lds0));
    await syncer.syncOnce();
    const accepted = last.find((f) => f.name === 'lds.yaml');
    assert.ok(accepted !== undefined);
    assert.deepEqual((await syncer.syncOnce()).published, [], 'a resync publishes nothing');
    assert.deepEqual(back(), [], 'and says nothing');

    // lds.yaml v1 is published and refused by Envoy: the accepted version put back, the content held (as verdict/conclude.ts does).
    await writer.write(files(cds0, lds1));
    assert.deepEqual((await syncer.syncOnce()).published, ['lds.yaml']);
    const refused = last.find((f) => f.name === 'lds.yaml');
    assert.ok(refused !== undefined);
    assert.ok((await syncer.restore('lds.yaml', accepted.content, refused)) !== undefined);
    holds.hold('lds.yaml', refused.sha256, false, [], refused.configMap);
    assert.deepEqual((await syncer.syncOnce()).published, [], 'held');
    assert.deepEqual(back(), []);

    // The operator reverts the ConfigMap to the accepted content: already published.
    await writer.write(files(cds0, lds0));
    assert.deepEqual((await syncer.syncOnce()).published, [], 'nothing to publish');
    assert.equal(holds.has('lds.yaml'), false, 'the hold ends');
    const [envoy] = back();
    assert.ok(envoy, JSON.stringify(lines));
    assert.equal(envoy.level, 30);
    assert.deepEqual([envoy.file, envoy.xdsVersion, envoy.refusedBy], ['lds.yaml', accepted.version, 'envoy']);
    assert.equal(envoy.msg, `lds.yaml: the ConfigMap is back to version ${String(accepted.version)}, which is published (the last version Envoy accepted, put back after its refusal): nothing to publish; the refused version is no longer held back`);
    assert.deepEqual((await syncer.syncOnce()).published, [], 'a resync');
    assert.equal(back().length, 1, 'said once');

    // cds.yaml: content the gate refuses (never published), then reverted.
    await writer.write(files('resources:\n- name: [oops\n', lds0));
    assert.deepEqual((await syncer.syncOnce()).rejected.map((e) => e.file), ['cds.yaml']);
    await writer.write(files(cds0, lds0));
    assert.deepEqual((await syncer.syncOnce()).published, []);
    const gate = back()[1];
    assert.ok(gate, JSON.stringify(lines.slice(-3)));
    assert.deepEqual([gate.file, gate.refusedBy], ['cds.yaml', 'gate']);
    assert.match(String(gate.msg), /^cds\.yaml: the ConfigMap is back to version \S+, which is published \(the watcher's gate refused the one in between, which was never published\): nothing to publish$/);
    assert.deepEqual((await syncer.syncOnce()).published, []);
    assert.equal(back().length, 2, 'said once');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
