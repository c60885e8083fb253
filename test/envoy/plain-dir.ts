// A plain directory as `watch --from` (local development, a volume someone fills by `mv`, not a
// kubelet ConfigMap volume): each key is a regular file renamed onto its name, one inotify event
// each, so two edits renamed a few ms apart are two passes of the watcher, not one `..data` swap.
// `copy`, a real Envoy 1.40 on the published bootstrap (path_config_source) and `watch`, as in
// verdict-cases.ts, with the files of one test/fixtures/verdict-cases/ folder.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { stampVersion } from '../../src/sync/envoy/version-stamp.js';
import { CliProcess, makeTempDirs, runCli, waitFor } from '../sync/harness.js';
import { freePorts, startEnvoy } from './envoy.js';
import type { EnvoyProcess } from './envoy.js';
import { CASES_DIR, READY } from './verdict-cases.js';

export interface PlainDirPod {
  readonly source: string;
  readonly target: string;
  readonly ports: { P0: number; P1: number; P2: number; ADMIN: number };
  readonly envoy: EnvoyProcess;
  readonly watcher: CliProcess;
  /** Fixture text of the folder with the placeholders replaced. */
  fixture(name: string): Promise<string>;
  /** `mv` of the fixture `name` onto SRC/`key` (written next to the source, on the same filesystem). */
  move(key: string, name: string): Promise<void>;
  /** The version_info the watcher stamps on fixture `name` published as `key` (envoy/version-stamp.ts). */
  stamped(key: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A TCP relay to Envoy's admin API that holds each chunk of Envoy's answers `delayMs` (in order):
 * Envoy answering later than the pass's staging, as on a loaded node, so that a pass renames before
 * its baseline is in (verdict/baseline.ts) every time instead of now and then. Envoy is real.
 */
async function slowRelay(port: number, delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const envoy = connect(port, '127.0.0.1');
    sockets.add(client).add(envoy);
    let due = 0;
    envoy.on('data', (chunk: Buffer) => {
      due = Math.max(Date.now() + delayMs, due);
      setTimeout(() => { if (!client.destroyed) client.write(chunk); }, due - Date.now());
    });
    client.on('data', (chunk: Buffer) => { envoy.write(chunk); });
    const end = (): void => { client.destroy(); envoy.destroy(); };
    client.on('close', end).on('error', end);
    envoy.on('close', () => setTimeout(() => client.destroy(), delayMs + 5)).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => { resolve(); });
    }),
  };
}

/**
 * SRC filled with `files` (key → fixture of `folder`), `copy`, Envoy on the published envoy.yaml,
 * `watch` (ready). `adminDelayMs`: the watcher reads Envoy's admin API through slowRelay.
 */
export async function startPlainDir(folder: string, files: Record<string, string>, options: { adminDelayMs?: number } = {}): Promise<PlainDirPod> {
  const dirs = await makeTempDirs('envoy-plain-dir-');
  const [P0, P1, P2, ADMIN] = (await freePorts(4)) as [number, number, number, number];
  const stage = join(dirs.root, 'stage');
  await mkdir(stage);
  const substitute = (text: string): string =>
    text.replaceAll('@DST@', dirs.target).replaceAll('@P0@', String(P0)).replaceAll('@P1@', String(P1)).replaceAll('@P2@', String(P2)).replaceAll('@ADMIN@', String(ADMIN));
  const fixture = async (name: string): Promise<string> => substitute(await readFile(join(CASES_DIR, folder, name), 'utf8'));
  let moves = 0;
  const move = async (key: string, name: string): Promise<void> => {
    const tmp = join(stage, `${key}.${String(moves++)}`);
    await writeFile(tmp, await fixture(name));
    await rename(tmp, join(dirs.source, key));
  };
  for (const [key, name] of Object.entries(files)) await move(key, name);
  const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml']);
  assert.equal(copy.code, 0, copy.stdout);
  const envoyDir = join(dirs.root, 'envoy');
  await mkdir(envoyDir);
  const envoy = await startEnvoy({ bootstrap: { path: join(dirs.target, 'envoy.yaml') }, workDir: envoyDir }, 60_000);
  // A loaded 2-core machine: Envoy may take seconds to apply an update; `unknown` must mean it did not answer.
  const relay = options.adminDelayMs === undefined ? undefined : await slowRelay(ADMIN, options.adminDelayMs);
  const admin = relay === undefined ? [] : ['--admin', `127.0.0.1:${String(relay.port)}`];
  const watcher = new CliProcess(['watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY), '--bootstrap', 'envoy.yaml', '--verdict-timeout', '30s', ...admin]);
  const stop = async (): Promise<void> => {
    await watcher.stop();
    await relay?.close();
    await envoy.stop();
    await rm(dirs.root, { recursive: true, force: true });
  };
  try {
    await waitFor(() => existsSync(join(dirs.target, READY)), `ready file\n${watcher.stdout.slice(-4000)}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    source: dirs.source,
    target: dirs.target,
    ports: { P0, P1, P2, ADMIN },
    envoy,
    watcher,
    fixture,
    move,
    async stamped(key, name) {
      const source = Buffer.from(await fixture(name));
      const { version } = stampVersion(key, source, createHash('sha256').update(source).digest('hex'));
      assert.ok(version !== undefined, `${name} gets a version`);
      return version;
    },
    stop,
  };
}
