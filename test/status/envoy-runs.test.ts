// `status`'s ENVOY RUNS after Envoy restarted: an Envoy that answers without any subscription of
// a file (a restarted one that has not opened it: its listener was refused at start, so no RDS
// subscription exists) runs none of it, whatever an earlier process ran; when Envoy does not
// answer, what the watcher last saw (after a restart: what the new process loaded at start).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { formatStatus } from '../../src/sync/verdict/status-format.js';

test('ENVOY RUNS: none when a live Envoy has no subscription of the file, the last seen version when Envoy does not answer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-envoy-runs-'));
  // Envoy's /stats answer holds the LDS subscription only (the RDS one was never opened).
  const server = createServer((req, res) => {
    res.end(req.url?.startsWith('/stats') === true ? 'listener_manager.lds.version_text: ""\nlistener_manager.lds.update_rejected: 1\n' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(join(dir, 'src'));
    const at = '2026-12-03T09:00:00.000Z';
    const state = (admin: string) => JSON.stringify({
      pid: 2 ** 22 - 3, sourceDir: join(dir, 'src'), targetDir: out, updatedAt: at, admin,
      files: {
        'lds.yaml': { envoy: { version: '', at }, subscriptions: [{ type: 'LDS', statPrefix: 'listener_manager.lds' }] },
        'rds.yaml': { envoy: { version: 'r1', at }, subscriptions: [{ type: 'RDS', statPrefix: 'http.ingress.rds.local_route' }] },
      },
    });
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), state(`127.0.0.1:${String((server.address() as AddressInfo).port)}`));
    const live = await gatherStatus(out);
    assert.equal(live.adminProblem, undefined);
    assert.deepEqual(live.files.find((f) => f.file === 'lds.yaml')?.envoy, { version: '', live: true });
    assert.deepEqual(live.files.find((f) => f.file === 'rds.yaml')?.envoy, { version: '', live: true }, 'Envoy runs none of rds.yaml: it has no subscription of it');
    assert.match(formatStatus(live), /^rds\.yaml +\(removed\) +- +\(none\) +-$/m);

    // Envoy does not answer: what the watcher last saw.
    server.close();
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), state('127.0.0.1:1'));
    const offline = await gatherStatus(out, { timeoutMs: 500 });
    assert.ok(offline.adminProblem !== undefined);
    assert.deepEqual(offline.files.find((f) => f.file === 'rds.yaml')?.envoy, { version: 'r1', live: false, at });
    assert.match(formatStatus(offline), /^lds\.yaml +\(removed\) +- +\(none\) \(last seen 2026-12-03T09:00:00\.000Z\) +-$/m);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('ENVOY RUNS for files read through another (a Lua script a listener reads once, a certificate): the version accepted with its reader, or that none was; a file nothing judged stays `-` (fresh-user trial: `-` for a script Envoy ran)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-envoy-runs-reader-'));
  try {
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(join(dir, 'src'));
    const at = '2026-12-05T09:00:00.000Z';
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    await writeFile(join(out, 'script.lua'), 'v1');
    await writeFile(join(out, 'body.txt'), 'b0');
    await writeFile(join(out, 'notes.txt'), 'n0');
    const verdict = (outcome: string) => ({ outcome, rolledBack: false, message: '', version: 'x', at });
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), JSON.stringify({
      pid: 2 ** 22 - 3, sourceDir: join(dir, 'src'), targetDir: out, updatedAt: at,
      files: {
        // Accepted with lds.yaml, then an edit of it held back: Envoy runs the accepted one.
        'script.lua': { accepted: { sha256: sha('v1'), at }, heldBack: { sha256: sha('v2'), message: 'script.lua held back', at }, verdict: verdict('accepted') },
        // Judged with a reader Envoy did not build: none accepted.
        'body.txt': { verdict: verdict('unknown') },
      },
    }));
    const status = await gatherStatus(out);
    assert.deepEqual(status.files.find((f) => f.file === 'script.lua')?.withReader, { accepted: `sha256:${sha('v1').slice(0, 12)}`, at });
    const table = formatStatus(status);
    assert.match(table, new RegExp(`^script\\.lua +\\(removed\\) +sha256:${sha('v1').slice(0, 12)} +sha256:${sha('v1').slice(0, 12)} \\(accepted with its reader\\) +earlier version: accepted`, 'm'), table);
    assert.match(table, /^body\.txt +\(removed\) +sha256:\S+ +\(none accepted with its reader\) +earlier version: unknown/m, table);
    assert.match(table, /^notes\.txt +\(removed\) +sha256:\S+ +- +-$/m, table);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
