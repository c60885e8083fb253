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
export async function withdraw(ctx: WithdrawContext, pending: Pending, gone: { by: ClustersGone; clusters: string[] }, entry: FileState, shown: string, last: string | undefined, at: string): Promise<{ rolledBack: boolean; message: string }> {
  const accepted = await acceptedCopy(ctx.targetDir, pending.file);
  const dependsOn = gone.by.dependsOn === undefined ? undefined : [gone.by.file, ...gone.by.dependsOn.filter((key) => key !== pending.file)];
  entry.refused = { ...(pending.version === undefined ? {} : { version: pending.version }), sha256: pending.sha256, at, ...(dependsOn === undefined ? {} : { dependsOn }), withRefused: gone.by.file };
  let rolledBack = false;
  if (accepted !== undefined) {
    // Held before the rename, as a refusal is (conclude.ts): a pass queued behind it must find the hold.
    ctx.holds.hold(pending.file, pending.sha256, false, pending.names, pending.configMap, dependsOn);
    rolledBack = await putBack(ctx.restore, ctx.logger, pending.file, accepted, pending);
  }
  return { rolledBack, message: withdrawnMessage(pending.file, shown, last, gone, rolledBack) };
}
