// A Conclusions (src/sync/verdict/conclude.ts) on a real target directory, for tests that give
// Envoy's answer as the counters it reports: the files, the rollback's rename, the kept versions
// and the state are real. Shared by rollback-target.test.ts and kept-versions.test.ts.
import { rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EnvoyCounters } from '../../src/sync/envoy/stat-prefixes.js';
import { Conclusions } from '../../src/sync/verdict/conclude.js';
import { Holds } from '../../src/sync/verdict/holds.js';
import { KeptVersions } from '../../src/sync/verdict/kept.js';
import { newPending } from '../../src/sync/verdict/pending.js';
import type { Pending } from '../../src/sync/verdict/pending.js';
import { ReasonReader } from '../../src/sync/verdict/reason.js';
import { StateWriter } from '../../src/sync/verdict/state.js';
import type { VerdictState } from '../../src/sync/verdict/state.js';

export const LDS = 'listener_manager.lds';

/** Envoy's counters with lds reporting `version` (and `rejected` refusals so far). */
export const envoyReporting = (version: string, rejected: number): EnvoyCounters => ({
  subscriptions: new Map([[LDS, { versionText: version, attempt: 10, success: 9 - rejected, rejected, failure: 0 }]]),
  unknownFields: 0,
  sslContextUpdates: 0,
});

let renames = 0;
/** Publishes `content` as `name` in `target` the way `watch` does (temp + rename); the new inode. */
export async function publishFile(target: string, name: string, content: string | Buffer): Promise<number> {
  const temp = join(target, `..${name}.tmp-${String(renames++)}`);
  await writeFile(temp, content);
  await rename(temp, join(target, name));
  return (await stat(join(target, name))).ino;
}

export interface ConclusionsAt {
  conclusions: Conclusions;
  /** Publishes lds.yaml with `version_info: "<version>"`: its Pending (sha256 = version; `at`: its rename time, default 0). */
  publish: (version: string, at?: number) => Promise<Pending>;
  state: VerdictState;
  holds: Holds;
  /** For each rollback's rename: whether the file was held by then. */
  heldAtRestore: boolean[];
  /** The kept versions the conclusions write (kept.ts). */
  kept: KeptVersions;
}

/** Conclusions writing into `target` (its state in `target`/..envoy-xds-verdict); `writers` collects the StateWriter to flush after the tests. */
export function conclusionsAt(target: string, sourceDir: string, writers: StateWriter[]): ConclusionsAt {
  const logger = pino({ level: 'silent' });
  const state: VerdictState = { pid: process.pid, sourceDir, targetDir: target, updatedAt: '', files: {} };
  const kept = new KeptVersions(target);
  const stateFile = new StateWriter(kept, () => state, () => undefined);
  writers.push(stateFile);
  const holds = new Holds();
  const heldAtRestore: boolean[] = [];
  const conclusions = new Conclusions({
    options: {
      sourceDir,
      targetDir: target,
      restore: (name, content) => {
        heldAtRestore.push(holds.has(name));
        return publishFile(target, name, content);
      },
    },
    logger,
    holds,
    state,
    stateFile,
    reasons: new ReasonReader(logger),
    listeners: [],
    admin: () => undefined,
    pathOf: (name) => join(target, name),
    kept,
    routeFiles: () => [],
  });
  const publish = async (version: string, at = 0): Promise<Pending> => {
    const content = Buffer.from(`version_info: "${version}"\nresources: []\n`);
    const ino = await publishFile(target, 'lds.yaml', content);
    return newPending({ name: 'lds.yaml', content, version, sha256: version, ino, at }, { previousVersion: state.files['lds.yaml']?.accepted?.version, baseline: undefined, names: [], deadline: 0, initial: false, inFlight: new Set(), retried: false });
  };
  return { conclusions, publish, state, holds, heldAtRestore, kept };
}
