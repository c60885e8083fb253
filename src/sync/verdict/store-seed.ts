// `copy --accepted`: what it started from the last-accepted store (last-accepted/substitutions.ts),
// written into the verdict state the watcher starts from (state.ts), so the watcher rolls back to
// the accepted copy and holds the refused content (holds.ts, `fromStore`) until this Envoy runs the
// accepted version.
import { mkdir } from 'node:fs/promises';
import type { Mark } from '../last-accepted/record.js';
import type { Substitution } from '../last-accepted/substitutions.js';
import { KeptVersions } from './kept.js';
import { readState, stateDir, writeState } from './state.js';
import type { VerdictState } from './state.js';

/**
 * After `copy` published the substitutions: records them in the verdict state the watcher starts
 * from (state.ts): the accepted copy to roll back to, and the refused content marked
 * `fromStore` so the watcher holds it back until this Envoy runs the accepted version, then lets
 * this Envoy judge it once.
 */
export async function recordSubstitutions(targetDir: string, sourceDir: string, subs: readonly Substitution[]): Promise<void> {
  if (subs.length === 0) return;
  await mkdir(stateDir(targetDir), { recursive: true });
  const state: VerdictState = (await readState(targetDir).catch(() => undefined)) ?? {
    pid: process.pid,
    sourceDir,
    targetDir,
    updatedAt: new Date().toISOString(),
    files: {},
  };
  const kept = new KeptVersions(targetDir); // `copy` runs once: this run's state file operations
  const version = (mark: Mark): { version?: string } => (mark.version === undefined ? {} : { version: mark.version });
  for (const sub of subs) {
    await kept.keepCopy('accepted', sub.name, undefined);
    state.files[sub.name] = {
      ...state.files[sub.name],
      published: { ...version(sub.accepted), sha256: sub.accepted.sha256, at: new Date().toISOString() },
      accepted: { ...version(sub.accepted), at: sub.accepted.at },
      refused: { ...version(sub.refused), sha256: sub.refused.sha256, at: sub.refused.at, fromStore: sub.refused.pod ?? 'another Pod' },
    };
  }
  state.updatedAt = new Date().toISOString();
  await writeState(targetDir, state, kept.fs);
}
