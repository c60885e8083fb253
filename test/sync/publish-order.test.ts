// The rename order of a change of both cds.yaml and lds.yaml, through the real Syncer (the pass
// `copy` and `watch` run) and seen as Envoy sees it: IN_MOVED_TO events of the target (inotifywait);
// and the wait between them (`onAwaitRead`, which `watch` answers from Envoy's counters).
import { strict as assert } from 'node:assert';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Syncer } from '../../src/sync/publish/syncer.js';
import { AtomicWriter, BOOTSTRAP, EnvoyStandIn, makeTempDirs, versionOf, waitFor, xdsFile } from './harness.js';

const FILES = ['cds.yaml', 'lds.yaml'];

// cds.yaml as bench:sync's small scenario writes it (no clusters: `resources:` and nothing under it),
// as an operator empties it (`resources: []`), and with clusters; lds.yaml always holds listeners.
const SHAPES: Record<string, (version: number) => string> = {
  'no clusters (bench:sync small)': (version) => xdsFile('cds', version, 1),
  'resources: []': (version) => `# version: ${version}\nversion_info: "${version}"\nresources: []\n`,
  'with clusters': (version) => xdsFile('cds', version, 2000),
};

for (const [shape, cds] of Object.entries(SHAPES)) {
  test(`a change of cds.yaml (${shape}) and lds.yaml renames cds.yaml first, every pass`, async () => {
    const { root, source, target } = await makeTempDirs('envoy-xds-order-');
    const writer = new AtomicWriter(source);
    const payload = (version: number) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': cds(version), 'lds.yaml': xdsFile('lds', version, 1, { probePort: 10000 }) });
    const syncer = new Syncer({ sourceDir: source, targetDir: target, logger: pino({ level: 'silent' }), bootstrapName: 'envoy.yaml', warnOnBootstrapChange: true });
    let renames: EnvoyStandIn | undefined;
    try {
      await writer.write(payload(0));
      await syncer.syncOnce();
      renames = await EnvoyStandIn.start(target, FILES);
      for (let version = 1; version <= 5; version++) {
        await writer.write(payload(version));
        const result = await syncer.syncOnce();
        assert.deepEqual(result.published, FILES, `pass ${version}: the syncer's rename order`);
        // Read (as Envoy reads on IN_MOVED_TO) before the next pass renames again.
        const seen = renames;
        await waitFor(() => seen.reloads.length === 2 * version, `pass ${version}: its IN_MOVED_TO events`, 10_000);
      }
      const order = renames.reloads.map((reload) => `${reload.file} v${String(versionOf(reload.content))}`);
      assert.deepEqual(order, [1, 2, 3, 4, 5].flatMap((version) => [`cds.yaml v${version}`, `lds.yaml v${version}`]));
    } finally {
      await renames?.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
}

test('the listener file is renamed only after the awaited read of a cluster file that adds clusters; a change of one file, of files of one type, or of clusters it already had, renames without waiting', async () => {
  const { root, source, target } = await makeTempDirs('envoy-xds-order-wait-');
  const writer = new AtomicWriter(source);
  const syncer = new Syncer({ sourceDir: source, targetDir: target, logger: pino({ level: 'silent' }), bootstrapName: 'envoy.yaml', warnOnBootstrapChange: true });
  const onDisk = async (name: string) => versionOf(await readFile(join(target, name)).catch(() => undefined));
  const waits: { files: readonly string[]; cds: number | undefined; lds: number | undefined }[] = [];
  syncer.onAwaitRead(async (files) => {
    waits.push({ files, cds: await onDisk('cds.yaml'), lds: await onDisk('lds.yaml') });
  });
  // cdsBytes: xdsFile names its clusters by index, so a larger file adds clusters and one of the same size has the same ones.
  const payload = (cds: number, lds: number, extra: Record<string, string> = {}, cdsBytes = 500) => ({ 'envoy.yaml': BOOTSTRAP, 'cds.yaml': xdsFile('cds', cds, cdsBytes), 'lds.yaml': xdsFile('lds', lds, 500), ...extra });
  try {
    await writer.write(payload(0, 0));
    await syncer.syncOnce();
    // The same clusters, changed: nothing a listener could newly route to, no wait.
    await writer.write(payload(1, 1));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml', 'lds.yaml']);
    // More clusters in a change of cds.yaml alone: nothing renamed after it, no wait.
    await writer.write(payload(2, 1, {}, 1500));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml']);
    // More clusters: the listeners wait for Envoy to have read them.
    await writer.write(payload(2, 2, {}, 3000));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml', 'lds.yaml']);
    // While it waited, cds.yaml was the new version and lds.yaml still the old one (none, at first:
    // what the watcher published before it started is not known, and the hook, not the syncer,
    // knows there is no Envoy to wait for).
    assert.deepEqual(waits, [{ files: ['cds.yaml'], cds: 0, lds: undefined }, { files: ['cds.yaml'], cds: 2, lds: 1 }]);
    await writer.write(payload(3, 2, {}, 3000));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml']);
    await writer.write(payload(3, 3, {}, 3000));
    assert.deepEqual((await syncer.syncOnce()).published, ['lds.yaml']);
    await writer.write(payload(4, 3, { 'other-cds.yaml': xdsFile('cds', 4, 200) }, 3000));
    assert.deepEqual((await syncer.syncOnce()).published, ['cds.yaml', 'other-cds.yaml']);
    assert.equal(waits.length, 2, 'no wait for a change of one file, nor of cluster files only');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
