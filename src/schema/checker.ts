// The ConfigMap checker the webhook holds: a worker thread (worker.ts) started on the first check,
// so a server that never sees an opted-in ConfigMap never loads the schema. If the worker dies, the
// pending checks fail (the webhook then allows with a warning) and the next check starts a new one.
import { Worker } from 'node:worker_threads';
import type { FileCheck } from './check.js';
import type { ConfigMapLike } from './configmap.js';

export interface ConfigMapChecker {
  check(configMap: ConfigMapLike): Promise<FileCheck[]>;
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

export function createConfigMapChecker(): ConfigMapChecker {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (checks: FileCheck[]) => void; reject: (err: Error) => void }>();
  const failAll = (err: Error): void => {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
    worker = undefined;
  };
  const start = (): Worker => {
    const started = FROM_SOURCE
      ? new Worker(`import(${JSON.stringify(TSX_LOADER)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`, { eval: true })
      : new Worker(WORKER);
    started.unref(); // never keeps the process alive on its own
    started.on('message', (message: { id: number; checks?: FileCheck[]; error?: string }) => {
      const entry = pending.get(message.id);
      if (!entry) return;
      pending.delete(message.id);
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
    check(configMap) {
      worker ??= start();
      const id = nextId++;
      const target = worker;
      return new Promise<FileCheck[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        target.postMessage({ id, configMap });
      });
    },
    async close() {
      const current = worker;
      worker = undefined;
      if (current) await current.terminate();
    },
  };
}
