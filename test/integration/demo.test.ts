// npm run demo (demo/run.ts): it starts copy, watch and the real Envoy on a kubelet-style ConfigMap
// volume, an edit saved in the edited directory reaches Envoy, and SIGINT (Ctrl-C) stops every
// process it started and removes every directory it made.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { envoyBinary } from '../envoy/envoy.js';

const repoRoot = new URL('../..', import.meta.url).pathname;

function body(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    get(url, { agent: false, timeout: 2_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => { resolve(text); });
    }).on('error', () => { resolve(undefined); });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `text` (any process left behind by the demo names its temp dir). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * `demo/run.ts ARGS --dir PARENT/configmap` with the Envoy the tests fetch (passed on so the demo
 * does not fetch again); PARENT is a new temporary directory, `configmap` does not exist yet (the
 * demo creates it, so it removes it). Every line of stdout and stderr goes to `output`, in order;
 * `stdout` is there for a test that waits for one of them.
 */
async function startDemo(prefix: string, args: string[]): Promise<{
  parent: string; editDir: string; child: ChildProcess; output: string[]; exited: Promise<number | null>; stdout: Interface;
}> {
  const envoy = await envoyBinary();
  const parent = await mkdtemp(join(tmpdir(), prefix));
  const editDir = join(parent, 'configmap');
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts', ...args, '--dir', editDir], {
    cwd: repoRoot,
    env: { ...process.env, ENVOY_BIN: envoy },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => { resolve(code); }));
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const stdout = createInterface({ input: child.stdout });
  stdout.on('line', (line) => output.push(line));
  return { parent, editDir, child, output, exited, stdout };
}

/**
 * A failed assertion must not leave the demo's processes behind either: they run in their own
 * process groups (named in its `started NAME (pid N)` lines), which a SIGKILL of the demo would not reach.
 */
async function reap(child: ChildProcess, exited: Promise<unknown>, output: readonly string[]): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await Promise.race([exited, sleep(15_000)]);
    child.kill('SIGKILL');
  }
  for (const m of output.join('\n').matchAll(/started \w+ \(pid (\d+)\)/g)) {
    try {
      process.kill(-Number(m[1]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

test('npm run demo: ready, an edit saved in the directory is served by Envoy, SIGINT leaves no process and no directory', { timeout: 240_000 }, async () => {
  const { parent, editDir, child, output, exited, stdout } = await startDemo('demo-test-', []);
  const ready = new Promise<string>((resolve, reject) => {
    stdout.on('line', (line) => {
      const url = /^envoy-xds-injector demo is ready: Envoy serves (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
      if (url !== undefined) resolve(url);
    });
    void exited.then((code) => { reject(new Error(`the demo exited (${String(code)}) before it was ready:\n${output.join('\n')}`)); });
  });
  try {
    const url = await ready;
    assert.equal((await body(url))?.trim(), 'hello from the demo ConfigMap (v1)');
    const work = /removes (\/\S*envoy-xds-demo-\w+)/.exec(output.join('\n'))?.[1];
    assert.ok(work !== undefined && existsSync(join(work, 'configmap', '..data')), `the demo names its kubelet-style volume:\n${output.join('\n')}`);
    const pids = [...output.join('\n').matchAll(/started (watch|envoy) \(pid (\d+)\)/g)].map((m) => Number(m[2]));
    assert.equal(pids.length, 2, output.join('\n'));

    // The user's edit: change the body in lds.yaml and save.
    const lds = await readFile(join(editDir, 'lds.yaml'), 'utf8');
    await writeFile(join(editDir, 'lds.yaml'), lds.replace('(v1)', '(edited)'));
    let served: string | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      served = (await body(url))?.trim();
      if (served === 'hello from the demo ConfigMap (edited)') break;
      await sleep(100);
    }
    assert.equal(served, 'hello from the demo ConfigMap (edited)', output.join('\n'));
    // It went the kubelet's way (a second version of the volume), and the watcher saw Envoy accept it.
    // The demo prints its kubelet line once the swap is done, which under load can come after the
    // watcher's lines about it: wait for it rather than expect an order.
    const volumeUpdates = (): number => output.filter((line) => /^\[kubelet\] ConfigMap volume updated: \.\.data -> \.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+/.test(line)).length;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && volumeUpdates() < 2; ) await sleep(100);
    assert.ok(volumeUpdates() >= 2, output.join('\n'));
    const readyAt = output.findIndex((line) => line.startsWith('envoy-xds-injector demo is ready'));
    const accepted = (): boolean => output.slice(readyAt).some((line) => /^\[watch\] Envoy accepted lds\.yaml version \S+ in [\d.]+ ms/.test(line));
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && !accepted(); ) await sleep(100);
    assert.ok(accepted(), output.join('\n'));

    child.kill('SIGINT');
    assert.equal(await exited, 0, output.join('\n'));
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${String(pid)} still runs after the demo stopped`);
    assert.deepEqual(processesMentioning(work), []);
    assert.equal(existsSync(work), false, `${work} is left behind`);
    assert.equal(existsSync(editDir), false, `${editDir} is left behind`);
    assert.match(output.join('\n'), /\[demo\] stopped watch \(pid \d+\), envoy \(pid \d+\)/);
  } finally {
    await reap(child, exited, output);
    const work = /removes (\/\S*envoy-xds-demo-\w+)/.exec(output.join('\n'))?.[1];
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    await rm(parent, { recursive: true, force: true });
  }
});

test('npm run demo -- --tour: says it stops by itself (not "Ctrl-C stops"), steps v2, v3 refused, v4, then stops and removes what it made', { timeout: 240_000 }, async () => {
  const { parent, editDir, child, output, exited } = await startDemo('demo-tour-test-', ['--tour']);
  try {
    const code = await Promise.race([exited, sleep(200_000).then(() => 'timeout')]);
    const text = output.join('\n');
    assert.equal(code, 0, text);
    assert.doesNotMatch(text, /Ctrl-C stops Envoy/, 'the tour stops by itself');
    assert.match(text, /^envoy-xds-injector demo tour: Envoy serves http:\/\/127\.0\.0\.1:\d+\/ .*body v1$/m);
    assert.match(text, /then it stops Envoy and the watcher and removes \/\S*envoy-xds-demo-\w+ and \S+ by itself \(Ctrl-C stops it sooner\)$/m);
    const steps = output.filter((l) => /^\[tour\] \d\/3 /.test(l));
    assert.deepEqual(steps.map((l) => /\((v\d)\)/.exec(l)?.[1]), ['v2', 'v3', 'v4'], steps.join('\n'));
    assert.match(text, /\[tour\] done: every step went as expected/);
    const work = /removes (\/\S*envoy-xds-demo-\w+)/.exec(text)?.[1];
    assert.ok(work !== undefined, text);
    assert.equal(existsSync(work), false, `${work} is left behind`);
    assert.equal(existsSync(editDir), false, `${editDir} is left behind`);
  } finally {
    await reap(child, exited, output);
    await rm(parent, { recursive: true, force: true });
  }
});
