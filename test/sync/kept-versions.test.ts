// The versions kept under the state directory (src/sync/verdict/kept.ts): one step for an accepted
// and a refused version (a hard link while the file is published, else its bytes), a temp name
// per write, and the filesystem of a state directory decided once (state-fs.ts). The files, the
// links and the renames are real, on a tmpfs (/dev/shm, the emptyDir's kind) and on the disk of
// os.tmpdir(); Envoy's answer is given as the counters and reason it reports.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { keepContent, keepCopy, keepVersion } from '../../src/sync/verdict/kept.js';
import { stateFs } from '../../src/sync/verdict/state-fs.js';
import { refusedPath, stateDir } from '../../src/sync/verdict/state.js';
import type { StateWriter } from '../../src/sync/verdict/state.js';
import { LDS, conclusionsAt, envoyReporting, publishFile as publish } from './conclusions-harness.js';

const roots: string[] = [];
const writers: StateWriter[] = [];
after(async () => {
  await Promise.all(writers.map((writer) => writer.flush()));
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

/** Both kinds of filesystem a target may be on: a tmpfs (/dev/shm where there is one) and os.tmpdir(). */
const PLACES = [...(existsSync('/dev/shm') ? [{ kind: 'tmpfs', parent: '/dev/shm' }] : []), { kind: 'tmpdir', parent: tmpdir() }];

async function targetIn(parent: string): Promise<string> {
  const root = await mkdtemp(join(parent, 'kept-versions-'));
  roots.push(root);
  const target = join(root, 'target');
  await mkdir(target);
  return target;
}


const leftovers = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('.'));

for (const place of PLACES) {
  test(`${place.kind}: a refused version whose published file a newer publish replaced is kept from its bytes, and the line says where`, async () => {
    const target = await targetIn(place.parent);
    const { conclusions, publish: pending, state } = conclusionsAt(target, '/configmap', writers);
    const v1 = await pending('v1');
    await conclusions.conclude(v1, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoyReporting('v1', 0), own: [LDS], now: 1 });
    const bad = await pending('bad');
    await publish(target, 'lds.yaml', 'version_info: "v3"\nresources: []\n'); // the published inode is no longer the refused one
    await conclusions.conclude(bad, { outcome: 'rejected', judgement: { outcome: 'rejected', subscription: LDS, kind: 'rejected' }, counters: envoyReporting('v1', 1), own: [LDS], now: 1, why: { envoyLog: 'Filesystem config update rejected', schema: 'sees' } });
    assert.equal(await readFile(refusedPath(target, 'lds.yaml'), 'utf8'), bad.content.toString(), 'the refused bytes are kept');
    const message = state.files['lds.yaml']?.verdict?.message ?? '';
    assert.ok(message.includes(`refused content kept at ${refusedPath(target, 'lds.yaml')}`), message);
    assert.doesNotMatch(message, /not kept/);
    // The validate it suggests checks that kept version, not the ConfigMap's file (which may hold a newer one by now).
    assert.ok(message.endsWith(`; envoy-xds-injector validate ${refusedPath(target, 'lds.yaml')} names the field and its line in the refused version kept there`), message);
  });

  test(`${place.kind}: a copy by link and a copy by bytes of one file at once: both kept whole, one after the other; the published file untouched, no temp left`, async () => {
    const target = await targetIn(place.parent);
    const published = 'version_info: "published"\nresources: []\n';
    const replaced = Buffer.from('version_info: "replaced"\nresources: []\n');
    const ino = await publish(target, 'lds.yaml', published);
    for (const order of ['link first', 'bytes first']) {
      const byLink = (): Promise<unknown> => keepCopy(target, 'refused', 'lds.yaml', ino);
      const byBytes = (): Promise<unknown> => keepContent(target, 'refused', 'lds.yaml', replaced);
      const results = await Promise.allSettled(order === 'link first' ? [byLink(), byBytes()] : [byBytes(), byLink()]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], `${order}: ${JSON.stringify(results)}`);
      assert.ok(results.every((r) => r.status === 'fulfilled' && r.value !== false), `${order}: both kept`);
      assert.equal(await readFile(join(target, 'lds.yaml'), 'utf8'), published, `${order}: the file Envoy reads`);
      assert.ok([published, replaced.toString()].includes(await readFile(refusedPath(target, 'lds.yaml'), 'utf8')), `${order}: one whole version`);
      assert.deepEqual(await leftovers(join(stateDir(target), 'refused')), [], order);
    }
    // Two writes of bytes at once, as superseded.ts and conclude.ts may: each is one whole content.
    const results = await Promise.allSettled([keepVersion(target, 'accepted', 'lds.yaml', { content: Buffer.from('a') }), keepVersion(target, 'accepted', 'lds.yaml', { content: Buffer.from('b') })]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(results));
    assert.ok(['a', 'b'].includes(await readFile(join(stateDir(target), 'accepted', 'lds.yaml'), 'utf8')));
    assert.deepEqual(await leftovers(join(stateDir(target), 'accepted')), []);
  });

  test(`${place.kind}: keepVersion links while the file is published, writes the bytes once it is replaced or gone`, async () => {
    const target = await targetIn(place.parent);
    const ino = await publish(target, 'cds.yaml', 'one');
    assert.equal(await keepVersion(target, 'refused', 'cds.yaml', { ino, content: Buffer.from('one') }), 'linked');
    assert.equal((await stat(refusedPath(target, 'cds.yaml'))).ino, ino);
    await publish(target, 'cds.yaml', 'two');
    assert.equal(await keepVersion(target, 'refused', 'cds.yaml', { ino, content: Buffer.from('one') }), 'written');
    assert.equal(await readFile(refusedPath(target, 'cds.yaml'), 'utf8'), 'one');
    await rm(join(target, 'cds.yaml'));
    assert.equal(await keepVersion(target, 'accepted', 'cds.yaml', { ino, content: Buffer.from('one') }), 'written');
    assert.equal(await readFile(join(stateDir(target), 'accepted', 'cds.yaml'), 'utf8'), 'one');
    assert.deepEqual(await leftovers(join(stateDir(target), 'refused')), []);
  });

  test(`${place.kind}: temps a stopped process left are swept at this process's first write there; the kept file is read by name`, async () => {
    const target = await targetIn(place.parent);
    const dir = join(stateDir(target), 'refused');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.lds.yaml.tmp-4242-7'), 'half a wri');
    await writeFile(join(dir, '.notes'), 'not ours'); // not a temp name of ours: left alone
    await keepContent(target, 'refused', 'lds.yaml', Buffer.from('whole'));
    assert.deepEqual((await readdir(dir)).sort(), ['.notes', 'lds.yaml']);
  });
}

test('the filesystem of a state directory is decided once (one statfs), not at each write', async () => {
  const target = await targetIn(PLACES[0]?.parent ?? tmpdir());
  const first = stateFs(target);
  assert.equal(stateFs(target), first);
  // statfs of a directory gone cannot answer (it would pick the thread pool): the decision stands.
  await rm(target, { recursive: true });
  assert.equal(stateFs(target), first);
});
