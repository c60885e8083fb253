// `copy --accepted` hands the last-accepted store it read to the watcher through the emptyDir
// (src/sync/verdict/store-handoff.ts): the real `copy` CLI on a kubelet-layout volume writes it, a
// later `copy` without a store takes it away, and the watcher's take reads it once (a restarted
// watcher reads the store itself), saying clearly when it is not usable. The watcher's requests with
// and without it, against the real apiserver: test/e2e/store-handoff.test.ts.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { LAST_ACCEPTED_RECORD_KEY } from '../../src/inject/last-accepted.js';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
import type { LastAcceptedRecord } from '../../src/sync/last-accepted/record.js';
import { handoffPath, takeStoreHandoff } from '../../src/sync/verdict/store-handoff.js';
import { AtomicWriter, makeTempDirs, runCli, xdsFile } from './harness.js';

function capture(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }); done(); } });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

test('copy --accepted hands the store it read to the watcher, which takes it once; a copy with no store leaves none', async () => {
  const { root, source, target } = await makeTempDirs();
  const accepted = join(root, 'accepted');
  try {
    const lds = xdsFile('lds', 1, 200);
    const published = publishable('lds.yaml', Buffer.from(lds));
    const record: LastAcceptedRecord = { configMap: 'envoy-xds', files: { 'lds.yaml': { accepted: { sha256: published.sha256, version: published.version, at: '2026-12-05T21:00:00.000Z', pod: 'ns/envoy-0' } } } };
    await new AtomicWriter(source).write({ 'lds.yaml': lds });
    await mkdir(accepted);
    await new AtomicWriter(accepted).write({ 'lds.yaml': published.content.toString(), [LAST_ACCEPTED_RECORD_KEY]: JSON.stringify(record) });
    const copied = await runCli(['copy', '--from', source, '--to', target, '--accepted', accepted]);
    assert.equal(copied.code, 0, copied.stdout + copied.stderr);
    assert.ok(existsSync(handoffPath(target)));

    const { logger, lines } = capture();
    assert.deepEqual(await takeStoreHandoff(target, 'envoy-xds', logger), record);
    assert.match(lines.find((l) => l.level === 30)?.msg ?? '', /^starting from the last-accepted store as copy read it \d+ s ago: a verdict it already holds is not written$/);
    assert.equal(existsSync(handoffPath(target)), false, 'taken: a restarted watcher reads the store itself');
    assert.equal(await takeStoreHandoff(target, 'envoy-xds', logger), undefined);
    assert.equal(lines.length, 1, 'no handoff is no news');

    // The Pod's next start: copy again (the emptyDir kept the old handoff), the store now missing.
    await writeFile(handoffPath(target), 'left by the last run');
    await rm(accepted, { recursive: true });
    await mkdir(accepted); // the kubelet mounts a missing optional ConfigMap as an empty directory
    const again = await runCli(['copy', '--from', source, '--to', target, '--accepted', accepted]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(existsSync(handoffPath(target)), false, 'no store read, nothing handed over');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a corrupt handoff: one warning naming the file and the fallback; taken away; the watcher reads the store', async () => {
  const { root, target } = await makeTempDirs();
  try {
    await mkdir(join(target, '..envoy-xds-verdict'));
    await writeFile(handoffPath(target), '{"format":1,"readAt":"2026-12-0');
    const { logger, lines } = capture();
    assert.equal(await takeStoreHandoff(target, 'envoy-xds', logger), undefined);
    assert.equal(lines.length, 1);
    const [line] = lines as [{ level: number; msg: string }];
    assert.equal(line.level, 40);
    assert.match(line.msg, /^what copy read of the last-accepted store \(.*\/\.\.envoy-xds-verdict\/store-read\.json\) is not used: not JSON \(.+\); reading the store from the API at the first verdict$/);
    assert.equal(existsSync(handoffPath(target)), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
