// The syncer's restore (a rollback, or a refused file renamed again) never lands over a newer
// publish, also when the newer file carries the inode number of the one it replaced: a file system
// reuses a freed inode number at once (ext4 gives the next file created the number just freed), so
// B renamed over by C, then C renamed again (verdict/baseline-reads.ts settle), can leave C with
// B's number. Plain-directory trial of issue 18: the rollback for B renamed the accepted A over C,
// which Envoy ran. Through the real Syncer on a real directory.
import { strict as assert } from 'node:assert';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PublishedFile } from '../../src/sync/publish/syncer.js';
import { Syncer } from '../../src/sync/publish/syncer.js';
import { makeTempDirs, xdsFile } from './harness.js';

test('restore: not over a newer publish, whether or not it carries the inode number of the publish it replaced', async (t) => {
  const { root, source, target } = await makeTempDirs('envoy-xds-restore-');
  const syncer = new Syncer({ sourceDir: source, targetDir: target, logger: pino({ level: 'silent' }), warnOnBootstrapChange: true });
  let last: PublishedFile[] = [];
  syncer.onPublished((files) => { last = files; });
  const publish = async (version: number): Promise<PublishedFile> => {
    const temp = join(root, 'lds.tmp');
    await writeFile(temp, xdsFile('lds', version, 200));
    await rename(temp, join(source, 'lds.yaml'));
    await syncer.syncOnce();
    const file = last.find((f) => f.name === 'lds.yaml');
    assert.ok(file !== undefined);
    return file;
  };
  try {
    const a = await publish(1);
    const b = await publish(2);
    let c = await publish(3);
    // C renamed again until it carries B's freed inode number (at once on ext4; tmpfs never reuses one).
    for (let i = 0; i < 20 && c.ino !== b.ino; i++) {
      const ino = await syncer.restore('lds.yaml', c.content, c);
      assert.ok(ino !== undefined, 'C renamed again over itself');
      c = { ...c, ino };
    }
    t.diagnostic(c.ino === b.ino ? 'C carries the inode number B had' : 'this file system did not reuse the inode number');
    assert.equal(await syncer.restore('lds.yaml', a.content, b), undefined, 'B is no longer there: nothing put back');
    assert.equal(await readFile(join(target, 'lds.yaml'), 'utf8'), c.content.toString(), 'C stays');
    // The publish on disk is restored over as before.
    assert.ok((await syncer.restore('lds.yaml', a.content, c)) !== undefined);
    assert.equal(await readFile(join(target, 'lds.yaml'), 'utf8'), a.content.toString());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
