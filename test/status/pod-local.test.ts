// The Pod-local `status` (in the watcher container) as a new user met it: paths given relative to
// `watch`, a watcher that stopped, and an edit the gate refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../e2e/cluster.js';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
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
    // The watcher stopped: status says so instead of a bare `watcher pid N`.
    const stopped = await runCli(['status', '--to', join(dir, 'out')]);
    assert.match(stopped.stdout, /^source \S+ {2}target \S+ {2}watcher pid \d+ \(not running: what follows is what it last recorded\) {2}state updated /m);
    // A relative --to: the header names the target absolute, as it names the source (trial 3, LOW).
    const relativeTo = await runCli(['status', '--to', relative(process.cwd(), join(dir, 'out'))]);
    assert.ok(relativeTo.stdout.includes(`source ${join(dir, 'src')}  target ${join(dir, 'out')}  `), relativeTo.stdout);
    const json = JSON.parse((await runCli(['status', '--to', join(dir, 'out'), '--json'])).stdout) as { watcherRunning: boolean };
    assert.equal(json.watcherRunning, false);
    // `-o json`, as the workload view and validate take it, is the same JSON.
    const dashO = await runCli(['status', '--to', join(dir, 'out'), '-o', 'json']);
    assert.equal(dashO.code, 0, dashO.stderr);
    assert.deepEqual(JSON.parse(dashO.stdout), json);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an edit the gate refused (invalid YAML): status says the gate refused it, where and why, and an older refusal\'s verdict is marked as about an earlier version', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-gate-'));
  try {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(src);
    const published = `version_info: "sha256:aaaaaaaaaaaa"\n${LDS}`;
    await writeFile(join(out, 'lds.yaml'), published);
    await writeFile(join(src, 'lds.yaml'), `${LDS}   port: 1\n`); // bad indentation: the gate refuses it
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), JSON.stringify({
      pid: 2 ** 22 - 3, // no such process
      sourceDir: src,
      targetDir: out,
      updatedAt: '2026-12-02T17:00:00.000Z',
      files: { 'lds.yaml': {
        published: { version: 'sha256:aaaaaaaaaaaa', sha256: 'x', at: '2026-12-02T16:59:00.000Z' },
        // Envoy's refusal of an older, unrelated edit.
        verdict: { outcome: 'rejected', version: 'example-2', at: '2026-12-02T16:00:00.000Z', rolledBack: true, message: 'm', envoyLog: 'Filesystem config update failure: in /etc/envoy/lds.yaml' },
      } },
    }));
    const r = await runCli(['status', '--to', out]);
    // A refusal is exit 1 (a script tells it from success), the file named on stderr; the table as ever.
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'envoy-xds-injector status: the ConfigMap\'s version is refused: lds.yaml (the watcher\'s gate refuses it); the last accepted version stays published\n');
    assert.match(r.stdout, /^lds\.yaml +sha256:[0-9a-f]{12} \(refused by the gate, not published\) +sha256:aaaaaaaaaaaa +- +earlier version: rejected example-2 at 2026-12-02T16:00:00\.000Z, rolled back$/m);
    assert.match(r.stdout, /^WHY THE WATCHER'S GATE REFUSED \(never published\)\nlds\.yaml:4:8 sha256:[0-9a-f]{12}: invalid YAML: bad indentation of a mapping entry; the last good version stays published \(sha256:aaaaaaaaaaaa\)$/m);
    assert.doesNotMatch(r.stdout, /WHY ENVOY REFUSED/, 'the older refusal is not why this edit is not running');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a refused FIRST version (published at start, nothing accepted before it): exit 1, and stderr does not promise an accepted version that stays published', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-first-'));
  try {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(src);
    const source = Buffer.from(`${LDS}# refused at start\n`);
    const stamped = publishable('lds.yaml', source);
    await writeFile(join(src, 'lds.yaml'), source);
    await writeFile(join(out, 'lds.yaml'), stamped.content); // what copy published before Envoy started
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), JSON.stringify({
      pid: 2 ** 22 - 3, sourceDir: src, targetDir: out, updatedAt: '2026-12-02T17:00:00.000Z',
      files: { 'lds.yaml': {
        published: { version: stamped.version, sha256: stamped.sha256, at: '2026-12-02T16:59:00.000Z' },
        refused: { version: stamped.version, sha256: stamped.sha256, at: '2026-12-02T17:00:00.000Z' },
        verdict: { outcome: 'rejected', version: stamped.version, at: '2026-12-02T17:00:00.000Z', rolledBack: false, message: 'm', reason: 'duplicate listener l found' },
      } },
    }));
    const r = await runCli(['status', '--to', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'envoy-xds-injector status: the ConfigMap\'s version is refused: lds.yaml (Envoy refused it, and no version of it was accepted before, so there is nothing to put back: it stays published)\n');
    // The row says the same: nothing is held back, the refused version is what is published.
    assert.match(r.stdout, /^lds\.yaml +sha256:[0-9a-f]{12} \(refused, stays published: nothing accepted came before it\) +sha256:[0-9a-f]{12} /m, r.stdout);
    assert.doesNotMatch(r.stdout, /held back/, r.stdout);
    const json = JSON.parse((await runCli(['status', '--to', out, '--json'])).stdout) as { files: { held: boolean; refusedPublished?: boolean }[] };
    assert.deepEqual([json.files[0]?.held, json.files[0]?.refusedPublished], [true, true]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('exit status: 1 while the ConfigMap holds the version Envoy refused (held back), with --json too; 0 once it holds an accepted one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-held-'));
  try {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(src);
    const refused = `${LDS}# refused\n`;
    await writeFile(join(src, 'lds.yaml'), refused);
    await writeFile(join(out, 'lds.yaml'), `version_info: "sha256:aaaaaaaaaaaa"\n${LDS}`);
    const state = (refusedSha: string): string => JSON.stringify({
      pid: 2 ** 22 - 3, sourceDir: src, targetDir: out, updatedAt: '2026-12-02T17:00:00.000Z',
      files: { 'lds.yaml': {
        published: { version: 'sha256:aaaaaaaaaaaa', sha256: 'x', at: '2026-12-02T16:59:00.000Z' },
        refused: { version: 'r', sha256: refusedSha, at: '2026-12-02T17:00:00.000Z' },
        verdict: { outcome: 'rejected', version: 'r', at: '2026-12-02T17:00:00.000Z', rolledBack: true, message: 'm', reason: 'duplicate listener l found' },
      } },
    });
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), state(publishable('lds.yaml', Buffer.from(refused)).sha256));
    const table = await runCli(['status', '--to', out]);
    assert.match(table.stdout, /\(refused, held back\)/, table.stdout);
    assert.equal(table.code, 1, table.stderr);
    assert.match(table.stderr, /^envoy-xds-injector status: the ConfigMap's version is refused: lds\.yaml \(Envoy refused it\)/);
    const json = await runCli(['status', '--to', out, '--json']);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { files: { held: boolean }[] }).files[0]?.held, true);
    // The ConfigMap moves on to content Envoy did not refuse: exit 0.
    await writeFile(join(src, 'lds.yaml'), LDS);
    const fixed = await runCli(['status', '--to', out]);
    assert.equal(fixed.code, 0, fixed.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a refusal that holds the ConfigMap\'s content back keeps Envoy\'s reason: after a restarted watcher judged the rolled-back file on disk (its verdict: accepted), WHY ENVOY REFUSED still says why (fresh-user trial: the reason was gone after the restart)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-refusal-why-'));
  try {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(join(out, '..envoy-xds-verdict'), { recursive: true });
    await mkdir(src);
    const bad = Buffer.from('function envoy_on_request(request_handle)\n  this is not lua\nend\n');
    await writeFile(join(src, 'script.lua'), bad);
    await writeFile(join(out, 'script.lua'), 'function envoy_on_request(request_handle)\nend\n');
    const sha = publishable('script.lua', bad).sha256;
    const version = `sha256:${sha.slice(0, 12)}`;
    const planted = `${LDS}  port: 1\n`;
    await writeFile(join(src, 'lds.yaml'), planted);
    await writeFile(join(out, 'lds.yaml'), `version_info: "sha256:aaaaaaaaaaaa"\n${LDS}`);
    const ldsSha = publishable('lds.yaml', Buffer.from(planted)).sha256;
    const ldsVersion = publishable('lds.yaml', Buffer.from(planted)).version;
    // What a restarted watcher leaves: the verdicts on the files on disk replaced the refusals'.
    const accepted = { outcome: 'accepted', at: '2026-12-05T03:00:00.000Z', rolledBack: false, message: 'Envoy accepted ...' };
    await writeFile(join(out, '..envoy-xds-verdict', 'state.json'), JSON.stringify({
      pid: 2 ** 22 - 3,
      sourceDir: src,
      targetDir: out,
      updatedAt: '2026-12-05T03:00:00.000Z',
      files: {
        'script.lua': {
          heldBack: { sha256: sha, message: 'script.lua held back: Envoy refused this version of script.lua with lds.yaml and runs the published one; fix script.lua in the ConfigMap', at: '2026-12-05T02:59:00.000Z' },
          refusedWithReader: { version, reader: 'lds.yaml', at: '2026-12-05T02:58:00.000Z', why: { reason: 'listener listener_0: script load error: [string "function envoy_on_request(request_handle)..."]:2: syntax error near \'is\'' } },
          verdict: { ...accepted, version: 'sha256:bbbbbbbbbbbb' },
        },
        'lds.yaml': {
          refused: { version: ldsVersion, sha256: ldsSha, at: '2026-12-05T02:58:00.000Z', why: { envoyLog: 'Filesystem config update rejected', schema: 'sees', validate: 'envoy-xds-injector validate src/lds.yaml' } },
          verdict: { ...accepted, version: 'sha256:aaaaaaaaaaaa' },
        },
      },
    }));
    const r = await runCli(['status', '--to', out]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^WHY ENVOY REFUSED$/m, r.stdout);
    assert.match(r.stdout, new RegExp(`^script\\.lua ${version}: Envoy says: listener listener_0: script load error: \\[string "function envoy_on_request\\(request_handle\\)\\.\\.\\."\\]:2: syntax error near 'is'$`, 'm'), r.stdout);
    assert.match(r.stdout, new RegExp(`^lds\\.yaml ${String(ldsVersion)}: Envoy's admin API does not say why; Envoy's log does: grep -A 60 "Filesystem config update rejected"; envoy-xds-injector validate src/lds\\.yaml names the field and its line$`, 'm'), r.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
