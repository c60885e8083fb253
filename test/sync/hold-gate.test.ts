// A hold (Envoy refused a file; the watcher put the last accepted version back) lasts while the
// ConfigMap's other keys keep the content Envoy refused it with. A key whose new content the gate
// refuses is not published, so Envoy sees nothing new: the hold must stay, or the refused file is
// renamed in again and refused again (one more reload, one more rollback and Event for nothing).
// Through the real Syncer and Holds, wired as `watch` wires them.
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PublishedFile } from '../../src/sync/publish/syncer.js';
import { Syncer } from '../../src/sync/publish/syncer.js';
import { Holds } from '../../src/sync/verdict/holds.js';
import { AtomicWriter, BOOTSTRAP, makeTempDirs, xdsFile } from './harness.js';

test('a held file stays held when another key changes to content the gate refuses; a change Envoy can see releases it', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-hold-gate-');
  const writer = new AtomicWriter(source);
  const holds = new Holds();
  const syncer = new Syncer({
    sourceDir: source,
    targetDir: target,
    logger: pino({ level: 'silent' }),
    bootstrapName: 'envoy.yaml',
    warnOnBootstrapChange: true,
    hold: (name, digest, configMap) => holds.isHeld(name, digest, configMap),
    holding: () => holds.any(),
  });
  let last: PublishedFile[] = [];
  syncer.onPublished((files) => { last = files; });
  const files = (cds: string, lds: string) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': cds, 'lds.yaml': lds });
  const cdsV0 = xdsFile('cds', 0, 300);
  try {
    await writer.write(files(cdsV0, xdsFile('lds', 0, 300)));
    await syncer.syncOnce();
    // lds.yaml is published and "refused" by Envoy: held, the accepted version put back (as verdict/conclude.ts does).
    const publishRefused = async (next: Record<string, string>) => {
      const accepted = await readFile(join(target, 'lds.yaml'));
      await writer.write(next);
      assert.deepEqual((await syncer.syncOnce()).published, ['lds.yaml']);
      const refused = last.find((f) => f.name === 'lds.yaml');
      assert.ok(refused !== undefined);
      assert.ok((await syncer.restore('lds.yaml', accepted, refused)) !== undefined);
      holds.hold('lds.yaml', refused.sha256, false, [], refused.configMap);
    };
    await publishRefused(files(cdsV0, xdsFile('lds', 1, 300)));
    assert.deepEqual((await syncer.syncOnce()).published, [], 'a resync keeps the hold');

    // cds.yaml becomes YAML the gate refuses: not published, Envoy sees no change, the hold stays.
    await writer.write(files('resources:\n- name: [oops\n', xdsFile('lds', 1, 300)));
    const broken = await syncer.syncOnce();
    assert.deepEqual(broken.rejected.map((e) => e.file), ['cds.yaml']);
    assert.deepEqual(broken.published, [], 'the refused lds.yaml is not renamed in again');
    assert.ok(holds.has('lds.yaml'));
    assert.deepEqual((await syncer.syncOnce()).published, [], 'nor at the next pass');

    // A cds.yaml Envoy can load: published, and the hold lets lds.yaml be judged again with it.
    await writer.write(files(xdsFile('cds', 2, 300), xdsFile('lds', 1, 300)));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml', 'lds.yaml']);

    // Refused in the pass where another key's new content was refused by the gate: the hold is on
    // the ConfigMap as published (cds.yaml's last good content), so a resync keeps it.
    await publishRefused(files('resources:\n- name: [oops\n', xdsFile('lds', 3, 300)));
    assert.deepEqual((await syncer.syncOnce()).published, [], 'the resync keeps the hold');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
