// The ConfigMap checker the webhook holds: a worker thread (worker.ts) that loads the schema off the
// event loop. `serve` starts it once it is listening and ready (preload), so the first review after
// a start does not wait for the load; otherwise the first check starts it. If the worker dies, the
// pending checks fail (the webhook then allows with a warning) and the next check starts a new one.
import { Worker } from 'node:worker_threads';
import type { FileCheck } from './check.js';
import type { ConfigMapCheckOptions, ConfigMapLike } from './configmap.js';

export interface ConfigMapChecker {
  /** checkConfigMap (configmap.ts) in the worker. */
  check(configMap: ConfigMapLike, options?: ConfigMapCheckOptions): Promise<FileCheck[]>;
  /**
   * Starts the worker now (if not running) and resolves with the schema's load time in
   * milliseconds (as the worker measured it) once it is loaded; rejects if the worker fails first.
   */
  preload(): Promise<number>;
  /** Whether the schema worker has been started (for readiness logs and tests). */
  readonly started: boolean;
  close(): Promise<void>;
}

// Run from dist/ (the image, npm start), or from src/ under tsx (tests, npm run dev): then the worker
// needs tsx's loader too.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);
// tsx (a dev dependency) is loaded only when running from src/; dist/ never imports it.
const TSX_LOADER = 'tsx/esm/api';

// The worker's heap is capped. Measured with 1 MiB ConfigMaps checked back to back (npm run
// bench:validate): uncapped, V8 lets the worker's heap grow until the process peaks at ~235 MiB;
// capped so, it peaks at ~160 MiB, the check taking somewhat longer
// (more collections). Its young generation is 16 MiB: at 8 MiB the 1 MiB check spent ~20 % more CPU
// in scavenges (CPU per check, semi-space 2 vs 5 MiB: ~150 vs ~125 ms), for ~5 MiB more RSS at the
// peak; beyond 16 MiB it gained nothing measurable. A ConfigMap that needs more (aliases expanding into millions of values) ends
// the worker, not the container: its review is allowed with a warning that the check did not run,
// and the next review starts a new worker. /mutate is served by the main thread throughout.
export const WORKER_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 } as const;

function deferred(): { promise: Promise<number>; resolve: (ms: number) => void; reject: (err: Error) => void } {
  let resolve: (ms: number) => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // nobody may be waiting (no preload): not an unhandled rejection
  return { promise, resolve, reject };
}

export function createConfigMapChecker(): ConfigMapChecker {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (checks: FileCheck[]) => void; reject: (err: Error) => void }>();
  // The current worker's schema load: resolved with its duration (ms) by the worker's first message.
  let loaded: { promise: Promise<number>; resolve: (ms: number) => void; reject: (err: Error) => void } | undefined;
  const failAll = (err: Error): void => {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
    loaded?.reject(err);
    loaded = undefined;
    worker = undefined;
  };
  const start = (): Worker => {
    const started = FROM_SOURCE
      ? // Resolved here: an eval'd worker resolves bare names from the working directory, which may be outside the repository.
        new Worker(`import(${JSON.stringify(import.meta.resolve(TSX_LOADER))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`, { eval: true, resourceLimits: WORKER_LIMITS })
      : new Worker(WORKER, { resourceLimits: WORKER_LIMITS });
    started.unref(); // kept alive only while a check waits for it (see `hold`)
    const load = deferred();
    loaded = load;
    started.on('message', (message: { id: number; checks?: FileCheck[]; error?: string; ready?: number }) => {
      if (message.ready !== undefined) {
        load.resolve(message.ready);
        return;
      }
      const entry = pending.get(message.id);
      if (!entry) return;
      pending.delete(message.id);
      if (pending.size === 0) started.unref();
      if (message.checks) entry.resolve(message.checks);
      else entry.reject(new Error(message.error ?? 'schema worker failed'));
    });
    started.on('error', failAll);
    started.on('exit', (code) => {
      if (worker === started) failAll(new Error(`schema worker exited (code ${code})`));
    });
    return started;
  };
  return {
    get started() {
      return worker !== undefined;
    },
    preload() {
      const target = (worker ??= start());
      if (!loaded) return Promise.reject(new Error('schema worker not running'));
      target.ref(); // held open until loaded, as a pending check is
      const release = (): void => {
        if (pending.size === 0) target.unref();
      };
      loaded.promise.then(release, release);
      return loaded.promise;
    },
    check(configMap, options = {}) {
      worker ??= start();
      const id = nextId++;
      const target = worker;
      return new Promise<FileCheck[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        target.ref(); // a caller awaiting a check keeps the process alive until its answer (or the worker's end)
        target.postMessage({ id, configMap, options });
      });
    },
    async close() {
      const current = worker;
      worker = undefined;
      loaded?.reject(new Error('schema worker closed'));
      loaded = undefined;
      if (current) await current.terminate();
    },
  };
}
