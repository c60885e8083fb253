// The versions kept under the state directory (src/sync/verdict/kept.ts): one step for an accepted
// and a refused version (a hard link while the file is published and still holds that content,
// else its bytes), each refusal under a name of its own (the last few per file), a temp name per
// write, and the filesystem of a state directory decided once per target (state-fs.ts). The files,
// the links and the renames are real, on a tmpfs (/dev/shm, the emptyDir's kind) and on the disk
// of os.tmpdir() (ext4 here); Envoy's answer is given as the counters and reason it reports.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { KeptVersions } from '../../src/sync/verdict/kept.js';
import { loadedCopyHint } from '../../src/sync/verdict/loaded-copy.js';
import { refusedValidateHint } from '../../src/sync/verdict/validate-hint.js';
import { REFUSED_KEPT } from '../../src/sync/verdict/refused-versions.js';
import { stateFsOf } from '../../src/sync/verdict/state-fs.js';
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


/** Dot names in `dir` other than the `..sha256-` directories of refusals kept under their own name. */
const leftovers = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('.') && !name.startsWith('..sha256-'));

for (const place of PLACES) {
  test(`${place.kind}: a refused version whose published file a newer publish replaced is kept from its bytes, and the line says where`, async () => {
    const target = await targetIn(place.parent);
    const { conclusions, publish: pending, state, kept } = conclusionsAt(target, '/configmap', writers);
    const v1 = await pending('v1');
    await conclusions.conclude(v1, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoyReporting('v1', 0), own: [LDS], now: 1 });
    const bad = await pending('v2+sha256:0123456789ab');
    await publish(target, 'lds.yaml', 'version_info: "v3"\nresources: []\n'); // the published inode is no longer the refused one
    await conclusions.conclude(bad, { outcome: 'rejected', judgement: { outcome: 'rejected', subscription: LDS, kind: 'rejected' }, counters: envoyReporting('v1', 1), own: [LDS], now: 1, why: { envoyLog: 'Filesystem config update rejected', schema: 'sees' } });
    // Under the digest its version shows, and as the file's last refusal.
    const own = kept.refusedVersionPath('lds.yaml', '0123456789ab');
    assert.equal(own, join(stateDir(target), 'refused', '..sha256-0123456789ab', 'lds.yaml'));
    assert.equal(await readFile(own, 'utf8'), bad.content.toString(), 'the refused bytes are kept');
    assert.equal(await readFile(refusedPath(target, 'lds.yaml'), 'utf8'), bad.content.toString());
    const message = state.files['lds.yaml']?.verdict?.message ?? '';
    assert.ok(message.includes(`refused content kept at ${own}`), message);
    assert.doesNotMatch(message, /not kept/);
    // The validate it suggests checks that kept version, not the ConfigMap's file (which may hold a newer one by now).
    assert.ok(message.endsWith(`; envoy-xds-injector validate ${own} names the field and its line in the refused version kept there`), message);
    assert.equal(state.files['lds.yaml']?.verdict?.validate, `envoy-xds-injector validate ${own}`, 'the Event and status say the same');
  });

  test(`${place.kind}: each refusal of a file names a copy of exactly what it refused; a later refusal leaves it, and the last ${String(REFUSED_KEPT)} are kept`, async () => {
    const target = await targetIn(place.parent);
    const { conclusions, publish: pending, state, kept } = conclusionsAt(target, '/configmap', writers);
    const v1 = await pending('v1');
    await conclusions.conclude(v1, { outcome: 'accepted', judgement: { outcome: 'accepted', subscriptions: [LDS] }, counters: envoyReporting('v1', 0), own: [LDS], now: 1 });
    const keys = ['00000000000a', '00000000000b', '00000000000c', '00000000000d', '00000000000e', '00000000000f'];
    const lines: { key: string; message: string; content: string }[] = [];
    for (const [i, key] of keys.entries()) {
      const bad = await pending(`bad${String(i)}+sha256:${key}`);
      await conclusions.conclude(bad, { outcome: 'rejected', judgement: { outcome: 'rejected', subscription: LDS, kind: 'rejected' }, counters: envoyReporting('v1', i + 1), own: [LDS], now: 1, why: { envoyLog: 'Filesystem config update rejected', schema: 'sees' } });
      lines.push({ key, message: state.files['lds.yaml']?.verdict?.message ?? '', content: bad.content.toString() });
      // Each earlier line's copy still holds the content that line refused, while it is among the last kept.
      for (const line of lines.slice(-REFUSED_KEPT)) {
        const at = kept.refusedVersionPath('lds.yaml', line.key);
        assert.ok(line.message.includes(`validate ${at} names the field`), line.message);
        assert.equal(await readFile(at, 'utf8'), line.content, `${line.key} after ${key}`);
      }
      assert.equal(await readFile(refusedPath(target, 'lds.yaml'), 'utf8'), bad.content.toString(), 'refused/<file>: the last refusal');
    }
    const dirs = (await readdir(join(stateDir(target), 'refused'))).filter((name) => name.startsWith('..sha256-')).sort();
    assert.deepEqual(dirs, keys.slice(-REFUSED_KEPT).map((key) => `..sha256-${key}`), 'older refusals let go');
    assert.deepEqual(await leftovers(join(stateDir(target), 'refused')), [], 'no temp left');
    for (const dir of dirs) assert.deepEqual(await readdir(join(stateDir(target), 'refused', dir)), ['lds.yaml'], dir);
  });

  test(`${place.kind}: a published file with the refused one's inode number but other bytes is not linked: the bytes refused are written`, async () => {
    const target = await targetIn(place.parent);
    const kept = new KeptVersions(target);
    const refused = Buffer.from('version_info: "refused"\nresources: []\n');
    const ino = await publish(target, 'lds.yaml', refused);
    // The same inode number with other bytes, as ext4 gives a newer publish the number the refused one freed.
    await writeFile(join(target, 'lds.yaml'), 'version_info: "newer"\nresources: []\n');
    assert.equal((await stat(join(target, 'lds.yaml'))).ino, ino);
    assert.equal(await kept.keepCopy('refused', 'lds.yaml', { ino, content: refused }), false);
    assert.equal(await kept.keepVersion('refused', 'lds.yaml', { ino, content: refused }), 'written');
    assert.equal(await readFile(refusedPath(target, 'lds.yaml'), 'utf8'), refused.toString());
    assert.notEqual((await stat(refusedPath(target, 'lds.yaml'))).ino, ino, 'not a link to the newer file');
    assert.equal(await kept.keepVersion('accepted', 'lds.yaml', { ino, content: refused }), 'written');
    assert.equal(await readFile(join(stateDir(target), 'accepted', 'lds.yaml'), 'utf8'), refused.toString());
  });

  test(`${place.kind}: a copy by link and a copy by bytes of one file at once: both kept whole, one after the other; the published file untouched, no temp left`, async () => {
    const target = await targetIn(place.parent);
    const published = 'version_info: "published"\nresources: []\n';
    const replaced = Buffer.from('version_info: "replaced"\nresources: []\n');
    const ino = await publish(target, 'lds.yaml', published);
    const kept = new KeptVersions(target);
    for (const order of ['link first', 'bytes first']) {
      const byLink = (): Promise<unknown> => kept.keepCopy('refused', 'lds.yaml', { ino, content: Buffer.from(published) });
      const byBytes = (): Promise<unknown> => kept.keepContent('refused', 'lds.yaml', replaced);
      const results = await Promise.allSettled(order === 'link first' ? [byLink(), byBytes()] : [byBytes(), byLink()]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], `${order}: ${JSON.stringify(results)}`);
      assert.ok(results.every((r) => r.status === 'fulfilled' && r.value !== false), `${order}: both kept`);
      assert.equal(await readFile(join(target, 'lds.yaml'), 'utf8'), published, `${order}: the file Envoy reads`);
      assert.ok([published, replaced.toString()].includes(await readFile(refusedPath(target, 'lds.yaml'), 'utf8')), `${order}: one whole version`);
      assert.deepEqual(await leftovers(join(stateDir(target), 'refused')), [], order);
    }
    // Two writes of bytes at once, as superseded.ts (a one-off keeper) and conclude.ts (the watcher's) may: each is one whole content.
    const results = await Promise.allSettled([new KeptVersions(target).keepVersion('accepted', 'lds.yaml', { content: Buffer.from('a') }), kept.keepVersion('accepted', 'lds.yaml', { content: Buffer.from('b') })]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(results));
    assert.ok(['a', 'b'].includes(await readFile(join(stateDir(target), 'accepted', 'lds.yaml'), 'utf8')));
    assert.deepEqual(await leftovers(join(stateDir(target), 'accepted')), []);
  });

  test(`${place.kind}: keepVersion links while the file is published, writes the bytes once it is replaced or gone`, async () => {
    const target = await targetIn(place.parent);
    const kept = new KeptVersions(target);
    const keepVersion = kept.keepVersion.bind(kept);
    const ino = await publish(target, 'cds.yaml', 'one');
    assert.equal(await keepVersion( 'refused', 'cds.yaml', { ino, content: Buffer.from('one') }), 'linked');
    assert.equal((await stat(refusedPath(target, 'cds.yaml'))).ino, ino);
    await publish(target, 'cds.yaml', 'two');
    assert.equal(await keepVersion('refused', 'cds.yaml', { ino, content: Buffer.from('one') }), 'written');
    assert.equal(await readFile(refusedPath(target, 'cds.yaml'), 'utf8'), 'one');
    await rm(join(target, 'cds.yaml'));
    assert.equal(await keepVersion('accepted', 'cds.yaml', { ino, content: Buffer.from('one') }), 'written');
    assert.equal(await readFile(join(stateDir(target), 'accepted', 'cds.yaml'), 'utf8'), 'one');
    assert.deepEqual(await leftovers(join(stateDir(target), 'refused')), []);
  });

  test(`${place.kind}: temps a stopped process left are swept when the watcher starts; the kept file is read by name`, async () => {
    const target = await targetIn(place.parent);
    const dir = join(stateDir(target), 'refused');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.lds.yaml.tmp-4242-7'), 'half a wri');
    await writeFile(join(dir, '.lds.yaml.tmp-4242-0a1b2c-8'), 'half a wri');
    await writeFile(join(dir, '.notes'), 'not ours'); // not a temp name of ours: left alone
    await mkdir(join(dir, '..sha256-0123456789ab'));
    await writeFile(join(dir, '..sha256-0123456789ab', '.lds.yaml.tmp-4242-0a1b2c-9'), 'half');
    const kept = new KeptVersions(target);
    await kept.sweepTemps();
    await kept.keepContent('refused', 'lds.yaml', Buffer.from('whole'));
    assert.deepEqual((await readdir(dir)).sort(), ['..sha256-0123456789ab', '.notes', 'lds.yaml']);
    assert.deepEqual(await readdir(join(dir, '..sha256-0123456789ab')), []);
  });
}

test('the filesystem of a state directory is decided once per target object (one statfs), not at each write; each keeper names its temps apart', async () => {
  const target = await targetIn(PLACES[0]?.parent ?? tmpdir());
  const fs = stateFsOf(target);
  assert.equal(fs.decided, undefined, 'nothing asked before the first operation');
  await fs.mkdir(join(target, 'x'));
  const decided = fs.decided;
  assert.equal(decided, PLACES[0]?.kind === 'tmpfs' ? 'memory' : 'disk');
  // statfs of a directory gone cannot answer (it would pick the thread pool): the decision stands.
  await rm(target, { recursive: true });
  await fs.list(target);
  assert.equal(fs.decided, decided);
  // Two keepers of one target (the watcher's and a one-off) at once: no temp name in common.
  const again = await targetIn(PLACES[0]?.parent ?? tmpdir());
  await publish(again, 'lds.yaml', 'v');
  const names = await Promise.all([new KeptVersions(again), new KeptVersions(again)].map((k) => k.keepContent('accepted', 'lds.yaml', Buffer.from('v')).then(() => 'ok', (err: unknown) => String(err))));
  assert.deepEqual(names, ['ok', 'ok']);
});

test('ext4 (os.tmpdir()): a newer publish carrying the freed inode number of the refused one is not taken for it', async (t) => {
  const target = await targetIn(tmpdir());
  const kept = new KeptVersions(target);
  const refused = Buffer.from('version_info: "refused"\nresources: []\n');
  const ino = await publish(target, 'lds.yaml', refused);
  // Newer publishes (temp + rename, as watch does) until one carries the inode number the refused one freed.
  let now = await publish(target, 'lds.yaml', 'version_info: "newer-0"\nresources: []\n');
  for (let i = 1; i < 20 && now !== ino; i++) now = await publish(target, 'lds.yaml', `version_info: "newer-${String(i)}"\nresources: []\n`);
  t.diagnostic(now === ino ? 'a newer publish carries the refused one\'s inode number' : 'this file system did not reuse the inode number');
  assert.equal(await kept.keepVersion('refused', 'lds.yaml', { ino, content: refused }), 'written');
  assert.equal(await readFile(refusedPath(target, 'lds.yaml'), 'utf8'), refused.toString());
});

test('an accepted version Envoy ignored fields in is kept under its key (accepted/..sha256-<key>/<file>, linked as accepted/<file>), the last few per file, and the hint names that copy', async () => {
  const target = await targetIn(tmpdir());
  const kept = new KeptVersions(target);
  const logger = pino({ level: 'silent' });
  const hint = refusedValidateHint('cli', target);
  const keys = ['000000000001', '000000000002', '000000000003', '000000000004', '000000000005'];
  for (const key of keys) {
    const content = Buffer.from(`version_info: "v+sha256:${key}"\nresources: []\n`);
    const ino = await publish(target, 'lds.yaml', content);
    const said = await loadedCopyHint(kept, { file: 'lds.yaml', ino, content, version: `v+sha256:${key}`, sha256: 'f'.repeat(64) }, (f, k) => hint(f, k, 'accepted'), logger);
    const copy = kept.keptVersionPath('accepted', 'lds.yaml', key);
    assert.equal(copy, join(stateDir(target), 'accepted', `..sha256-${key}`, 'lds.yaml'));
    assert.equal(said, `cli validate ${copy}`);
    assert.ok((await readFile(copy)).equals(content));
    assert.ok((await readFile(join(stateDir(target), 'accepted', 'lds.yaml'))).equals(content), 'accepted/<file> is the last accepted, as a rollback reads it');
    assert.equal((await stat(copy)).ino, ino, 'a link to the published file');
  }
  const dirs = (await readdir(join(stateDir(target), 'accepted'))).filter((name) => name.startsWith('..sha256-')).sort();
  assert.deepEqual(dirs, keys.slice(-REFUSED_KEPT).map((key) => `..sha256-${key}`), `the last ${String(REFUSED_KEPT)}`);
  assert.deepEqual(await leftovers(join(stateDir(target), 'accepted')), []);
});
