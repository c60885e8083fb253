// The Pod-local `status` (in the watcher container) as a new user met it: paths given relative to
// `watch`, a watcher that stopped, and an edit the gate refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../e2e/cluster.js';
import { runCli, waitFor } from '../sync/harness.js';

const LDS = 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n';

test('watch --from src --to out (relative): the state keeps absolute paths, so status --to /abs/out from elsewhere finds the ConfigMap', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-relative-'));
  try {
    await mkdir(join(dir, 'src'));
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'src', 'lds.yaml'), LDS);
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src', 'cli', 'main.ts'), 'watch', '--from', 'src', '--to', 'out', '--resync', '1s'], { cwd: dir, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const statePath = join(dir, 'out', '..envoy-xds-verdict', 'state.json');
      await waitFor(async () => (await readFile(statePath, 'utf8').catch(() => '')).includes('lds.yaml'), 'the watcher\'s state', 60_000);
      const state = JSON.parse(await readFile(statePath, 'utf8')) as { sourceDir: string; targetDir: string };
      assert.equal(state.sourceDir, join(dir, 'src'));
      assert.equal(state.targetDir, join(dir, 'out'));
      const out = await runCli(['status', '--to', join(dir, 'out')]); // from the repository, not `dir`
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^lds\.yaml +sha256:[0-9a-f]{12} +sha256:[0-9a-f]{12} /m);
      assert.doesNotMatch(out.stdout, /\(removed\)/);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
