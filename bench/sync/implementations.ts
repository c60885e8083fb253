// The ways of getting a ConfigMap into Envoy that bench:sync compares, each started as its sidecar
// (or Envoy's own option) would run in a Pod.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../test/sync/harness.js';
import { WATCHER_TRACE_PRELOAD, readTrace, type WatcherTrace } from './trace.js';

/** What the injected watcher container should run with (see docs/sync.md, "Memory"). */
export const WATCHER_ENV: Record<string, string> = {
  NODE_OPTIONS: process.env.WATCHER_NODE_OPTIONS ?? '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1',
  // glibc: one malloc arena, and give freed memory back to the kernel instead of keeping it.
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_TOP_PAD_: '0',
};

/** The peer script, kept verbatim in the repository. */
const INOTIFY_SH = join(repoRoot, 'bench', 'peers', 'inotify.sh');

export interface Running {
  pid: number;
  stop: () => Promise<void>;
  /** Lines the process wrote on stdout, with performance.now() at arrival (the watcher's log). */
  lines?: { at: number; line: string }[];
  /** What the process did so far: collections, verdict lines, notices, renames (trace.ts). */
  trace?: () => WatcherTrace;
}

export interface Implementation {
  name: string;
  /** Where Envoy reads cds.yaml/lds.yaml: the emptyDir the sidecar publishes into, or the ConfigMap mount. */
  envoyReads: 'target' | 'source';
  /** The init container's job, before Envoy starts (default: copy the files as they are). */
  init?: (source: string, target: string) => void;
  /** `admin`: the running Envoy's admin address (HOST:PORT), for the watcher's verdict. */
  start: (source: string, target: string, work: string, admin: string) => Promise<Running | undefined>;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  process.kill(-child.pid, 'SIGTERM'); // the process group we created: the script is sh + inotifywait
  return exited;
}

/** Polls `condition` every `everyMs` until it holds (true) or `timeoutMs` passed (false). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

export function watcherImplementation(main: string, name = 'watch'): Implementation {
  return {
    name,
    envoyReads: 'target',
    // Its own init container, `copy`: what it publishes carries the versions the watcher stamps, so
    // the watcher's first pass has nothing to republish (a plain copy would cost Envoy one update).
    init(source, target) {
      execFileSync(process.execPath, [main, 'copy', '--from', source, '--to', target, '--bootstrap', 'envoy.yaml'], { stdio: 'pipe', env: { ...process.env, ...WATCHER_ENV } });
    },
    async start(source, target, work, admin) {
      const ready = join(target, '..envoy-xds-watch.ready');
      // Outside both directories: nothing Envoy or the watcher watches.
      const traceLog = join(work, 'trace.log');
      // The bootstrap in the ConfigMap says admin port 0 (Envoy picks one): tell the watcher which.
      // BENCH_NODE_ARGS: extra node flags for the watcher while investigating (--cpu-prof --cpu-prof-dir=DIR).
      const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter((arg) => arg !== '') ?? [];
      const child = spawn(process.execPath, [...nodeArgs, '--import', WATCHER_TRACE_PRELOAD, main, 'watch', '--from', source, '--to', target, '--ready-file', ready, '--bootstrap', 'envoy.yaml', '--admin', admin], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
        env: { ...process.env, ...WATCHER_ENV, LOG_LEVEL: process.env.BENCH_DUMP ? 'debug' : 'info', BENCH_GC_LOG: traceLog },
      });
      const lines: { at: number; line: string }[] = [];
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        lines.push({ at: performance.now(), line });
        if (process.env.BENCH_DUMP) process.stderr.write(`watch: ${line}\n`);
      });
      if (!(await waitUntil(() => existsSync(ready), 30_000))) throw new Error('watcher never became ready');
      return { pid: child.pid ?? -1, stop: () => stopGroup(child), lines, trace: () => readTrace(traceLog) };
    },
  };
}

/** bench/peers/inotify.sh, verbatim except its hard-coded writable directory /tmp. */
export function inotifyScriptImplementation(): Implementation {
  const script = readFileSync(INOTIFY_SH, 'utf8');
  return {
    name: 'inotify.sh',
    envoyReads: 'target',
    async start(source, target, work) {
      const path = join(work, 'inotify.sh');
      await writeFile(path, script.replaceAll('/tmp/', `${target}/`));
      // As its sidecar runs it: `sh /tmp/inotify.sh /configs`.
      const child = spawn('sh', [path, source], { stdio: 'ignore', detached: true });
      await sleep(1000); // inotifywait -q prints nothing when its watches are up
      return { pid: child.pid ?? -1, stop: () => stopGroup(child) };
    },
  };
}

/**
 * Envoy's own `watched_directory` (PathConfigSource): Envoy reads cds.yaml/lds.yaml through the
 * ConfigMap mount's symlinks and reloads both on any rename into the mount (kubelet's `..data`).
 */
export function watchedDirectoryImplementation(): Implementation {
  return { name: 'envoy watched_directory', envoyReads: 'source', start: () => Promise.resolve(undefined) };
}

