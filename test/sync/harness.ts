// Test and benchmark harness for copy/watch: kubelet's AtomicWriter, an Envoy stand-in, and the
// CLI as a real process. Real files, real inotify, no mocks.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { publishable } from '../../src/sync/envoy/version-stamp.js';

export const repoRoot = new URL('../../', import.meta.url).pathname;
export const cliMain = join(repoRoot, 'src/cli/main.ts');

/**
 * kubelet's AtomicWriter.Write (pkg/volume/util/atomic_writer.go), step by step:
 *  2. read the current `..data` target; 3. keys of the old version missing from the payload are
 *  to be removed; 4. nothing to do if identical; 5. new `..<UTC timestamp>.<random>` dir, 0755;
 *  6. write the payload into it; 8. symlink `..data_tmp` -> new dir; 9. rename it over `..data`
 *  (the one atomic step); 10. create `key -> ..data/key` symlinks for new keys only;
 *  11. remove symlinks of deleted keys; 12. remove the old timestamped dir.
 */
export class AtomicWriter {
  constructor(readonly dir: string) {}

  /** Returns performance.now() taken just before the `..data` rename, or undefined if nothing changed. */
  async write(payload: Record<string, string | Buffer>): Promise<number | undefined> {
    const dataPath = join(this.dir, '..data');
    const oldTsDir = await readlink(dataPath).catch(() => '');
    const keys = Object.keys(payload);
    let toRemove: string[] = [];
    if (oldTsDir !== '') {
      const oldKeys = await readdir(join(this.dir, oldTsDir));
      toRemove = oldKeys.filter((key) => !(key in payload));
      let same = toRemove.length === 0;
      for (const key of keys) {
        if (!same) break;
        const old = await readFile(join(this.dir, oldTsDir, key)).catch(() => undefined);
        same = old?.equals(Buffer.from(payload[key] ?? '')) ?? false;
      }
      if (same) return undefined;
    }
    const stamp = new Date().toISOString().replace(/[-T:]/g, '_').slice(0, 19);
    const tsDir = await mkdtemp(join(this.dir, `..${stamp}.`));
    await chmod(tsDir, 0o755);
    const tsDirName = tsDir.slice(this.dir.length + 1);
    for (const key of keys) {
      await writeFile(join(tsDir, key), payload[key] ?? '', { mode: 0o644 });
      await chmod(join(tsDir, key), 0o644);
    }
    await symlink(tsDirName, join(this.dir, '..data_tmp'));
    // Taken before the call: the promise may resolve after a watcher already reacted.
    const renamedAt = performance.now();
    await rename(join(this.dir, '..data_tmp'), dataPath);
    for (const key of keys) {
      const exists = await readlink(join(this.dir, key)).then(
        () => true,
        () => false,
      );
      if (!exists) await symlink(join('..data', key), join(this.dir, key));
    }
    for (const key of toRemove) await rm(join(this.dir, key), { force: true });
    if (oldTsDir !== '') await rm(join(this.dir, oldTsDir), { recursive: true, force: true });
    return renamedAt;
  }
}

export interface Reload {
  file: string;
  /** performance.now() when the IN_MOVED_TO line arrived. */
  at: number;
  /** What Envoy would have read at that moment; undefined if the file was missing. */
  content: Buffer | undefined;
}

/**
 * Envoy's path_config_source, reduced to what matters: it reacts only to IN_MOVED_TO of the watched
 * file names (inotifywait from inotify-tools) and reads the file at that moment.
 */
export class EnvoyStandIn {
  readonly reloads: Reload[] = [];
  private constructor(private readonly child: ChildProcess) {}

  /**
   * `watchedDirectory: true` mirrors a `path_config_source` with `watched_directory` on `dir`: any
   * rename into `dir` (kubelet's `..data`) makes Envoy read every one of `files`.
   */
  static async start(dir: string, files: readonly string[], options: { watchedDirectory?: boolean } = {}): Promise<EnvoyStandIn> {
    const child = spawn('inotifywait', ['-m', '-e', 'moved_to', '--format', '%f', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const standIn = new EnvoyStandIn(child);
    const watched = new Set(files);
    const read = (file: string, at: number): void => {
      let content: Buffer | undefined;
      try {
        content = readFileSync(join(dir, file));
      } catch {
        content = undefined;
      }
      standIn.reloads.push({ file, at, content });
    };
    createInterface({ input: child.stdout }).on('line', (name) => {
      const at = performance.now();
      if (options.watchedDirectory === true) for (const file of files) read(file, at);
      else if (watched.has(name)) read(name, at);
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.once('error', reject);
      child.once('exit', (code) => {
        reject(new Error(`inotifywait exited (${code}): ${stderr}`));
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('Watches established')) resolve();
      });
    });
    return standIn;
  }

  reloadsOf(file: string): Reload[] {
    return this.reloads.filter((reload) => reload.file === file);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** The CLI as a real process (`node --import tsx src/cli/main.ts ...`), its pino lines parsed. */
export class CliProcess {
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly args: string[],
    options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; entry?: string[] } = {},
  ) {
    const child = spawn(process.execPath, [...(options.entry ?? ['--import', 'tsx', cliMain]), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'debug', ...options.env },
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { resolve({ code, signal }); }));
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.stdout += `${line}\n`;
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
      this.notify();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  private readonly child: ChildProcess;

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('process did not start');
    return this.child.pid;
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves with the first log line matching; rejects after timeoutMs or if the process exits. */
  async waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
    const found = this.logs.find(match);
    if (found) return found;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
      };
      const check = (): void => {
        const line = this.logs.find(match);
        if (line) {
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for log: ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, timeoutMs);
      this.waiters.push(check);
      void this.exited.then(() => {
        setTimeout(() => {
          if (!this.logs.some(match)) {
            done();
            reject(new Error(`process exited before log: ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
          }
        }, 50);
      });
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}) {
  const cli = new CliProcess(args, options);
  const { code } = await cli.exited;
  await new Promise((resolve) => setImmediate(resolve)); // let the last lines through readline
  return { code, logs: cli.logs, stdout: cli.stdout, stderr: cli.stderr };
}

/** Polls until `condition` holds; generous timeouts, because CI is a loaded 2-core machine. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function makeTempDirs(prefix = 'envoy-xds-sync-'): Promise<{ root: string; source: string; target: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const source = join(root, 'source');
  const target = join(root, 'target');
  await mkdir(source);
  await mkdir(target);
  return { root, source, target };
}

// Versioned xDS files. Each carries its version in the first line, in `version_info` (what Envoy
// reports as `*.version_text`) and an end marker, and the test keeps the sha256 of every version
// written, so a torn read (any prefix, any mix) is recognisable. Real Envoy loads them: clusters are
// STATIC on 127.0.0.1 (no DNS), listeners do not bind (`bind_to_port: false`), and names do not
// change between versions, so Envoy applies a new version as a small diff. With `probePort`, an LDS
// file starts with a listener bound there that answers `lds v<version>` (ldsProbeBody).
const CLUSTER = (index: number): string =>
  `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: cluster_${index}
  connect_timeout: 1s
  type: STATIC
  load_assignment:
    cluster_name: cluster_${index}
    endpoints:
    - lb_endpoints:
      - endpoint:
          address:
            socket_address: { address: 127.0.0.1, port_value: ${20000 + index} }
`;
const LISTENER = (index: number): string =>
  `- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_${index}
  address:
    socket_address: { address: 127.0.0.1, port_value: ${10000 + index} }
  bind_to_port: false
  filter_chains:
  - filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: tcp_${index}
        cluster: cluster_${index}
`;
const PROBE = (version: number, port: number): string =>
  `- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: probe
  address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: probe
        http_filters:
        - name: envoy.filters.http.router
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: { prefix: "/" }
              direct_response: { status: 200, body: { inline_string: "${ldsProbeBody(version)}" } }
`;

/** What the probe listener of `xdsFile('lds', version, _, { probePort })` answers. */
export const ldsProbeBody = (version: number): string => `lds v${version}`;

export function xdsFile(kind: 'cds' | 'lds', version: number, approxBytes: number, options: { probePort?: number } = {}): string {
  const item = kind === 'cds' ? CLUSTER : LISTENER;
  const parts = [`# version: ${version}\nversion_info: "${version}"\nresources:\n`];
  if (kind === 'lds' && options.probePort !== undefined) parts.push(PROBE(version, options.probePort));
  let size = parts.reduce((sum, part) => sum + part.length, 0);
  for (let index = 0; size < approxBytes; index++) {
    const part = item(index);
    parts.push(part);
    size += part.length;
  }
  parts.push(`# end of version ${version}\n`);
  return parts.join('');
}

export const BOOTSTRAP = `node: { id: test, cluster: test }
dynamic_resources:
  cds_config: { path_config_source: { path: /etc/envoy/cds.yaml } }
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
`;
// Port 0: no fixed admin port, so the watcher's verdicts are 'unknown' against the stand-in, and it
// never asks an unrelated Envoy that happens to listen on 9901 on this machine.

export function versionOf(content: Buffer | undefined): number | undefined {
  if (content === undefined) return undefined;
  const match = /^# version: (\d+)\n/.exec(content.subarray(0, 64).toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

/**
 * What copy/watch publish for `text` as ConfigMap key `name`: the text with its version_info set to
 * the version of this content (src/sync/envoy/version-stamp.ts), which is what Envoy reads.
 */
export function publishedText(name: string, text: string): string {
  return publishable(name, Buffer.from(text)).content.toString('utf8');
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Anonymous resident memory of a process, from /proc/PID/status (RssAnon), in KiB. */
export function rssAnonKiB(pid: number): number | undefined {
  try {
    const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface ReloadStats {
  reloads: number;
  /** Reads that were not a complete version: missing file, truncated or mixed content. */
  torn: number;
  /** Reloads that brought Envoy nothing new: a version older than or equal to one it already had. */
  stale: number;
  /** The worst kind of stale: a version older than one Envoy already had (config going back in time). */
  backwards: number;
  /** Versions delivered, in reload order (undefined for torn reads). */
  delivered: (number | undefined)[];
}

/** `known` maps the sha256 of every content ever written for this file to its version. */
export function analyzeReloads(reloads: readonly Reload[], known: ReadonlyMap<string, number>): ReloadStats {
  let torn = 0;
  let stale = 0;
  let backwards = 0;
  let newest = -1;
  const delivered: (number | undefined)[] = [];
  for (const reload of reloads) {
    const version = reload.content === undefined ? undefined : known.get(sha256(reload.content));
    delivered.push(version);
    if (version === undefined) {
      torn++;
      continue;
    }
    if (version <= newest) stale++;
    if (version < newest) backwards++;
    newest = Math.max(newest, version);
  }
  return { reloads: reloads.length, torn, stale, backwards, delivered };
}
