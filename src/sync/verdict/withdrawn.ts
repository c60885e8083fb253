// Carrying out the withdrawal of a file Envoy took but that goes back with a refused CDS file of its
// change (clusters-gone.ts decides; conclude.ts calls this): the last accepted version put back and
// the ConfigMap's content held until a key the CDS refusal depends on changes, or Envoy accepts that
// CDS file. IO: the accepted copy, the rename.
import type { Logger } from 'pino';
import type { Replaces } from '../publish/syncer.js';
import { withdrawnMessage, type ClustersGone } from './clusters-gone.js';
import type { Holds } from './holds.js';
import type { Pending } from './pending.js';
import { putBack } from './put-back.js';
import { acceptedCopy } from './state.js';
import type { FileState } from './state.js';

export interface WithdrawContext {
  targetDir: string;
  restore: (name: string, content: Buffer, replaces: Replaces) => Promise<number | undefined>;
  logger: Logger;
  holds: Holds;
}

/**
 * Puts the last accepted version of `pending.file` back and holds the ConfigMap's content; records
 * the refusal in `entry` (at: ISO time). Returns whether it was put back and the line's message
 * (`shown`: the version as lines show it; `last`: the last accepted version).
 */
export async function withdraw(ctx: WithdrawContext, pending: Pending, gone: { by: ClustersGone; clusters: string[]; unchecked?: true }, entry: FileState, shown: string, last: string | undefined, at: string): Promise<{ rolledBack: boolean; message: string }> {
  const accepted = await acceptedCopy(ctx.targetDir, pending.file);
  const { dependsOn, refusedWith } = withdrawnHold(pending, gone.by);
  entry.refused = { ...(pending.version === undefined ? {} : { version: pending.version }), sha256: pending.sha256, at, ...(dependsOn === undefined ? {} : { dependsOn }), withRefused: gone.by.file };
  let rolledBack = false;
  if (accepted !== undefined) {
    // Held before the rename, as a refusal is (conclude.ts): a pass queued behind it must find the hold.
    ctx.holds.hold(pending.file, pending.sha256, false, pending.names, refusedWith, dependsOn);
    rolledBack = await putBack(ctx.restore, ctx.logger, pending.file, accepted, pending);
  }
  // The keys whose change ends the hold, as it counts them (holds.ts: not the bootstrap).
  const keys = dependsOn?.filter((key) => ctx.holds.reloads(key));
  return { rolledBack, message: withdrawnMessage(pending.file, shown, last, gone, rolledBack, keys) };
}

/**
 * The hold of a file that goes back with the refused CDS file `by`: held until a key that refusal
 * depends on (`dependsOn`: `by`'s file and its keys, undefined: any) changes from the ConfigMap
 * Envoy refused it with (`refusedWith`: `by`'s, as a refusal is held, conclude.ts; else the file's
 * own pass's). The file's own pass may hold another cds.yaml than the one Envoy refused: compared
 * with it, a ConfigMap going back to that pass's never released the hold.
 */
export function withdrawnHold(pending: Pick<Pending, 'file' | 'configMap'>, by: ClustersGone): { dependsOn: string[] | undefined; refusedWith: ReadonlyMap<string, string> | undefined } {
  const dependsOn = by.dependsOn === undefined ? undefined : [by.file, ...by.dependsOn.filter((key) => key !== pending.file)];
  return { dependsOn, refusedWith: by.refusedWith ?? pending.configMap };
}
