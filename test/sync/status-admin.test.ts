// `status` before Envoy's first answer: the state names no subscription yet, and status still asks
// Envoy's admin API, so an Envoy not up yet is said (a real closed port: ECONNREFUSED).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePorts } from '../envoy/envoy.js';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { formatStatus } from '../../src/sync/verdict/status-format.js';
import { STATE_DIR, STATE_FILE } from '../../src/sync/verdict/state.js';

test('status with no subscription recorded yet says Envoy\'s admin API is unreachable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-admin-'));
  try {
    const [closed] = (await freePorts(1)) as [number];
    await mkdir(join(dir, 'src'));
    await mkdir(join(dir, 'out', STATE_DIR), { recursive: true });
    await writeFile(join(dir, 'out', STATE_DIR, STATE_FILE), JSON.stringify({ pid: 1, sourceDir: join(dir, 'src'), targetDir: join(dir, 'out'), admin: `127.0.0.1:${String(closed)}`, updatedAt: 'T', files: { 'lds.yaml': { published: { sha256: 'ab', at: 'T' } } } }));
    const status = await gatherStatus(join(dir, 'out'), { timeoutMs: 2000 });
    assert.match(status.adminProblem ?? '', new RegExp(`^Envoy admin 127\\.0\\.0\\.1:${String(closed)} unreachable: connect ECONNREFUSED`));
    assert.match(formatStatus(status), /^envoy admin 127\.0\.0\.1:\d+: Envoy admin 127\.0\.0\.1:\d+ unreachable: /m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
